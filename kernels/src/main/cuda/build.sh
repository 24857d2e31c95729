#!/usr/bin/env bash
# Compiles the ssdspark CUDA kernels into ONE fatbin: SASS for every listed architecture plus PTX for the lowest
# (any newer GPU can JIT it) and the highest (forward compatibility with the newest features nvcc knows).
#
#   build.sh OUT_FILE [STAMP_FILE]   (called by kernels/pom.xml at generate-resources)
#
# nvcc is looked up in $NVCC, PATH, /usr/local/cuda/bin, /usr/local/cuda-*/bin (newest first); NVCC=none skips
# the kernels on purpose (a fast CPU-only build).
# SSD_CUDA_ARCHS (default "80 86 89 90 100 120") picks the SASS targets (90 builds sm_90a); a quick dev build: SSD_CUDA_ARCHS=90.
# Without nvcc the build does not fail: it writes OUT_FILE.missing with the reason, and the GPU backend reports it
# ("kernels were not compiled ... rebuild with ...") instead of running.
set -euo pipefail
out=${1:?usage: build.sh OUT_FILE [STAMP_FILE]}
stamp=${2:-$out.stamp}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$out")" "$(dirname "$stamp")"
rm -f "$out.missing"

find_nvcc() {
  if [[ "${NVCC:-}" == none ]]; then return; fi
  if [[ -n "${NVCC:-}" && -x "${NVCC}" ]]; then echo "$NVCC"; return; fi
  if command -v nvcc >/dev/null 2>&1; then command -v nvcc; return; fi
  if [[ -x /usr/local/cuda/bin/nvcc ]]; then echo /usr/local/cuda/bin/nvcc; return; fi
  local c
  for c in $(ls -d /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -V -r); do
    if [[ -x "$c" ]]; then echo "$c"; return; fi
  done
}
nvcc=$(find_nvcc || true)
if [[ -z "$nvcc" ]]; then
  msg="nvcc not found${NVCC:+ (NVCC=$NVCC)} (looked in \$NVCC, PATH, /usr/local/cuda/bin, /usr/local/cuda-*/bin): the GPU kernels were NOT compiled and the GPU backend is unavailable in this build. Install the CUDA toolkit (12.8+, 13.x tested) and rebuild the kernels module (mvn -pl kernels package), or set NVCC=/path/to/nvcc."
  echo "[ssdspark kernels] WARNING: $msg" >&2
  printf '%s\n' "$msg" > "$out.missing"
  rm -f "$out"
  exit 0
fi

archs=${SSD_CUDA_ARCHS:-80 86 89 90 100 120}
# skip archs this nvcc does not know (e.g. 120 on CUDA 12.6)
known=$("$nvcc" --list-gpu-code 2>/dev/null | tr '\n' ' ' || true)
gencode=()
kept=()
for a in $archs; do
  if [[ -n "$known" && " $known " != *" sm_$a "* ]]; then
    echo "[ssdspark kernels] $nvcc does not know sm_$a; skipping it" >&2
    continue
  fi
  # Hopper gets the arch-specific target: wgmma (gemm_sm90.cuh) exists only in sm_90a code, which runs on sm_90 parts
  if [[ $a == 90 ]]; then gencode+=("-gencode=arch=compute_90a,code=sm_90a"); else gencode+=("-gencode=arch=compute_$a,code=sm_$a"); fi
  kept+=("$a")
done
if [[ ${#kept[@]} -eq 0 ]]; then echo "[ssdspark kernels] no usable architecture in '$archs'" >&2; exit 1; fi
lo=${kept[0]}; hi=${kept[${#kept[@]}-1]}
gencode+=("-gencode=arch=compute_$lo,code=compute_$lo")
[[ "$hi" != "$lo" ]] && gencode+=("-gencode=arch=compute_$hi,code=compute_$hi")

# up to date? (same sources, same arch list)
want="$(cat "$here"/*.cu "$here"/*.cuh "$here/build.sh" | cksum) ${kept[*]} ${SSD_CUDA_DEFINES:-} $("$nvcc" --version | tail -1)"
if [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "[ssdspark kernels] $out is up to date"
  exit 0
fi

echo "[ssdspark kernels] $nvcc -> $out (SASS: ${kept[*]}; PTX: $lo $hi)"
start=$(date +%s)
tmp="$out.tmp.$$"
# SSD_CUDA_DEFINES: extra -D flags for bench builds (e.g. -DSSD_GEMM_VARIANTS adds the GEMM shape experiments)
"$nvcc" -fatbin -O3 -std=c++17 --threads 0 ${SSD_CUDA_DEFINES:-} "${gencode[@]}" -o "$tmp" "$here/ssdspark_kernels.cu"
mv "$tmp" "$out"
printf '%s' "$want" > "$stamp"
echo "[ssdspark kernels] built $(stat -c %s "$out") bytes in $(( $(date +%s) - start )) s"
