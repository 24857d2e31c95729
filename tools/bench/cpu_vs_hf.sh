#!/usr/bin/env bash
# Side by side on one host: HF transformers' PyTorch CPU path vs our Java CPU engine, scoring a random
# 130M-shape Mamba-2 (d_model 768, 24 layers, d_state 128, headdim 64, vocab 50288) on 1 x 256 tokens.
#
# usage (repo root): tools/bench/cpu_vs_hf.sh [THREADS]        THREADS default "2,16"
#   Java: $JAVA, else java on PATH, else the runtime unpacked from .bench-bundle/jre.tar.xz
#   jars: .bench-bundle/app/*.jar (tools/bench/bundle.sh), else kernels/target*/classes + model/target*/classes
#   SKIP_HF=1 / SKIP_JAVA=1 leave one side out; JAVA_ARGS / HF_ARGS add arguments;
#   JAVA_THREADS overrides the thread counts for the Java side only (the HF side is slow: ~20 s a run at 2 threads).
set -uo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2,16}
log=${LOG:-/dev/null}

echo "host    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores visible" | tee -a "$log"

if [ -z "${SKIP_JAVA:-}" ]; then
  java=${JAVA:-}
  if [ -z "$java" ] && command -v java >/dev/null; then java=java; fi
  if [ -z "$java" ] && [ -f .bench-bundle/jre.tar.xz ]; then
    mkdir -p /tmp/ssd-jre && tar xJf .bench-bundle/jre.tar.xz -C /tmp/ssd-jre && java=/tmp/ssd-jre/jre/bin/java
  fi
  if ls .bench-bundle/app/*.jar >/dev/null 2>&1; then cp=".bench-bundle/app/*"
  else cp=$(ls -d kernels/target*/classes | head -1):$(ls -d model/target*/classes | head -1):$(ls ~/.m2/repository/com/fasterxml/jackson/core/jackson-core/*/jackson-core-*.jar | sort -V | tail -1); fi
  [ -n "$java" ] || { echo "no Java: set JAVA or run tools/bench/bundle.sh" >&2; exit 2; }
  "$java" -Xmx8g -cp "$cp" ssdspark.model.bench.CpuBenchmark --threads "${JAVA_THREADS:-$threads}" ${JAVA_ARGS:-} 2>&1 | tee -a "$log"
fi
if [ -z "${SKIP_HF:-}" ]; then
  PYTHONUNBUFFERED=1 python3 tools/bench/hf_mamba2_cpu.py --threads "$threads" ${HF_ARGS:-} 2>&1 | tee -a "$log"
fi

# table from the RESULT lines
if [ "$log" != /dev/null ]; then
  echo
  printf '%8s %14s %14s %8s\n' threads "HF tok/s" "ours tok/s" speedup
  for n in ${threads//,/ }; do
    hf=$(grep -E "^RESULT impl=hf threads=$n " "$log" | tail -1 | sed -E 's/.* tok_s=([0-9.]+).*/\1/')
    us=$(grep -E "^RESULT threads=$n " "$log" | tail -1 | sed -E 's/.* tok_s=([0-9.]+).*/\1/')
    sp=$( [ -n "$hf" ] && [ -n "$us" ] && awk -v a="$us" -v b="$hf" 'BEGIN{printf "%.1fx", a/b}' )
    printf '%8s %14s %14s %8s\n' "$n" "${hf:--}" "${us:--}" "${sp:--}"
  done
fi
