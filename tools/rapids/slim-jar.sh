#!/usr/bin/env bash
# Cuts the RAPIDS Accelerator's release jar (576 MB: 20 Spark shims, GPU code for 7 GPU generations) down to what one
# Spark version on one kind of GPU needs, xz-compressed in parts small enough for hosts that take files in small
# uploads. Run here (the build machine), from the repository root:
#   tools/rapids/slim-jar.sh [OUT_DIR]        (default .rt/rapids; .rt/ is git-ignored)
# Keeps: the common classes (ai/, com/, org/, spark-shared/), the one shim folder of the Spark version (spark401 for
# Spark 4.0.1), META-INF, the PySpark daemon files and every linux x86-64 native library; in libcudf.so the GPU code
# of other architectures and the PTX are blanked with zeros (fatbin_keep.py: same size and layout, the driver picks
# the kept cubin). Writes OUT_DIR/rapids.jar.xz.partNN, rapids.sha256 (of the jar) and rapids.parts (their count).
# Environment: RAPIDS_SHIM (default spark401), SLIM_CUDA_ARCHS (default 90 = H100/H200; 'all' keeps every GPU's
# code: a bigger jar, for when a blanked library misbehaves), PART_MIB (default 60), XZ_LEVEL (default 6; 9 saves a few
# per cent for several times the time).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${1:-$root/.rt/rapids}")
shim=${RAPIDS_SHIM:-spark401} archs=${SLIM_CUDA_ARCHS:-90} part=${PART_MIB:-60}
bash "$root/rapids/fetch-rapids-jar.sh"
prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$root/pom.xml" | head -1; }
a="rapids-4-spark_$(prop scala.binary)" v=$(prop rapids.version) c=$(prop rapids.classifier)
jar="$HOME/.m2/repository/com/nvidia/$a/$v/$a-$v-$c.jar"
shims=$(unzip -Z1 "$jar" | sed -n 's:^\(spark[0-9][0-9a-z]*\)/$:\1:p' | sort -u | tr '\n' ' ')
[[ " $shims" == *" $shim "* ]] || { echo "[slim] the jar has no $shim/ shim; pick one of: $shims" >&2; exit 2; }
work=$(mktemp -d /tmp/ssd-rapids-slim.XXXX)
trap 'rm -rf "$work"' EXIT
echo "[slim] unpacking $jar without the other shims"
unzip -q "$jar" -x 'spark[0-9]*' -d "$work/jar"
unzip -q "$jar" "$shim/*" -d "$work/jar"
rm -f "$work/jar/META-INF/"*.SF "$work/jar/META-INF/"*.RSA "$work/jar/META-INF/"*.DSA  # none today; a signed jar would no longer verify
if [[ $archs != all ]]; then
  python3 "$root/tools/rapids/fatbin_keep.py" "$work/jar/amd64/Linux/libcudf.so" "$archs"
fi
# Stored (not deflated) entries: xz then compresses the whole jar far better than it compresses deflate streams.
(cd "$work/jar" && jar --create --no-compress --file "$work/rapids.jar" --manifest META-INF/MANIFEST.MF $(ls -A | grep -vx META-INF) \
   $(cd "$work/jar" && find META-INF -mindepth 1 -maxdepth 1 ! -name MANIFEST.MF))
rm -rf "$out" && mkdir -p "$out"
echo "[slim] $(du -m "$work/rapids.jar" | cut -f1) MB jar ($shim, GPU code for sm_$archs); compressing (xz -${XZ_LEVEL:-6})"
xz -"${XZ_LEVEL:-6}" -T2 -c "$work/rapids.jar" | split -b "${part}M" -d -a 2 - "$out/rapids.jar.xz.part"
ls "$out"/rapids.jar.xz.part* | wc -l > "$out/rapids.parts"
sha256sum "$work/rapids.jar" | cut -d' ' -f1 > "$out/rapids.sha256"  # last: its presence says the parts are complete
echo "[slim] $(cat "$out"/rapids.jar.xz.part* | wc -c | awk '{printf "%.1f", $1 / 1048576}') MiB in $(cat "$out/rapids.parts") parts of at most $part MiB in $out"
