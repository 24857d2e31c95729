#!/usr/bin/env bash
# Builds and runs tools/bench/ssd_bench.cu on the GPU host (nvcc there, no Java): the SSD kernels alone on the 130M
# and 1.3B shapes (fixed 2048-token rows, and log-normal documents in pieces packed as the runner packs them), plus
# the bench-only variants of tools/bench/ssd_variants.cuh. Writes to $OUT (default ./ssd-bench):
# ssd_bench.log, and with PROFILE=1 ncu reports (PROFILE_KERNELS, default the shipped scan and state kernels, with
# stall reasons) and the SASS (ssd_profile.tar.gz).
#   OUT=$OUT bash tools/bench/ssd_bench.sh [iters]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-./ssd-bench}
mkdir -p "$out"
bin=$out/ssd_bench
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I"$root/kernels/src/main/cuda" -I"$here" \
  -DSSD_BENCH_VARIANTS='"ssd_variants.cuh"' -Xptxas -v "$here/ssd_bench.cu" -o "$bin" > "$out/ptxas.log" 2>&1
{ nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv; "$bin" 130m "${1:-20}"; "$bin" 1.3b "${1:-20}"; "$bin" 130m-lognormal "${1:-20}"; "$bin" 1.3b-lognormal "${1:-20}"; } \
  > "$out/ssd_bench.log" 2>&1
if [[ "${PROFILE:-0}" == 1 ]]; then
  prof=$out/profile; mkdir -p "$prof"
  cuobjdump -sass "$bin" > "$prof/ssd_bench.sass" 2>&1 || true
  for k in ${PROFILE_KERNELS:-ssd_chunk_scan_tc ssd_chunk_state_tc}; do
    timeout 120 ncu --clock-control none -k "$k" -c 1 \
      --section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats \
      --section InstructionStats --section MemoryWorkloadAnalysis --section LaunchStats \
      --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio" \
      "$bin" 130m 1 > "$prof/ncu-$k.txt" 2>&1 || echo "ncu exit $?" >> "$prof/ncu-$k.txt"
  done
  tar czf "$out/ssd_profile.tar.gz" -C "$out" profile && rm -rf "$prof"
fi
rm -f "$bin"
