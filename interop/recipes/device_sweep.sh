#!/usr/bin/env bash
# Several ./hsa train runs at once on the GPU machine (no JDK there: a jlinked pack), then ./hsa eval of
# every checkpoint of each run at L, 4L and 16L (L = the config's train.seq_len). Tiny models are
# launch-bound, so six or seven share one H100 at 40-55k tokens/s each (docs/experiments.md).
#
# Here:   ./hsa build && CP="eval/target/classes:$(ls eval/target/lib/*.jar | tr '\n' ':')" && \
#         /work/shared/device/pack.sh "$CP" && mkdir -p .devpack && tar cJf .devpack/app.tar.xz .device && rm -rf .device
#         mkdir -p .devpack/exp && cp my-configs/*.json .devpack/exp/      (one config per run, named NAME.json)
# There:  device tool, carry [".devpack"], command:
#         bash interop/recipes/device_sweep.sh TRAIN_SECONDS NAME...
# Output in $OUT/NAME.log: train exit status, the loss every 100 steps, the eval table of each checkpoint;
# the last 40 lines of the train log and any JVM crash file (hs_err_pid*.log) if the run did not exit 0/124.
set -u
T=$1; shift
mkdir -p /tmp/d && tar xJf .devpack/app.tar.xz -C /tmp/d
R="bash /tmp/d/.device/run org.hsajava.cli.HsaCli"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/env.txt" 2>&1
for c in "$@"; do
  (
    mkdir -p "/tmp/work/$c" && cd "/tmp/work/$c" || exit 1
    cfg="$OLDPWD/.devpack/exp/$c.json"
    timeout "$T" $R train --config "$cfg" --out "/tmp/runs/$c" --val-batches 0 > train.log 2>&1
    rc=$?
    echo "train rc=$rc" > "$OUT/$c.log"
    if [ "$rc" != 0 ] && [ "$rc" != 124 ]; then
      tr '\r' '\n' < train.log | grep -v '^\s*$' | tail -40 >> "$OUT/$c.log"
      cp hs_err_pid*.log "$OUT/" 2>/dev/null
    fi
    awk 'NR%100==0' "/tmp/runs/$c/metrics.jsonl" 2>/dev/null | sed -E 's/\{"step":([0-9]+),"loss":([0-9.E-]{1,7}).*/step \1 loss \2/' >> "$OUT/$c.log"
    L=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['train']['seq_len'])" "$cfg")
    for ck in /tmp/runs/$c/checkpoints/step-*; do
      [ -d "$ck" ] || continue
      echo "== $ck" >> "$OUT/$c.log"
      $R eval --checkpoint "$ck" --lengths "$L,$((4 * L)),$((16 * L))" --tasks passkey --samples 16 --depths 0.1,0.5,0.9 2>&1 \
        | grep -E "^passkey|^task" >> "$OUT/$c.log"
    done
  ) &
done
wait
