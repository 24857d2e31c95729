#!/usr/bin/env bash
# Build what tools/bench/cpu_vs_hf.sh needs on a host without Java, into .bench-bundle/ (git-ignored
# through .git/info/exclude): the kernels and model jars, and a jlinked Java 17 runtime (~32 MB).
# usage (repo root): tools/bench/bundle.sh   then pass carry [".bench-bundle"] to the device run
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${SSD_TAG:--bench}
mvn -q -B -Dssd.tag="$tag" -pl model -am -Dmaven.test.skip=true package
mkdir -p .bench-bundle/app .git/info
grep -qx '/.bench-bundle/' .git/info/exclude 2>/dev/null || echo '/.bench-bundle/' >> .git/info/exclude
cp kernels/target"$tag"/ssdspark-kernels-*.jar model/target"$tag"/ssdspark-model-*.jar .bench-bundle/app/
[ -f .bench-bundle/jre.tar.xz ] || /work/shared/gpu/jre.sh .bench-bundle 2>/dev/null || "${JRE_SH:-shared/gpu/jre.sh}" .bench-bundle
ls -l .bench-bundle .bench-bundle/app
