#!/usr/bin/env bash
# Build what tools/bench/cpu_vs_hf.sh needs on a host without Java, into .bench-bundle/ (in .gitignore): the kernels
# and model jars (with jackson-core), and a jlinked Java 17 runtime (~32 MB) made by $SSD_SHARED/gpu/jre.sh (SSD_SHARED: the folder with
# the GPU-host helper scripts; default: shared/ next to the repository).
# usage (repo root): tools/bench/bundle.sh   then copy .bench-bundle/ into the other host's checkout
set -euo pipefail
cd "$(dirname "$0")/../.."
jre_sh=${SSD_SHARED:-$PWD/../shared}/gpu/jre.sh
tag=${SSD_TAG:--bench}
# model reads JSON with jackson-core: copied beside the jars
mvn -q -B -Dssd.tag="$tag" -pl model -am -Dmaven.test.skip=true package dependency:copy-dependencies \
  -DincludeGroupIds=com.fasterxml.jackson.core -DoutputDirectory="$PWD/.bench-bundle/app"
mkdir -p .bench-bundle/app
cp kernels/target"$tag"/ssdspark-kernels-*.jar model/target"$tag"/ssdspark-model-*.jar .bench-bundle/app/
[ -f .bench-bundle/jre.tar.xz ] || bash "$jre_sh" .bench-bundle
ls -l .bench-bundle .bench-bundle/app
