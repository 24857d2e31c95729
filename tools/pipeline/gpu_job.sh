#!/usr/bin/env bash
# The whole job on a GPU host with only the NVIDIA driver (no Java, no CUDA toolkit), in local mode with the GPU
# engine, against the engine alone.
#
# Here (the build machine), from the repository root:
#   tools/pipeline/gpu_job.sh stage        builds the job jar from a clean export of HEAD (kernels for sm_90, the H200),
#                                          packs a JRE ($SSD_SHARED/gpu/jre.sh) and the Spark runtime
#                                          ($SSD_SHARED/gpu/spark-runtime.sh) and splits everything into folders
#                                          .rt/c1 (JRE + first piece of Spark), .rt/c2, ... (the last with the jar and
#                                          the text seed of make_text_corpus.py, made once into .demo-corpus/ from two
#                                          Debian packages, see tools/demo/build_corpus.py), each under CARRY_MIB MiB for
#                                          hosts that take files in small uploads (.rt/ is git-ignored); prints the
#                                          commands for the GPU host
# There (a checkout of the same commit; copy each folder to the same path in it, in order; $SSD_RT must survive
# between the calls):
#   bash tools/pipeline/gpu_job.sh there .rt/c1      stages the pieces into $SSD_RT (default /tmp/ssd-rt; stage.sh)
#   bash tools/pipeline/gpu_job.sh there .rt/c2
#   bash tools/pipeline/gpu_job.sh there .rt/c3 run  stages the rest, then tools/pipeline/gpu_run.sh (results in $OUT)
#
# Environment for stage: SSD_SHARED (the folder with the GPU-host helper scripts gpu/jre.sh, gpu/spark-runtime.sh and
# gpu/stage.sh; default: shared/ next to the repository), SSD_CUDA_ARCHS (default 90), CARRY_MIB (default: 63 MiB less the
# working tree's tracked files), SSD_RT_CACHE (where the packed JRE and Spark runtime are kept between stages; default
# .rt-cache, git-ignored).
set -euo pipefail
what=${1:?usage: gpu_job.sh stage | there DIR [run]}
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/../.." && pwd))
cd "$root"

