#!/usr/bin/env bash
# Two engine builds on one GPU unit, alternated (the H200's clocks move ~5-10 % between calls, so a change is only
# measured against its base inside one call). Runs on the GPU host from the GPU bundle (tools/gpu/run-gpu-tests.sh):
# GpuBenchmark with the bundle's jars ("new"), then with the base build's kernels and model jars in front ("base"),
# ROUNDS times, base first; prints ms a batch per workload and run, and each workload's mean new - base.
#
#   OUT=dir BASE_JARS=.gpu-bundle-base [BUNDLE=.gpu-bundle] [ROUNDS=2] [ITERS=5] bash tools/bench/gpu_ab.sh workloads
#
# BASE_JARS holds ssdspark-kernels-*.jar and ssdspark-model-*.jar built at the base commit (in a git worktree:
# SSD_TAG=-base SSD_CUDA_ARCHS=90 bash tools/gpu/run-gpu-tests.sh, then copy the two jars from its bundle's lib/).
set -u
W=${1:?usage: OUT=dir BASE_JARS=dir bash tools/bench/gpu_ab.sh workload[,workload...]}
B=${BUNDLE:-.gpu-bundle}
: "${OUT:?OUT must name the output folder}" "${BASE_JARS:?BASE_JARS must name the folder of the base build jars}"
RT=${SSD_RT:-/tmp/ssd-rt}
mkdir -p "$OUT" "$RT"
[ -x "$RT/jre/bin/java" ] || tar xJf "$B/jre.tar.xz" -C "$RT"
NEW="$(ls "$B"/lib/*.jar | tr '\n' :)"
BASE="$(ls "$BASE_JARS"/*.jar | tr '\n' :)$NEW"
for r in $(seq 1 "${ROUNDS:-2}"); do
  for side in base new; do
    cp=$NEW; [ $side = base ] && cp=$BASE
    "$RT/jre/bin/java" -Xmx32g -cp "$cp" ssdspark.model.bench.GpuBenchmark --workloads "$W" --iters "${ITERS:-5}" \
      --json "$OUT/bench-$side-$r.json" > "$OUT/bench-$side-$r.log" 2>&1 || echo "$side round $r failed: $OUT/bench-$side-$r.log"
  done
done
python3 - "$OUT" <<'PY'
import glob, json, os, sys
from collections import defaultdict
ms = defaultdict(lambda: defaultdict(list))  # row -> side -> ms of each run
for f in sorted(glob.glob(os.path.join(sys.argv[1], "bench-*.json"))):
    side = os.path.basename(f).split("-")[1]
    for w in json.load(open(f))["workloads"]:
        ms[w["name"]][side].append(w["ms_median"])
        for fam, v in w.get("profile", {}).get("families", {}).items():  # kernel time of the profiled batch
            ms[w["name"] + " " + fam][side].append(v["ms"])
print("%-36s %-24s %-24s %s" % ("ms a batch (families: kernel ms)", "base", "new", "new - base"))
for name, s in ms.items():
    b, n = s.get("base", []), s.get("new", [])
    d = sum(n) / len(n) - sum(b) / len(b) if b and n else float("nan")
    print("%-36s %-24s %-24s %+.2f" % (name, " / ".join("%.2f" % x for x in b), " / ".join("%.2f" % x for x in n), d))
PY
