#!/usr/bin/env bash
# Builds and runs tools/bench/elementwise_bench.cu on the GPU host (nvcc there, no Java): the memory-bound kernels
# (residual-add RMSNorm, causal conv1d, gated RMSNorm) alone on the 130M and 1.3B shapes, plus the bench-only
# variants of tools/bench/elementwise_variants.cuh. Writes to $OUT (default ./elementwise-bench): elementwise_bench.log,
# and with PROFILE=1 ncu reports of PROFILE_KERNELS (default the three shipped kernels) in elementwise_profile.tar.gz.
#   OUT=$OUT bash tools/bench/elementwise_bench.sh [iters]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-./elementwise-bench}
mkdir -p "$out"
bin=$out/elementwise_bench
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I"$root/kernels/src/main/cuda" -I"$here" \
  -DELEMENTWISE_BENCH_VARIANTS='"elementwise_variants.cuh"' -Xptxas -v "$here/elementwise_bench.cu" -o "$bin" \
  > "$out/elementwise_ptxas.log" 2>&1
{ nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv; "$bin" 130m "${1:-20}"; "$bin" 1.3b "${1:-20}"; } \
  > "$out/elementwise_bench.log" 2>&1
if [[ "${PROFILE:-0}" == 1 ]]; then
  prof=$out/profile; mkdir -p "$prof"
  for k in ${PROFILE_KERNELS:-add_rmsnorm_warp_bf16 causal_conv1d_fwd_k4_x4 gated_rmsnorm_regs_bf16}; do
    for shape in 130m 1.3b; do
      timeout 120 ncu --clock-control none -k "$k" -c 1 \
        --section SpeedOfLight --section Occupancy --section WarpStateStats --section MemoryWorkloadAnalysis \
        --section LaunchStats "$bin" "$shape" 1 > "$prof/ncu-$k-$shape.txt" 2>&1 || echo "ncu exit $?" >> "$prof/ncu-$k-$shape.txt"
    done
  done
  tar czf "$out/elementwise_profile.tar.gz" -C "$out" profile && rm -rf "$prof"
fi
rm -f "$bin"
