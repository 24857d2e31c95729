#!/usr/bin/env bash
# A Spark SQL query calling mamba2_score/mamba2_embed with the RAPIDS Accelerator on a bare GPU host (NVIDIA driver
# only), checked against the CPU engine (tools/rapids/RapidsSqlCheck.java). The JRE, the Spark runtime and the job
# jar come from tools/pipeline/gpu_job.sh's staging; this script adds the RAPIDS jar (slimmed: tools/rapids/slim-jar.sh),
# the rapids module's jar and the check.
#
# Here (the build machine), from the repository root:
#   tools/pipeline/gpu_job.sh stage      the JRE, Spark and the job jar in .rt/c1 ... .rt/cN (see there)
#   tools/rapids/gpu-rapids.sh stage     the slim RAPIDS jar in .rt/r1 ... .rt/rK (each fits one transfer with the
#                                        working tree), the last with the rapids module's jar and the compiled check;
#                                        prints the commands for the GPU host
# There (a checkout of the same commit; each folder copied to the same path in it, in order, $SSD_RT kept between
# the calls):
#   bash tools/pipeline/gpu_job.sh there .rt/c1      ... every c folder (without 'run')
#   bash tools/rapids/gpu-rapids.sh there .rt/r1     ... every r folder; the last one with 'run':
#   bash tools/rapids/gpu-rapids.sh there .rt/rK run   assembles the RAPIDS jar (SHA-256 checked) and runs the check;
#                                                      result.txt, plan.txt and check.log in $OUT
# Dry run without a GPU (here, after stage): tools/rapids/gpu-rapids.sh dry-run   (no plugin, CPU engine; the jars
# and the query as on the GPU host).
# Environment: SSD_RT (default /tmp/ssd-rt), OUT (default /tmp/ssd-out), SLIM_CUDA_ARCHS / RAPIDS_SHIM (slim-jar.sh),
# CARRY_MIB (bytes of RAPIDS jar per transfer, in MiB; default: what fits beside the working tree in 63 MiB).
set -euo pipefail
what=${1:?usage: gpu-rapids.sh stage | there DIR [run] | dry-run}
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/../.." && pwd))
cd "$root"
CHECK_MODEL=examples/tiny-mamba2 CHECK_CORPUS=examples/corpus-tokens.jsonl

# Run the check: java, then the jars, on this machine. $1: runtime folder; $2: output folder; more: check's flags.
run_check() {
  local rt=$1 out=$2; shift 2
  local opens; opens=$(sed -n 's:.*<spark.jvm.opens>\(.*\)</spark.jvm.opens>.*:\1:p' pom.xml)
  local cp="$rt/rapids-check:$rt/ssdspark-rapids.jar:$rt/ssdspark-jobs-spark.jar:$rt/rapids-4-spark.jar:$(cat "$rt/spark.classpath")"
  mkdir -p "$out"
  export SPARK_LOCAL_IP=127.0.0.1
  set +e
  "$rt/jre/bin/java" $opens -Xmx16g -Djava.io.tmpdir=/tmp -Dlog4j2.configurationFile="$root/bin/log4j2.properties" -cp "$cp" \
    RapidsSqlCheck "$CHECK_MODEL" "$CHECK_CORPUS" "$out" "$@" 2>&1 | grep -v -E 'WARN (Utils|NativeCodeLoader)' > "$out/check.log"
  local rc=${PIPESTATUS[0]}
  set -e
  tail -40 "$out/check.log"
  echo "[rapids] check exit status $rc (0: every check passed); $out/result.txt"
  return "$rc"
}

if [[ $what == stage ]]; then
  rt=.rt
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  if [[ -f $rt/rapids/rapids.sha256 ]]; then
    echo "[stage] reusing the slim RAPIDS jar in $rt/rapids (delete that folder to rebuild it)"
  else
    bash tools/rapids/slim-jar.sh "$rt/rapids"
  fi
  echo "[stage] the rapids module's jar and the check"
  build=$(mktemp -d /tmp/ssd-rapidsjob.XXXX)
  trap 'rm -rf "$build"' EXIT
  git archive HEAD | tar -x -C "$build"
  (cd "$build" && NVCC=none mvn -q -B -o -Dssd.tag=-rapidsjob -Prapids -pl jobs,rapids -am package -DskipTests)
  prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" pom.xml | head -1; }
  a="rapids-4-spark_$(prop scala.binary)"; full="$HOME/.m2/repository/com/nvidia/$a/$(prop rapids.version)/$a-$(prop rapids.version)-$(prop rapids.classifier).jar"
  cp "$build"/rapids/target-rapidsjob/ssdspark-rapids-*.jar "$build/ssdspark-rapids.jar"
  mkdir -p "$build/rapids-check"
  javac -d "$build/rapids-check" -cp "$build/ssdspark-rapids.jar:$(ls "$build"/jobs/target-rapidsjob/ssdspark-jobs-*-spark.jar):$full:$(cat "$build/jobs/target-rapidsjob/spark.classpath")" \
    tools/rapids/RapidsSqlCheck.java
  # one transfer per part; the last also takes the small files
  rm -rf "$rt"/r[0-9]*
  # as few transfers as fit: each under 63 MiB with the working tree, the small files in the last
  total=$(cat "$rt"/rapids/rapids.jar.xz.part* | wc -c)
  small=$(( $(du -sb "$build/ssdspark-rapids.jar" "$build/rapids-check" | awk '{s += $1} END {print s}') + 65536 ))
  room=$(( ${CARRY_MIB:-0} > 0 ? CARRY_MIB * 1048576 : 63 * 1048576 - tree - small ))
  n=$(( (total + room - 1) / room ))
  cat "$rt"/rapids/rapids.jar.xz.part* | split -b "$(( (total + n - 1) / n ))" -d -a 2 - "$build/rapids.jar.xz.part"
  parts=("$build"/rapids.jar.xz.part*); k=0
  for p in "${parts[@]}"; do k=$((k + 1)); mkdir -p "$rt/r$k"; mv "$p" "$rt/r$k/"; done
  echo "$k" > "$rt/r$k/rapids.parts"
  cp "$rt/rapids/rapids.sha256" "$build/ssdspark-rapids.jar" "$rt/r$k/"
  cp -r "$build/rapids-check" "$rt/r$k/"
  for d in "$rt"/r[0-9]*; do
    s=$(du -sb "$d" | cut -f1)
    echo "[stage] $d: $((s / 1048576)) MiB (+ $((tree / 1048576)) MiB of working tree per call)"
    (( s + tree < 63 * 1048576 )) || { echo "[stage] $d is too big for one call (64 MiB with the working tree); lower CARRY_MIB" >&2; exit 1; }
  done
  echo "[stage] now on the GPU host, from a checkout of $(git rev-parse --short HEAD), after gpu_job.sh's .rt/c* folders:"
  for ((i = 1; i <= k; i++)); do echo "  bash tools/rapids/gpu-rapids.sh there $rt/r$i$( ((i == k)) && echo ' run')"; done
  exit 0
