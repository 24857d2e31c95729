#!/usr/bin/env bash
# Packages the GPU tests for a bare GPU host (NVIDIA driver only: no Java, Maven or CUDA toolkit there).
#
#   tools/gpu/run-gpu-tests.sh [BUNDLE_DIR]        (default .gpu-bundle, git-ignored)
#
# Builds the kernels (nvcc -> fatbin) and model modules with their tests (own output folder, -Dssd.tag=-gpu),
# then gathers into BUNDLE_DIR: a jlink'd JRE (jre.tar.xz, made once by $SSD_SHARED/gpu/jre.sh; SSD_SHARED defaults
# to the folder "shared" beside the repository),
# the module jars and test-class jars, JCuda with only the driver-API native library, the JUnit console launcher,
# and tools/gpu/device-run.sh. About 40 MB. Then, on the GPU host, from the repository root:
#
#   bash .gpu-bundle/device-run.sh [tests|bench|sanitize|all]   (results and logs under $OUT, default /tmp/ssd-out)
#
# Copy the bundle to the GPU host with the repository (or carry it there) and run the line above.
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
bundle=${1:-.gpu-bundle}
tag=${SSD_TAG:--gpu}
m2=${M2_REPO:-$HOME/.m2/repository}
jcuda_v=12.6.0
junit_v=1.14.1

echo "[bundle] building kernels + model (target$tag)"
mvn -q -B -Dssd.tag="$tag" -pl model -am package -DskipTests

mkdir -p "$bundle/lib"
rm -f "$bundle"/lib/*.jar
cp kernels/target"$tag"/ssdspark-kernels-*.jar model/target"$tag"/ssdspark-model-*.jar "$bundle/lib/"
jar cf "$bundle/lib/ssdspark-kernels-tests.jar" -C kernels/target"$tag"/test-classes .
jar cf "$bundle/lib/ssdspark-model-tests.jar" -C model/target"$tag"/test-classes .
# grep without -q reads all of its input: under pipefail an early exit would fail unzip with SIGPIPE
if ! unzip -l "$bundle"/lib/ssdspark-kernels-0*.jar | grep ssdspark_kernels.fatbin >/dev/null; then
  echo "[bundle] ERROR: the kernels jar holds no fatbin (was nvcc found?)" >&2
  exit 1
fi

cp "$m2/org/jcuda/jcuda/$jcuda_v/jcuda-$jcuda_v.jar" "$bundle/lib/"
# model's one other runtime dependency (provided by Spark on a cluster), at the version the root pom pins
jackson_v=$(sed -n 's:.*<jackson.version>\(.*\)</jackson.version>.*:\1:p' pom.xml)
cp "$m2/com/fasterxml/jackson/core/jackson-core/$jackson_v/jackson-core-$jackson_v.jar" "$bundle/lib/"
# JCuda's natives jar carries NVRTC/nvPTXCompiler bindings too (26 MB); we need only the driver API.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && unzip -q "$m2/org/jcuda/jcuda-natives/$jcuda_v/jcuda-natives-$jcuda_v-linux-x86_64.jar" "lib/libJCudaDriver-*" \
   && jar cf "$root/$bundle/lib/jcuda-natives-driver-$jcuda_v-linux-x86_64.jar" lib)
console="$m2/org/junit/platform/junit-platform-console-standalone/$junit_v/junit-platform-console-standalone-$junit_v.jar"
# the test launcher is no build dependency: a fresh ~/.m2 does not have it yet
[[ -f $console ]] || mvn -q -B dependency:get -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_v"
cp "$console" "$bundle/"

if [[ ! -f "$bundle/jre.tar.xz" ]]; then
  echo "[bundle] making the JRE (once)"
  bash "${SSD_SHARED:-$root/../shared}/gpu/jre.sh" "$bundle"
fi
cp tools/gpu/device-run.sh "$bundle/"
du -sh "$bundle"; ls -l "$bundle" "$bundle/lib"
