#!/usr/bin/env bash
# On the GPU host, from the repository root, once tools/pipeline/gpu_job.sh staged the JRE, Spark and the job jar in
# $SSD_RT (default /tmp/ssd-rt). Makes a random 130M-size model and a >= 20M-token corpus (tools/pipeline/make_gpu_inputs.py),
# then measures, on the same GPU and the same documents with the same token budget:
#   1. the engine alone (ssdspark.jobs.bench.EngineAlone: DocumentRunner.scoreAll over batches, one thread, no Spark)
#   2. the whole job: bin/ssdspark's entry point in Spark local mode, --device gpu, Parquet in, Parquet out
#   3. the engine alone with as many threads as the job has task slots (when time is left)
# Prints END-TO-END / ENGINE-ALONE lines and their ratio; logs and results under $OUT (default /tmp/ssd-out).
# Environment: GJ_DEVICE (gpu), GJ_LONG_DOCS (4), GJ_ENGINE1 (1: run step 1), GJ_ENGINE_TOKENS (all: step 3 on the first N
#              tokens only), GJ_TOKENS (20000000), GJ_SLOTS (4), GJ_BUDGET (16384), GJ_CHUNK (2048), GJ_PRECISION (bf16),
#              GJ_TEXT_TOKENS (0: no text job; else a plain-text job with the tiny tokenizer), GJ_DEADLINE (330 s).
set -uo pipefail
t_start=$(date +%s)
RT=${SSD_RT:-/tmp/ssd-rt}
OUT=${OUT:-/tmp/ssd-out}
mkdir -p "$OUT"
W=${GJ_WORK:-/tmp/gj}
TOKENS=${GJ_TOKENS:-20000000}
SLOTS=${GJ_SLOTS:-4}
BUDGET=${GJ_BUDGET:-16384}
CHUNK=${GJ_CHUNK:-2048}
PREC=${GJ_PRECISION:-bf16}
DEV=${GJ_DEVICE:-gpu}   # cpu: a dry run of this script on a machine without a GPU (with a small GJ_TOKENS)
prec=(--precision "$PREC")
[[ $DEV == cpu ]] && prec=()
DEADLINE=${GJ_DEADLINE:-330}
JAVA=$RT/jre/bin/java
[[ -x $JAVA && -f $RT/spark.classpath && -f $RT/ssdspark-jobs-spark.jar ]] || { echo "runtime not staged in $RT" >&2; exit 1; }
OPENS=$(sed -n 's:.*<spark.jvm.opens>\(.*\)</spark.jvm.opens>.*:\1:p' pom.xml)
CP="$RT/ssdspark-jobs-spark.jar:$(cat "$RT/spark.classpath")"
export SPARK_LOCAL_IP=127.0.0.1 DJL_CACHE_DIR=/tmp/djl
# a wrapper, so that timeout can run it
J=/tmp/gj-java.sh
cat > "$J" <<WRAP
#!/usr/bin/env bash
exec "$JAVA" $OPENS -Xmx48g -Djava.io.tmpdir=/tmp -Dlog4j2.configurationFile="$PWD/bin/log4j2.properties" -cp "$CP" "\$@"
WRAP
chmod +x "$J"
now() { python3 -c 'import time; print(time.time())'; }
log() { echo "$@" | tee -a "$OUT/log"; }
left() { echo $((DEADLINE - ($(date +%s) - t_start))); }

log "== $(date -u +%FT%TZ) gpu_run: $TOKENS tokens, local[$SLOTS], budget $BUDGET, chunk $CHUNK, $PREC"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader 2>&1 | tee -a "$OUT/log"
text=()
[[ ${GJ_TEXT_TOKENS:-0} -gt 0 ]] && text=(--text-tokens "$GJ_TEXT_TOKENS")
python3 tools/pipeline/make_gpu_inputs.py "$W" --tokens "$TOKENS" --long-docs "${GJ_LONG_DOCS:-4}" --parquet-files 16 "${text[@]}" 2>&1 | tee -a "$OUT/log"
[[ -f $W/corpus/_SUCCESS ]] || "$J" ssdspark.jobs.bench.CorpusToParquet "$W/corpus.bin" "$W/corpus" 16 2>&1 | grep -v -E "WARN (Utils|NativeCodeLoader)" | tee -a "$OUT/log"

