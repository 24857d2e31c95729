#!/usr/bin/env bash
# On the GPU host, from the repository root, once tools/pipeline/gpu_job.sh staged the JRE, Spark, the job jar and the
# text seed in $SSD_RT (default /tmp/ssd-rt). Makes a random 130M-size model, a log-normal pre-tokenized corpus
# (tools/pipeline/make_gpu_inputs.py) and a realistic text corpus (tools/pipeline/make_text_corpus.py, from the seed),
# then measures in one call, each step only while time is left (GJ_DEADLINE):
#   1. the tokenizer alone (ssdspark.jobs.bench.TokenizerBench): text -> packed batches, tok/s per tokenizing thread count,
#      and DJL's batchEncode (one native call per 256 documents, on its own threads) against a call per document
#   2. the engine alone (ssdspark.jobs.bench.EngineAlone, no Spark) with as many threads as the jobs have task slots,
#      on the first GJ_ENGINE_TOKENS tokens of the corpus, the jobs' token budget: the jobs' yardstick
#   3. the Parquet job: bin/ssdspark's entry point in Spark local mode, --device gpu, pre-tokenized Parquet in and out
#   4. the text job: the same on the text corpus (Parquet with an id and a text column), tokenized on the executors
#      with --tokenizer-threads GJ_TOKENIZER_THREADS
#   5. shapes: the engine alone on 16 x 2048 fixed-length documents against log-normal documents packed into the same
#      32768-token batches, with 1 thread and with the jobs' slot count (the 'realistic corpus within 10 % of the fixed
#      shape' target)
# Prints a results table (each job against the engine alone; log-normal against fixed); logs and results under $OUT
# (default /tmp/ssd-out): log (everything), results.txt, job.log, text-job.log, job_ssdspark.json, text-job_ssdspark.json.
# Environment: GJ_DEVICE (gpu; cpu for a dry run), GJ_PRECISION (bf16), GJ_SLOTS (4), GJ_BUDGET (16384), GJ_CHUNK (2048),
#   GJ_TOKENS (12000000: the pre-tokenized corpus), GJ_LONG_DOCS (4), GJ_ENGINE_TOKENS (6000000), GJ_TEXT_TOKENS (12000000;
#   0: no text job), GJ_TOKENIZER (examples/demo-mamba2/tokenizer.json), GJ_TOKENIZER_THREADS (0 = auto: cores / slots),
#   GJ_TOKBENCH_THREADS (1,2,4,8,16; empty: no tokenizer bench), GJ_FIXED_TOKENS (4194304: per shape run; 0: no shapes),
#   GJ_SHAPE_THREADS ("1 $GJ_SLOTS"), GJ_AB_START (0; 1: each job also runs first with -Dssdspark.serialStart=true, the
#   start one step after another as before it overlapped the model load, for the before/after of the start), GJ_AB_SCHEMA
#   (0; 1: each job also runs first with -Dssdspark.parquetSchemaJob=true, Spark's Parquet schema job as before), GJ_MODEL (a model folder instead of the random 130M one; dry runs:
#   examples/tiny-mamba2 with GJ_VOCAB=317 and GJ_TOKENIZER=examples/tiny-tokenizer.json), GJ_VOCAB (50280), GJ_WORK
#   (/tmp/gj), GJ_DEADLINE (330 s).
set -uo pipefail
t_start=$(date +%s)
RT=${SSD_RT:-/tmp/ssd-rt}
OUT=${OUT:-/tmp/ssd-out}
mkdir -p "$OUT"
W=${GJ_WORK:-/tmp/gj}
mkdir -p "$W"
TOKENS=${GJ_TOKENS:-12000000}
SLOTS=${GJ_SLOTS:-4}
BUDGET=${GJ_BUDGET:-16384}
CHUNK=${GJ_CHUNK:-2048}
PREC=${GJ_PRECISION:-bf16}
DEV=${GJ_DEVICE:-gpu}   # cpu: a dry run of this script on a machine without a GPU (small token counts, GJ_MODEL)
TEXT_TOKENS=${GJ_TEXT_TOKENS:-12000000}
TOK=${GJ_TOKENIZER:-examples/demo-mamba2/tokenizer.json}
TTHREADS=${GJ_TOKENIZER_THREADS:-0}
TB_THREADS=${GJ_TOKBENCH_THREADS-1,2,4,8,16}
FIXED=${GJ_FIXED_TOKENS:-4194304}
SHAPE_THREADS=${GJ_SHAPE_THREADS:-1 $SLOTS}
VOCAB=${GJ_VOCAB:-50280}
MODEL=${GJ_MODEL:-$W/model}
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
quiet() { grep -v -E "WARN (Utils|NativeCodeLoader)|^SLF4J"; }
# the tok/s of the last line of file $1 matching $2
rate() { grep -E "$2" "$1" 2>/dev/null | grep -o '= [0-9]* tok/s' | grep -o '[0-9]*' | tail -1; }
summary_rate() { python3 -c "import json; print(json.load(open('$1'))['ssdspark.summary']['tokens_per_second'])" 2>/dev/null; }
engine() { # LOGFILE CORPUS THREADS BUDGET [MAX_TOKENS]
  timeout "$(left)" "$J" ssdspark.jobs.bench.EngineAlone "$MODEL" "$2" --max-tokens "${5:-999999999999}" --device "$DEV" \
    --precision "$PREC" --token-budget "$4" --chunk-tokens "$CHUNK" --threads "$3" 2>&1 | grep -v WARN | tee "$1" | tee -a "$OUT/log"
}

