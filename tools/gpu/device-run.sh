#!/usr/bin/env bash
# Runs on the GPU host (driver only), from the repository root, with the bundle made by tools/gpu/run-gpu-tests.sh.
#
#   bash .gpu-bundle/device-run.sh [tests|bench|sanitize|select|all]     (default all)
#
#   tests     every GPU test (JUnit console): kernel twins, engine vs CPU engine, fixtures, 130M bf16 accuracy
#   bench     130M-size accuracy (fp32 / fp16 / bf16 vs the CPU engine) and scoring throughput, 16 x 2048 tokens,
#             bf16 (SSD_BENCH_ALL=1 adds fp16 and fp32)
#   sanitize  compute-sanitizer memcheck + racecheck over the kernel twin tests
#   select    only the test classes named in SSD_CLASSES (space separated)
# Logs go to $OUT (default /tmp/ssd-out): log (everything), junit reports.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-all}
OUT=${OUT:-/tmp/ssd-out}
mkdir -p "$OUT"
RT=${SSD_RT:-/tmp/ssd-rt}
if [[ ! -x "$RT/jre/bin/java" ]]; then mkdir -p "$RT" && tar xJf "$here/jre.tar.xz" -C "$RT"; fi
JAVA="$RT/jre/bin/java"
CP=$(ls "$here"/lib/*.jar | tr '\n' ':')
CONSOLE="$here/junit-platform-console-standalone-1.14.1.jar"
JOPTS=(-Xmx32g -Djava.io.tmpdir=/tmp -Dssd.gpu.heavy=true)
log() { echo "$@" | tee -a "$OUT/log"; }

log "== $(date -u +%FT%TZ) device-run $what"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm --format=csv 2>&1 | tee -a "$OUT/log"
rc=0

junit() { # junit NAME ARGS...: runs the console launcher with the bundle's classpath
  local name=$1; shift
  "$JAVA" "${JOPTS[@]}" -jar "$CONSOLE" execute -cp "$CP" --disable-banner --details=tree \
    --reports-dir="$OUT/junit-$name" "$@" 2>&1 | tee -a "$OUT/log"
  return "${PIPESTATUS[0]}"
}

if [[ $what == tests || $what == all ]]; then
  log "== tests"
  junit tests --scan-classpath --include-package=ssdspark.kernels.gpu --include-package=ssdspark.model.gpu \
    --exclude-classname='.*Gpu130mTest' || rc=1
fi
if [[ $what == select ]]; then # SSD_CLASSES="a.B c.D": just those test classes
  log "== selected: ${SSD_CLASSES:?set SSD_CLASSES}"
  sel=(); for c in $SSD_CLASSES; do sel+=(--select-class="$c"); done
  junit select "${sel[@]}" || rc=1
fi
if [[ $what == bench || $what == all || $what == tests ]]; then
  log "== 130M accuracy and throughput"
  [[ -n ${SSD_BENCH_ALL:-} ]] && JOPTS+=(-Dssd.bench.all=true)
  junit bench --select-class=ssdspark.model.gpu.Gpu130mTest || rc=1
fi
if [[ $what == sanitize || $what == all ]]; then
  san=$(ls /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
  if [[ -z $san ]]; then log "== compute-sanitizer not found: skipped"; else
    for tool in memcheck racecheck; do
      log "== compute-sanitizer --tool $tool ($san)"
      timeout "${SSD_SANITIZE_TIMEOUT:-150}" "$san" --tool "$tool" --print-limit 20 --error-exitcode 17 \
        "$JAVA" -Xmx8g -Djava.io.tmpdir=/tmp -Dssd.gpu.small=true -jar "$CONSOLE" execute -cp "$CP" --disable-banner \
        --details=summary --scan-classpath --include-package=ssdspark.kernels.gpu 2>&1 | tee "$OUT/sanitize-$tool.log" | \
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|========= |tests (successful|failed|skipped)|Test run finished" | tee -a "$OUT/log"
      log "   exit ${PIPESTATUS[0]}"
    done
  fi
fi
log "== done rc=$rc"
exit $rc