if [[ ${GJ_ENGINE1:-1} == 1 ]]; then
  log "== 1. engine alone, 1 thread ($(left) s left)"
  timeout "$(left)" "$J" ssdspark.jobs.bench.EngineAlone "$W/model" "$W/corpus.bin" \
    --device "$DEV" --precision "$PREC" --token-budget "$BUDGET" --chunk-tokens "$CHUNK" --threads 1 2>&1 | grep -v WARN | tee -a "$OUT/log"
fi

log "== 2. the job, local[$SLOTS], --device $DEV ($(left) s left)"
t0=$(now)
timeout "$(left)" "$J" ssdspark.jobs.Main score --model "$W/model" --input "$W/corpus" \
  --output "$W/out" --overwrite --device "$DEV" "${prec[@]}" --token-budget "$BUDGET" --chunk-tokens "$CHUNK" --master "local[$SLOTS]" \
  --progress 5 --conf spark.ui.enabled=false 2>&1 | grep -v -E "WARN (Utils|NativeCodeLoader)" | tee "$OUT/job.log" | tee -a "$OUT/log"
t1=$(now)
log "job process wall time (JVM start to exit): $(python3 -c "print(round($t1 - $t0, 1))") s"
cp "$W/out/_ssdspark.json" "$OUT/job_ssdspark.json" 2>/dev/null || true

if (( $(left) > 30 )); then
  log "== 3. engine alone, $SLOTS threads ($(left) s left)"
  timeout "$(left)" "$J" ssdspark.jobs.bench.EngineAlone "$W/model" "$W/corpus.bin" --max-tokens "${GJ_ENGINE_TOKENS:-$TOKENS}" \
    --device "$DEV" --precision "$PREC" --token-budget "$BUDGET" --chunk-tokens "$CHUNK" --threads "$SLOTS" 2>&1 | grep -v WARN | tee -a "$OUT/log"
else
  log "== 3. skipped: $(left) s left"
fi

if [[ ${GJ_TEXT_TOKENS:-0} -gt 0 ]] && (( $(left) > 60 )); then
  log "== 4. text job: plain text, tiny tokenizer, local[$SLOTS] ($(left) s left)"
  timeout "$(left)" "$J" ssdspark.jobs.Main score --model "$W/model" --input "$W/text" \
    --format text --doc-per line --tokenizer examples/tiny-tokenizer.json --output "$W/out-text" --overwrite --device "$DEV" "${prec[@]}" \
    --token-budget "$BUDGET" --master "local[$SLOTS]" --progress 5 --conf spark.ui.enabled=false 2>&1 | grep -v -E "WARN (Utils|NativeCodeLoader)" | tee -a "$OUT/log"
fi

log "== results"
e1=$(grep -o 'threads=1 .*= [0-9]* tok/s' "$OUT/log" | grep -o '[0-9]* tok/s' | grep -o '[0-9]*' | tail -1)
eT=$(grep -o "threads=$SLOTS .*= [0-9]* tok/s" "$OUT/log" | grep -o '[0-9]* tok/s' | grep -o '[0-9]*' | tail -1)
job=$(python3 -c "import json; print(json.load(open('$OUT/job_ssdspark.json'))['ssdspark.summary']['tokens_per_second'])" 2>/dev/null)
{
  echo "END-TO-END job (local[$SLOTS], Parquet in/out, summary wall time): ${job:-?} tok/s"
  echo "ENGINE-ALONE 1 thread: ${e1:-?} tok/s; $SLOTS threads: ${eT:-?} tok/s"
  [[ -n $job && -n $e1 ]] && python3 -c "print(f'ratio end-to-end / engine alone (1 thread): {$job/$e1:.2f}')"
  [[ -n $job && -n $eT ]] && python3 -c "print(f'ratio end-to-end / engine alone ($SLOTS threads): {$job/$eT:.2f}')"
  echo "total $(($(date +%s) - t_start)) s"
} | tee "$OUT/results.txt" | tee -a "$OUT/log"
# the logs are meant to be committed: the scratch folder by name, not by its path on this host
sed -i "s:$W/:\$GJ_WORK/:g" "$OUT"/*.log "$OUT/log" "$OUT/job_ssdspark.json" 2>/dev/null || true