log "== $(date -u +%FT%TZ) gpu_run: $TOKENS tokens (Parquet), $TEXT_TOKENS text tokens, local[$SLOTS], budget $BUDGET, chunk $CHUNK, $PREC, $(nproc) cores"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader 2>&1 | tee -a "$OUT/log"
model_args=()
[[ -n ${GJ_MODEL:-} ]] && model_args=(--no-model)
python3 tools/pipeline/make_gpu_inputs.py "$W" --tokens "$TOKENS" --vocab "$VOCAB" --long-docs "${GJ_LONG_DOCS:-4}" --parquet-files 16 \
  --fixed-tokens "$FIXED" "${model_args[@]}" 2>&1 | tee -a "$OUT/log"
[[ -f $W/corpus/_SUCCESS ]] || "$J" ssdspark.jobs.bench.CorpusToParquet "$W/corpus.bin" "$W/corpus" 16 2>&1 | quiet | tee -a "$OUT/log"
if (( TEXT_TOKENS > 0 )); then
  if [[ -f $RT/text-seed.jsonl.xz ]]; then
    python3 tools/pipeline/make_text_corpus.py expand "$RT/text-seed.jsonl.xz" "$W" --tokens "$TEXT_TOKENS" 2>&1 | tee -a "$OUT/log"
  else
    log "no $RT/text-seed.jsonl.xz (gpu_job.sh stage puts it into the last carry): no text job, no tokenizer bench"; TEXT_TOKENS=0
  fi
fi

if [[ -n $TB_THREADS && $TEXT_TOKENS -gt 0 ]] && (( $(left) > 60 )); then
  log "== 1. tokenizer alone: $TOK, threads $TB_THREADS ($(left) s left)"
  timeout "$(left)" "$J" ssdspark.jobs.bench.TokenizerBench "$TOK" "$W/text-sample.jsonl" --threads "$TB_THREADS" \
    --token-budget "$BUDGET" --native-batch 2>&1 | quiet | tee -a "$OUT/log"
fi

if (( $(left) > 40 )); then
  log "== 2. engine alone, $SLOTS threads, budget $BUDGET, first ${GJ_ENGINE_TOKENS:-6000000} tokens ($(left) s left)"
  engine "$W/engine.out" "$W/corpus.bin" "$SLOTS" "$BUDGET" "${GJ_ENGINE_TOKENS:-6000000}"
fi

# the Parquet job (3) and the text job (4); $1: the log's name, then JVM flags (-Dssdspark.serialStart=true: the start
# one step after another, as before it overlapped the model load)
parquet_job() {
  local name=$1; shift
  log "== 3. the Parquet job, local[$SLOTS], --device $DEV $* ($(left) s left)"
  t0=$(now)
  timeout "$(left)" "$J" "$@" ssdspark.jobs.Main score --model "$MODEL" --input "$W/corpus" \
    --output "$W/out" --overwrite --device "$DEV" "${prec[@]}" --token-budget "$BUDGET" --chunk-tokens "$CHUNK" --master "local[$SLOTS]" \
    --progress 5 --conf spark.ui.enabled=false 2>&1 | quiet | tee "$OUT/$name.log" | tee -a "$OUT/log"
  log "$name: job process wall time (JVM start to exit): $(python3 -c "print(round($(now) - $t0, 1))") s"
  cp "$W/out/_ssdspark.json" "$OUT/${name}_ssdspark.json" 2>/dev/null || true
}
text_job() {
  local name=$1; shift
  log "== 4. the text job: $TOK, --tokenizer-threads $TTHREADS, local[$SLOTS] $* ($(left) s left)"
  t0=$(now)
  timeout "$(left)" "$J" "$@" ssdspark.jobs.Main score --model "$MODEL" --input "$W/text-corpus" --tokenizer "$TOK" \
    --tokenizer-threads "$TTHREADS" --output "$W/out-text" --overwrite --device "$DEV" "${prec[@]}" --token-budget "$BUDGET" \
    --chunk-tokens "$CHUNK" --master "local[$SLOTS]" --progress 5 --conf spark.ui.enabled=false 2>&1 | quiet \
    | tee "$OUT/$name.log" | tee -a "$OUT/log"
  log "$name: job process wall time (JVM start to exit): $(python3 -c "print(round($(now) - $t0, 1))") s"
  cp "$W/out-text/_ssdspark.json" "$OUT/${name}_ssdspark.json" 2>/dev/null || true
}
SERIAL=(-Dssdspark.serialStart=true)
SCHEMA_JOB=(-Dssdspark.parquetSchemaJob=true)
if (( $(left) > 40 )); then
  (( ${GJ_AB_START:-0} )) && parquet_job job-serial "${SERIAL[@]}"
  (( ${GJ_AB_SCHEMA:-0} )) && (( $(left) > 40 )) && parquet_job job-schemajob "${SCHEMA_JOB[@]}"
  (( $(left) > 40 )) && parquet_job job
