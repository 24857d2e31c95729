#!/usr/bin/env bash
# Spark GPU discovery script: prints the GPUs of this host as Spark's resource JSON, e.g.
#   {"name":"gpu","addresses":["0","1"]}
# Use on every executor host:
#   --conf spark.executor.resource.gpu.discoveryScript=/path/to/gpu-discovery.sh
# The addresses are CUDA device indices as nvidia-smi numbers them; ssdspark runs each task on the first GPU
# Spark assigned to it (TaskContext.resources()), translated through CUDA_VISIBLE_DEVICES when that is set.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo '{"name":"gpu","addresses":[]}'
  exit 0
fi
ids=$(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ' | awk 'NF {printf "%s\"%s\"", (n++ ? "," : ""), $1}')
echo "{\"name\":\"gpu\",\"addresses\":[${ids}]}"