if [[ $what == stage ]]; then
  shared=${SSD_SHARED:-$root/../shared}/gpu
  [[ -f $shared/jre.sh && -f $shared/spark-runtime.sh && -f $shared/stage.sh ]] \
    || { echo "[stage] no jre.sh, spark-runtime.sh and stage.sh in $shared: set SSD_SHARED to the folder holding gpu/" >&2; exit 2; }
  rt=.rt   # in .gitignore
  build=$(mktemp -d /tmp/ssd-gpujob.XXXX)
  echo "[stage] exporting HEAD ($(git rev-parse --short HEAD)) to $build"
  git archive HEAD | tar -x -C "$build"
  echo "[stage] building the job jar (kernels for sm_${SSD_CUDA_ARCHS:-90})"
  (cd "$build" && SSD_CUDA_ARCHS=${SSD_CUDA_ARCHS:-90} mvn -q -B -o -Dssd.tag=-gpujob -pl jobs -am package -DskipTests)
  mkdir -p "$build/spark-jars"   # Spark and its dependencies: the jobs module's provided classpath
  tr ':' '\n' < "$build/jobs/target-gpujob/spark.classpath" | while read -r j || [[ -n $j ]]; do  # the last entry has no newline
    if [[ $j == *.jar ]]; then cp "$j" "$build/spark-jars/"; fi
  done
  n=$(ls "$build/spark-jars" | wc -l); want=$(tr ':' '\n' < "$build/jobs/target-gpujob/spark.classpath" | grep -c '\.jar$')
  (( n == want )) || { echo "[stage] copied $n of $want Spark jars" >&2; exit 1; }
  jar=$(ls "$build"/jobs/target-gpujob/ssdspark-jobs-*-spark.jar)
  [[ $(unzip -l "$jar" | grep -c ssdspark_kernels.fatbin) -gt 0 ]] || { echo "[stage] the jar has no fatbin (nvcc missing?)" >&2; exit 1; }
  seed=.demo-corpus/text-seed.jsonl.xz   # the text job's seed (git-ignored folder; made once, ~1 min of downloads and xz)
  if [[ ! -f $seed ]]; then
    echo "[stage] making the text seed $seed (Debian's dict-gcide and wordnet-base through tools/demo/build_corpus.py)"
    python3 tools/demo/build_corpus.py .demo-corpus >/dev/null && python3 tools/pipeline/make_text_corpus.py seed .demo-corpus "$seed"
  fi
  rm -rf "$rt" && mkdir -p "$rt/c1" "$rt/parts"
  # The JRE and the Spark archive take most of the time (xz): kept in $cache, keyed by the JDK and the Spark jars' names.
  cache=${SSD_RT_CACHE:-.rt-cache}
  key=$( { "${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/java" -version 2>&1; ls "$build/spark-jars"; } | sha256sum | cut -c1-16)
  if [[ -f $cache/$key/jre.tar.xz && -f $cache/$key/spark.tar.xz && -f $cache/$key/spark.sha256 ]]; then
    echo "[stage] the JRE and the Spark runtime from $cache/$key"
    cp "$cache/$key/jre.tar.xz" "$rt/c1/"
    cp "$cache/$key/spark.tar.xz" "$rt/parts/all"
    cp "$cache/$key/spark.sha256" "$rt/parts/"
  else
    echo "[stage] packing the JRE and the Spark runtime (kept in $cache/$key for the next stage)"
    bash "$shared/jre.sh" "$rt/c1" >/dev/null
    bash "$shared/spark-runtime.sh" "$build/spark-jars" "$rt/parts" >/dev/null
    cat "$rt"/parts/spark.tar.xz.part* > "$rt/parts/all"
    mkdir -p "$cache/$key.tmp"
    cp "$rt/c1/jre.tar.xz" "$cache/$key.tmp/" && cp "$rt/parts/all" "$cache/$key.tmp/spark.tar.xz" && cp "$rt/parts/spark.sha256" "$cache/$key.tmp/"
    rm -rf "${cache:?}/$key" && mv "$cache/$key.tmp" "$cache/$key"
  fi
  cp "$shared/stage.sh" "$rt/c1/"
  # The Spark archive cut to fill the carries: c1 holds the JRE and the first piece, each next carry the next
  # piece; the last one also the jar and the checksum (stage.sh joins the pieces once all are there).
  # each call carries the working tree too (64 MiB in all): by default a carry fills what the tree leaves below 63 MiB
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  cap=$(( ${CARRY_MIB:+CARRY_MIB * 1048576} ))
  (( cap > 0 )) || cap=$(( 63 * 1048576 - tree - 65536 ))  # 64 KiB for stage.sh and the folders themselves
  total=$(stat -c %s "$rt/parts/all"); extra=$(( $(stat -c %s "$jar") + $(stat -c %s "$seed") + 8192 ))
  room=$(( cap - $(stat -c %s "$rt/c1/jre.tar.xz") )); pos=0; k=0
  while :; do
    left=$(( total - pos ))
    if (( left + extra <= room )); then  # the rest and the jar fit here: last carry
      (( left > 0 )) && tail -c +"$((pos + 1))" "$rt/parts/all" > "$rt/c$((k + 1))/spark.tar.xz.part$(printf %02d $k)"
      cp "$jar" "$rt/c$((k + 1))/ssdspark-jobs-spark.jar"
      cp "$seed" "$rt/c$((k + 1))/"
      cp "$rt/parts/spark.sha256" "$rt/c$((k + 1))/"
      break
    fi
    n=$(( left < room ? left : room ))
    dd if="$rt/parts/all" of="$rt/c$((k + 1))/spark.tar.xz.part$(printf %02d $k)" iflag=skip_bytes,count_bytes skip="$pos" count="$n" bs=4M status=none
    pos=$(( pos + n )); k=$(( k + 1 )); room=$cap
    mkdir -p "$rt/c$((k + 1))"
  done
  rm -rf "$rt/parts" "$build"
  carries=("$rt"/c*)
  for d in "${carries[@]}"; do
    s=$(du -sb "$d" | cut -f1)
    echo "[stage] $d: $((s / 1048576)) MiB (+ $((tree / 1048576)) MiB of working tree per call)"
    (( s + tree < 63 * 1048576 )) || { echo "[stage] $d is too big for one call (64 MiB with the working tree); lower CARRY_MIB" >&2; exit 1; }
  done
  echo "[stage] now on the GPU host, from a checkout of $(git rev-parse --short HEAD), each folder copied there first:"
  for d in "${carries[@]}"; do
    r=""; [[ $d == "${carries[-1]}" ]] && r=" run"
    echo "  bash tools/pipeline/gpu_job.sh there $d$r"
  done
  exit 0
fi

if [[ $what == there ]]; then
  dir=${2:?usage: gpu_job.sh there DIR [run]}
  export SSD_RT=${SSD_RT:-/tmp/ssd-rt}
  mkdir -p "$SSD_RT"
  [[ -f $dir/stage.sh ]] && cp "$dir/stage.sh" "$SSD_RT/stage.sh"
  [[ -f $dir/ssdspark-jobs-spark.jar ]] && cp "$dir/ssdspark-jobs-spark.jar" "$SSD_RT/"
  [[ -f $dir/text-seed.jsonl.xz ]] && cp "$dir/text-seed.jsonl.xz" "$SSD_RT/"
  files=()
  for f in "$dir"/*; do case $(basename "$f") in jre.tar.xz|spark.tar.xz.part*|spark.sha256) files+=("$f");; esac; done
  if [[ ! -x $SSD_RT/stage.sh ]]; then echo "no stage.sh in $SSD_RT: stage .rt/c1 first (and keep $SSD_RT between the calls)" >&2; exit 1; fi
  bash "$SSD_RT/stage.sh" "${files[@]}"
  if [[ ${3:-} == run ]]; then
    exec bash tools/pipeline/gpu_run.sh
  fi
  exit 0
fi
echo "usage: gpu_job.sh stage | there DIR [run]" >&2
exit 2