fi
if (( TEXT_TOKENS > 0 )) && (( $(left) > 40 )); then
  (( ${GJ_AB_START:-0} )) && text_job text-job-serial "${SERIAL[@]}"
  (( ${GJ_AB_SCHEMA:-0} )) && (( $(left) > 40 )) && text_job text-job-schemajob "${SCHEMA_JOB[@]}"
  (( $(left) > 40 )) && text_job text-job
fi

if (( FIXED > 0 )); then
  for th in $SHAPE_THREADS; do
    if (( $(left) > 30 )); then
      log "== 5. shapes, $th thread(s), budget 32768: fixed 16 x 2048 ($(left) s left)"
      engine "$W/fixed-$th.out" "$W/fixed.bin" "$th" 32768
    fi
    if (( $(left) > 30 )); then
      log "== 5. shapes, $th thread(s), budget 32768: log-normal, packed, first $FIXED tokens ($(left) s left)"
      engine "$W/varlen-$th.out" "$W/corpus.bin" "$th" 32768 "$FIXED"
    fi
  done
fi

log "== results"
eng=$(rate "$W/engine.out" ENGINE-ALONE)
job=$(summary_rate "$OUT/job_ssdspark.json")
txt=$(summary_rate "$OUT/text-job_ssdspark.json")
ratio() { [[ -n $1 && -n $2 ]] && python3 -c "print(f'{$1/$2:.2f}')" || echo "?"; }
{
  echo "ENGINE-ALONE $SLOTS threads, budget $BUDGET: ${eng:-?} tok/s"
  echo "PARQUET JOB local[$SLOTS] (summary wall time): ${job:-?} tok/s = $(ratio "$job" "$eng") of the engine alone (target >= 0.80)"
  echo "TEXT JOB local[$SLOTS], --tokenizer-threads $TTHREADS (summary wall time): ${txt:-?} tok/s = $(ratio "$txt" "$eng") of the engine alone (target >= 0.80)"
  if (( ${GJ_AB_START:-0} )); then
    js=$(summary_rate "$OUT/job-serial_ssdspark.json"); ts=$(summary_rate "$OUT/text-job-serial_ssdspark.json")
    echo "PARQUET JOB, start one step after another (-Dssdspark.serialStart=true, as before): ${js:-?} tok/s = $(ratio "$js" "$eng") of the engine alone"
    echo "TEXT JOB, start one step after another (-Dssdspark.serialStart=true, as before): ${ts:-?} tok/s = $(ratio "$ts" "$eng") of the engine alone"
  fi
  if (( ${GJ_AB_SCHEMA:-0} )); then
    js=$(summary_rate "$OUT/job-schemajob_ssdspark.json"); ts=$(summary_rate "$OUT/text-job-schemajob_ssdspark.json")
    echo "PARQUET JOB with Spark's schema job (-Dssdspark.parquetSchemaJob=true, as before): ${js:-?} tok/s = $(ratio "$js" "$eng") of the engine alone"
    echo "TEXT JOB with Spark's schema job (-Dssdspark.parquetSchemaJob=true, as before): ${ts:-?} tok/s = $(ratio "$ts" "$eng") of the engine alone"
  fi
  for f in "$OUT"/job*.log "$OUT"/text-job*.log; do # each job's start line (ms after the JVM started)
    [[ -f $f ]] && grep -h "StartLog: start" "$f" | sed "s:^.*StartLog\: :  $(basename "$f" .log)\: :"
  done
  grep -h "job process wall time" "$OUT/log" | sed 's/^/  /'
  for th in $SHAPE_THREADS; do
    f=$(rate "$W/fixed-$th.out" ENGINE-ALONE); v=$(rate "$W/varlen-$th.out" ENGINE-ALONE)
    echo "SHAPES $th thread(s), 32768-token batches: fixed 16 x 2048 ${f:-?} tok/s, log-normal packed ${v:-?} tok/s = $(ratio "$v" "$f") of fixed (target >= 0.90)"
  done
  grep -E "^TOKENIZER-BENCH" "$OUT/log"
  grep -E "^NATIVE" "$OUT/log"
  echo "total $(($(date +%s) - t_start)) s"
} | tee "$OUT/results.txt" | tee -a "$OUT/log"
# the logs are meant to be committed: the scratch folder by name, not by its path on this host
sed -i "s:$W/:\$GJ_WORK/:g" "$OUT"/*.log "$OUT/log" "$OUT"/*_ssdspark.json 2>/dev/null || true