fi

if [[ $what == there ]]; then
  dir=${2:?usage: gpu-rapids.sh there DIR [run]}
  RT=${SSD_RT:-/tmp/ssd-rt}
  mkdir -p "$RT/rapids-parts"
  cp "$dir"/rapids.jar.xz.part* "$RT/rapids-parts/" 2>/dev/null || true
  for f in rapids.sha256 rapids.parts ssdspark-rapids.jar; do [[ -f $dir/$f ]] && cp "$dir/$f" "$RT/"; done
  [[ -d $dir/rapids-check ]] && rm -rf "$RT/rapids-check" && cp -r "$dir/rapids-check" "$RT/"
  if [[ ! -f $RT/rapids-4-spark.jar && -f $RT/rapids.parts ]] && (( $(ls "$RT"/rapids-parts | wc -l) == $(cat "$RT/rapids.parts") )); then
    cat "$RT"/rapids-parts/rapids.jar.xz.part* | xz -d > "$RT/rapids-4-spark.jar.tmp"
    if [[ $(sha256sum "$RT/rapids-4-spark.jar.tmp" | cut -d' ' -f1) == "$(cat "$RT/rapids.sha256")" ]]; then
      mv "$RT/rapids-4-spark.jar.tmp" "$RT/rapids-4-spark.jar" && rm -rf "$RT/rapids-parts"
    else
      echo "[rapids] the assembled jar's SHA-256 does not match: parts missing or damaged" >&2; rm -f "$RT/rapids-4-spark.jar.tmp"; exit 1
    fi
  fi
  echo "rapids jar: $([[ -f $RT/rapids-4-spark.jar ]] && echo "yes ($(du -m "$RT/rapids-4-spark.jar" | cut -f1) MB)" || echo "no ($(ls "$RT/rapids-parts" | wc -l) of $(cat "$RT/rapids.parts" 2>/dev/null || echo '?') parts)")"
  if [[ ${3:-} == run ]]; then
    [[ -x $RT/jre/bin/java && -f $RT/spark.classpath && -f $RT/ssdspark-jobs-spark.jar ]] || { echo "the JRE, Spark or the job jar are not staged in $RT: run gpu_job.sh there .rt/c* first" >&2; exit 1; }
    [[ -f $RT/rapids-4-spark.jar ]] || { echo "the RAPIDS jar is incomplete" >&2; exit 1; }
    nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader || true
    rc=0; run_check "$RT" "${OUT:-/tmp/ssd-out}" || rc=$?
    exit $rc
  fi
  exit 0
fi

if [[ $what == dry-run ]]; then
  # The jars as staged, Spark and a JDK from this machine: the query on the CPU engine, without the plugin.
  rt=$(mktemp -d /tmp/ssd-rapids-dry.XXXX)
  last=$(ls -d .rt/r[0-9]* | sort -V | tail -1)
  [[ -n $last && -f $last/ssdspark-rapids.jar ]] || { echo "run 'gpu-rapids.sh stage' first" >&2; exit 1; }
  cp -r "$last/rapids-check" "$last/ssdspark-rapids.jar" "$rt/"
  cat .rt/r[0-9]*/rapids.jar.xz.part* | xz -d > "$rt/rapids-4-spark.jar"
  [[ $(sha256sum "$rt/rapids-4-spark.jar" | cut -d' ' -f1) == "$(cat "$last/rapids.sha256")" ]] || { echo "[dry-run] the slim jar's SHA-256 does not match" >&2; exit 1; }
  jobs_jar=$(ls jobs/target*/ssdspark-jobs-*-spark.jar | head -1)
  cp "$jobs_jar" "$rt/ssdspark-jobs-spark.jar"; cp "$(dirname "$jobs_jar")/spark.classpath" "$rt/"
  mkdir -p "$rt/jre/bin" && ln -s "$(command -v java)" "$rt/jre/bin/java"
  rc=0; run_check "$rt" "${OUT:-/tmp/ssd-rapids-dry-out}" --no-plugin || rc=$?
  rm -rf "$rt"; exit $rc
fi
echo "usage: gpu-rapids.sh stage | there DIR [run] | dry-run" >&2
exit 2
