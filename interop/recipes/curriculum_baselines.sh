#!/usr/bin/env bash
# The window curriculum's baselines: configs/tiny-passkey-stage{1,2}.json with attention_kind swa_only or
# full_causal (HSA-only fields dropped, 5 layers), trained side by side through ./hsa train (stage 1, then
# stage 2 with --init-from), then one ./hsa eval of the shipped HSA model with both as baselines.
#
# On the GPU machine, from the repository root, with the program packed as in BENCHMARKS.md (HSA_RUN is
# the launcher, e.g. "bash /tmp/d/.device/run"): interop/recipes/curriculum_baselines.sh [OUT]
# Locally: HSA_RUN=./hsa with the class name dropped (HSA_MAIN=""). Writes OUT/report.json + report.html.
set -euo pipefail
REPO=$PWD; C=$REPO/configs; OUT=${1:-$PWD/runs/curriculum-baselines}
R=${HSA_RUN:-./hsa}; M=${HSA_MAIN-org.hsajava.cli.HsaCli}
[ "$R" = ./hsa ] && M=""
W=$(mktemp -d); mkdir -p "$OUT"
for kind in swa_only full_causal; do for st in 1 2; do python3 - "$C/tiny-passkey-stage$st.json" "$W/$kind-$st.json" "$kind" <<'PY'
import json, sys
src, dst, kind = sys.argv[1:]
c = json.load(open(src))
c["attention_kind"] = kind
c["num_lower_layers"] = 5   # the HSA model's 2 + 2 SWA layers + its encoder layer
for k in ["chunk_size", "chunk_topk", "enable_lmk_norm", "enable_qk_norm", "enable_softmax", "enable_softmax1", "enc_prenorm",
          "encoder_layers", "hsa_only", "num_kv_heads", "num_upper_groups", "num_upper_layers", "reset_hsa_residual",
          "retrieval_dim", "mask_slide_window"]:
    c.pop(k, None)
json.dump(c, open(dst, "w"), indent=2)
PY
done; done
for kind in swa_only full_causal; do (
  $R $M train --config "$W/$kind-1.json" --out "$W/$kind-1" --val-batches 0 > "$W/$kind-1.log" 2>&1
  $R $M train --config "$W/$kind-2.json" --init-from "$W/$kind-1" --out "$W/$kind-2" --val-batches 0 > "$W/$kind-2.log" 2>&1
  echo "$kind trained: $W/$kind-2" ) &
done
wait
$R $M eval --checkpoint "$REPO/checkpoints/tiny-passkey" --label hsa --baseline swa_only="$W/swa_only-2" --baseline full_causal="$W/full_causal-2" \
  --tasks passkey --lengths 256,1K,4K,16K,64K,256K --samples 16 --max-dense-length 16K --out "$OUT"
