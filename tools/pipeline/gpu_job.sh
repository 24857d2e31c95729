#!/usr/bin/env bash
# The whole job on a bare GPU host (NVIDIA driver only), in local mode with the GPU engine, against the engine alone.
#
# Here (the build machine), from the repository root:
#   tools/pipeline/gpu_job.sh stage        builds the job jar from a clean export of HEAD (kernels for sm_90, the H200),
#                                          packs a JRE (/work/shared/gpu/jre.sh) and the Spark runtime
#                                          (/work/shared/gpu/spark-runtime.sh) and splits everything into carry folders
#                                          .rt/c1 .rt/c2 .rt/c3 of < 58 MB each (.rt/ is git-ignored); prints the calls
# There (each call carries one folder; the machine must stay warm between calls: /tmp survives for 30 s):
#   bash tools/pipeline/gpu_job.sh there .rt/c1      stages the parts into /tmp/ssd-rt (stage.sh)
#   bash tools/pipeline/gpu_job.sh there .rt/c2
#   bash tools/pipeline/gpu_job.sh there .rt/c3 run  stages the rest, then tools/pipeline/gpu_run.sh (results in $OUT)
#
# Environment for stage: SHARED (default /work/shared/gpu), SSD_CUDA_ARCHS (default 90), PART_MB (default 27).
set -euo pipefail
what=${1:?usage: gpu_job.sh stage | there DIR [run]}
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/../.." && pwd))
cd "$root"

if [[ $what == stage ]]; then
  shared=${SHARED:-/work/shared/gpu}
  rt=.rt
  grep -qx '/.rt/' .gitignore 2>/dev/null || grep -qsx '/.rt/' .git/info/exclude || echo '/.rt/' >> .git/info/exclude
  build=$(mktemp -d /tmp/ssd-gpujob.XXXX)
  echo "[stage] exporting HEAD ($(git rev-parse --short HEAD)) to $build"
  git archive HEAD | tar -x -C "$build"
  echo "[stage] building the job jar (kernels for sm_${SSD_CUDA_ARCHS:-90})"
  (cd "$build" && SSD_CUDA_ARCHS=${SSD_CUDA_ARCHS:-90} mvn -q -B -o -Dssd.tag=-gpujob -pl jobs -am package -DskipTests \
     && mvn -q -B -o -Dssd.tag=-gpujob -pl jobs dependency:copy-dependencies -DincludeScope=provided -DexcludeGroupIds=dev.ssdspark \
          -DoutputDirectory="$build/spark-jars")
  jar=$(ls "$build"/jobs/target-gpujob/ssdspark-jobs-*-spark.jar)
  unzip -l "$jar" | grep -q ssdspark_kernels.fatbin || { echo "[stage] the jar has no fatbin (nvcc missing?)" >&2; exit 1; }
  rm -rf "$rt" && mkdir -p "$rt/c1" "$rt/c2" "$rt/c3" "$rt/parts"
  echo "[stage] packing the JRE and the Spark runtime"
  bash "$shared/jre.sh" "$rt/c1" >/dev/null
  bash "$shared/spark-runtime.sh" "$build/spark-jars" "$rt/parts" "${PART_MB:-27}" >/dev/null
  cp "$shared/stage.sh" "$rt/c1/"
  cp "$jar" "$rt/c3/ssdspark-jobs-spark.jar"
  cp "$rt/parts/spark.sha256" "$rt/c3/"
  # spread the Spark parts: c1 has the JRE (~32 MB), so one part there, two in c2, the rest in c3
  i=0
  for p in "$rt"/parts/spark.tar.xz.part*; do
    case $i in 0) d=c1;; 1|2) d=c2;; *) d=c3;; esac
    mv "$p" "$rt/$d/"; i=$((i + 1))
  done
  rm -rf "$rt/parts" "$build"
  du -sh "$rt"/c1 "$rt"/c2 "$rt"/c3
  for d in c1 c2 c3; do
    s=$(du -sm "$rt/$d" | cut -f1)
    (( s < 58 )) || { echo "[stage] $rt/$d is $s MB: too big for one call (64 MiB with the working tree); lower PART_MB" >&2; exit 1; }
  done
  echo "[stage] now, back to back (the machine stays warm 30 s between calls):"
  echo "  run(command='bash tools/pipeline/gpu_job.sh there .rt/c1', carry=['.rt/c1'])"
  echo "  run(command='bash tools/pipeline/gpu_job.sh there .rt/c2', carry=['.rt/c2'])"
  echo "  run(command='bash tools/pipeline/gpu_job.sh there .rt/c3 run', carry=['.rt/c3'])"
  exit 0
fi

if [[ $what == there ]]; then
  dir=${2:?usage: gpu_job.sh there DIR [run]}
  export SSD_RT=${SSD_RT:-/tmp/ssd-rt}
  mkdir -p "$SSD_RT"
  [[ -f $dir/stage.sh ]] && cp "$dir/stage.sh" "$SSD_RT/stage.sh"
  [[ -f $dir/ssdspark-jobs-spark.jar ]] && cp "$dir/ssdspark-jobs-spark.jar" "$SSD_RT/"
  files=()
  for f in "$dir"/*; do case $(basename "$f") in jre.tar.xz|spark.tar.xz.part*|spark.sha256) files+=("$f");; esac; done
  if [[ ! -x $SSD_RT/stage.sh ]]; then echo "no stage.sh in $SSD_RT: carry .rt/c1 first (on a warm machine)" >&2; exit 1; fi
  bash "$SSD_RT/stage.sh" "${files[@]}"
  if [[ ${3:-} == run ]]; then
    exec bash tools/pipeline/gpu_run.sh
  fi
  exit 0
fi
echo "usage: gpu_job.sh stage | there DIR [run]" >&2
exit 2
