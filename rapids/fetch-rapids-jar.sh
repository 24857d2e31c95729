#!/usr/bin/env bash
# Puts the RAPIDS Accelerator's jar (the version and classifier of the root pom) into the local Maven repository.
# Maven cannot fetch it itself: its published POM names a parent (rapids-4-spark-parent_2.13) that is not on Maven
# Central, and every Maven download reads that descriptor first (see rapids/pom.xml). ~576 MB, once; checked
# against Central's SHA-1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$root/pom.xml" | head -1; }
a="rapids-4-spark_$(prop scala.binary)" v=$(prop rapids.version) c=$(prop rapids.classifier)
repo=$HOME/.m2/repository  # where the systemPath in rapids/pom.xml looks
dir="$repo/com/nvidia/$a/$v" jar="$a-$v-$c.jar"
url="${MAVEN_CENTRAL:-https://repo.maven.apache.org/maven2}/com/nvidia/$a/$v/$jar"
mkdir -p "$dir"
if [[ -f "$dir/$jar" && -f "$dir/$jar.sha1" ]] && [[ "$(sha1sum "$dir/$jar" | cut -d' ' -f1)" == "$(cut -c1-40 "$dir/$jar.sha1")" ]]; then
  exit 0
fi
echo "[rapids] downloading $url"
curl -fsSL --retry 3 -o "$dir/$jar.sha1" "$url.sha1"
curl -fsSL --retry 3 -o "$dir/$jar.part" "$url"
if [[ "$(sha1sum "$dir/$jar.part" | cut -d' ' -f1)" != "$(cut -c1-40 "$dir/$jar.sha1")" ]]; then
  echo "[rapids] SHA-1 of $jar does not match Maven Central's" >&2
  rm -f "$dir/$jar.part"
  exit 1
fi
mv "$dir/$jar.part" "$dir/$jar"
