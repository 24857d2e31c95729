#!/usr/bin/env bash
# GPU speed, ours against mamba_ssm, in one call on the GPU host (driver, python3 with torch/triton; no Java, no
# internet). Run from the repository root with the GPU bundle (tools/gpu/run-gpu-tests.sh) and mamba_ssm's source
# (tools/bench/README.md says how to fetch it) beside it:
#
#   bash tools/bench/gpu_speed.sh [speed]
#
# speed: ssdspark.model.bench.GpuBenchmark (all workloads), then tools/bench/gpu_mamba_ssm.py on the same workloads,
# then tools/bench/gpu_compare.py. Everything goes under $OUT (default /tmp/ssd-speed), at most 8 files:
#   speed.log            everything printed
#   compare.md           the tables (ours, mamba_ssm, ratio, target; op families; sweep)
#   tok_s_vs_batch.png   tokens/s against batch tokens, both stacks
#   gpu_bench.json, gpu_mamba_ssm.json   every number
#   nvidia-smi.csv       device memory, SM clock and power sampled every 100 ms while each side ran (whole-process
#                        peaks; the clocks say whether the chip slowed down under either side's load)
#   rest.tar.gz          anything else (per-side logs, JVM crash files)
# Environment: BUNDLE (default .gpu-bundle), MAMBA_SRC (default .mamba_src), BENCH_ARGS / MAMBA_ARGS (extra
# arguments, e.g. "--iters 3 --warmup 1"), SSD_COMMIT (the commit to record when no .git is there).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-speed}
BUNDLE=${BUNDLE:-.gpu-bundle}
MAMBA_SRC=${MAMBA_SRC:-.mamba_src}
OUT=${OUT:-/tmp/ssd-speed}
if [[ $mode != speed ]]; then echo "usage: gpu_speed.sh [speed]" >&2; exit 2; fi
if [[ ! -f $BUNDLE/jre.tar.xz ]] || ! ls "$BUNDLE"/lib/ssdspark-model-*.jar >/dev/null 2>&1; then
  echo "gpu_speed.sh: no GPU bundle at $BUNDLE (build it with tools/gpu/run-gpu-tests.sh; set BUNDLE)" >&2; exit 2
fi
if [[ ! -d $MAMBA_SRC/mamba_ssm ]]; then
  echo "gpu_speed.sh: no mamba_ssm source at $MAMBA_SRC (see tools/bench/README.md; set MAMBA_SRC)" >&2; exit 2
fi
mkdir -p "$OUT"
work=$(mktemp -d)
log() { echo "$@" | tee -a "$OUT/speed.log"; }

RT=${SSD_RT:-/tmp/ssd-rt}
if [[ ! -x $RT/jre/bin/java ]]; then mkdir -p "$RT" && tar xJf "$BUNDLE/jre.tar.xz" -C "$RT"; fi
CP=$(ls "$BUNDLE"/lib/*.jar | grep -v -- '-tests\.jar$' | tr '\n' ':')
commit=${SSD_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || cat "$BUNDLE/COMMIT" 2>/dev/null || echo unknown)}
mcommit=$(cat "$MAMBA_SRC/COMMIT" 2>/dev/null || echo unknown)

log "== $(date -u +%FT%TZ) gpu_speed.sh $mode: ssdspark $commit, mamba_ssm source $mcommit"
log "   BENCH_ARGS='${BENCH_ARGS:-}' MAMBA_ARGS='${MAMBA_ARGS:-}'"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee -a "$OUT/speed.log"

# whole-device memory, SM clock and power while one side runs (the other side is not running then)
sample() { # sample LABEL: samples in the background until stop_sample
  (while :; do
    echo "$1,$(date +%s.%N),$(nvidia-smi --query-gpu=memory.used,clocks.sm,power.draw --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')"
    sleep 0.1
  done) >>"$OUT/nvidia-smi.csv" &
  sampler=$!
}
stop_sample() { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; }
peak() { awk -F, -v l="$1" '$1 == l && $3 > m { m = $3 } END { printf "%.2f GiB", m / 1024 }' "$OUT/nvidia-smi.csv"; }
# SM clock over the samples with more than 2 GiB in use (the side's work running): median, lowest; the highest power
clocks() {
  awk -F, -v l="$1" '$1 == l && $3 > 2048 && $4 ~ /^[0-9]+$/ { c[n++] = $4; if ($5 + 0 > p) p = $5 + 0 }
    END { if (!n) { print "no samples"; exit }
          for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (c[j] < c[i]) { t = c[i]; c[i] = c[j]; c[j] = t }
          printf "SM clock median %d MHz, lowest %d (%d samples), power up to %.0f W", c[int(n / 2)], c[0], n, p }' "$OUT/nvidia-smi.csv"
}
echo "side,unix_time,memory_used_mib,clocks_sm_mhz,power_w" >"$OUT/nvidia-smi.csv"

rc=0
log "== ours: GpuBenchmark"
sample ours
# shellcheck disable=SC2086
"$RT/jre/bin/java" -Xmx32g -Djava.io.tmpdir=/tmp -cp "$CP" ssdspark.model.bench.GpuBenchmark \
  --json "$OUT/gpu_bench.json" --label "ssdspark $commit" ${BENCH_ARGS:-} 2>&1 | tee "$work/ours.log" | tee -a "$OUT/speed.log"
[[ ${PIPESTATUS[0]} == 0 ]] || { rc=1; log "GpuBenchmark FAILED"; }
stop_sample
log "   nvidia-smi peak while ours ran: $(peak ours) (whole device); $(clocks ours)"

log "== mamba_ssm: gpu_mamba_ssm.py"
sample mamba_ssm
# shellcheck disable=SC2086
PYTHONUNBUFFERED=1 python3 "$here/gpu_mamba_ssm.py" --src "$MAMBA_SRC" --json "$OUT/gpu_mamba_ssm.json" ${MAMBA_ARGS:-} 2>&1 \
  | tee "$work/mamba_ssm.log" | tee -a "$OUT/speed.log"
[[ ${PIPESTATUS[0]} == 0 ]] || { rc=1; log "gpu_mamba_ssm.py FAILED"; }
stop_sample
log "   nvidia-smi peak while mamba_ssm ran: $(peak mamba_ssm) (whole device); $(clocks mamba_ssm)"

if [[ -f $OUT/gpu_bench.json && -f $OUT/gpu_mamba_ssm.json ]]; then
  log "== comparison"
  { echo "ssdspark $commit vs mamba_ssm $mcommit, $(date -u +%F), \`bash tools/bench/gpu_speed.sh $mode\`"
    echo "(BENCH_ARGS='${BENCH_ARGS:-}' MAMBA_ARGS='${MAMBA_ARGS:-}'); nvidia-smi whole-device peaks: ours $(peak ours), mamba_ssm $(peak mamba_ssm)"
    echo; } >"$work/head.md"
  if python3 "$here/gpu_compare.py" "$OUT/gpu_bench.json" "$OUT/gpu_mamba_ssm.json" --md "$work/compare.md" \
      --png "$OUT/tok_s_vs_batch.png" 2>&1 | tee -a "$OUT/speed.log"; then
    cat "$work/head.md" "$work/compare.md" >"$OUT/compare.md" && rm "$work/head.md" "$work/compare.md"
  else rc=1; fi
fi
cp hs_err_pid*.log "$work/" 2>/dev/null
tar czf "$OUT/rest.tar.gz" -C "$work" . && rm -rf "$work"
log "== done rc=$rc"
exit $rc
