"""Recipe probe: train the authors' PyTorch DRTForCausalLM on passkey samples and watch retrieval.

A research tool for finding training recipes fast on a GPU machine that has PyTorch but no JDK.
The model is theirs (fetched and patched by interop/parity/authors.py, run through the plain-torch
shims of interop/parity/shims/); HSA-Java trains the same model identically (train_parity.py: losses
equal to 1e-7 over 20 steps), so what learns here learns there, and a recipe found here is then run
with `./hsa train`.

Data: HSA-Java's PasskeyTask with the byte tokenizer, re-stated here (train/.../PasskeyTask.java,
SampleBuilder.java, SentencePool.java): the row is [eos] + filler + needle at the depth (snapped to
the nearest sentence start) + question + answer, L + 1 tokens; filler = the five passkey sentences
repeated from a random one, each with a leading space; needle " The passkey is: 71432."; question
" What is the passkey? The passkey is:"; answer " 71432" (loss on the answer tokens only).

Every --eval-every steps: teacher-forced exact match on fixed held-out samples at depths spread over
[0, 1], and what the first retrieval layer does where the first digit is predicted: whether the chunk
holding the needle's first digit is selected (KV head 0) and the weight it gets.

  python3 passkey_torch.py --authors-src DIR --config their-config.json [--set field=JSON ...]
         [--steps N] [--batch B] [--length L] [--lr X] [--depth-min A --depth-max B] [--digits D]
"""
import argparse
import contextlib
import io
import json
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PARITY = os.path.join(os.path.dirname(HERE), "parity")
sys.path[:0] = [os.path.join(PARITY, "shims"), PARITY]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

EOS = 258
SENTENCES = ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."]


def enc(text):
    return list(text.encode("utf-8"))


SENT_TOKENS = [enc(" " + s) for s in SENTENCES]


def filler(n, rng):
    """n filler tokens and the sentence start offsets (SentencePool.fill)."""
    out, starts, i = [], [], rng.randrange(len(SENTENCES))
    while len(out) < n:
        starts.append(len(out))
        out.extend(SENT_TOKENS[i % len(SENTENCES)])
        i += 1
    return out[:n], [s for s in starts if s < n]


def snap(target, starts, length):
    cands = starts + [length]
    return min(cands, key=lambda s: (abs(s - target), s))


def passkey_sample(length, depth, digits, rng):
    """(tokens [length], answer start, answer length, needle start, first digit position)."""
    key = "".join(str(rng.randrange(10)) for _ in range(digits))
    needle = enc(" The passkey is: " + key + ".")
    question = enc(" What is the passkey? The passkey is:")
    answer = enc(" " + key)
    fill_len = length - 1 - len(needle) - len(question) - len(answer)
    text, starts = filler(fill_len, rng)
    at = snap(depth * fill_len, starts, fill_len)
    tokens = [EOS] + text[:at] + needle + text[at:] + question + answer
    assert len(tokens) == length
    needle_start = 1 + at
    first_digit = needle_start + len(" The passkey is: ")
    return tokens, length - len(answer), len(answer), needle_start, first_digit


def batch(n, length, depth_range, digits, rng, device):
    rows, targets, meta = [], [], []
    for _ in range(n):
        depth = rng.uniform(*depth_range)
        toks, a0, alen, ns, fd = passkey_sample(length + 1, depth, digits, rng)
        x = toks[:-1]
        y = [-100] * length
        for p in range(a0, a0 + alen):  # token p is predicted at input position p - 1
            y[p - 1] = toks[p]
        rows.append(x)
        targets.append(y)
        meta.append((a0, alen, fd))
    return (torch.tensor(rows, device=device), torch.tensor(targets, device=device), meta)


def lr_at(step, peak, warmup, total, r):
    if step <= warmup:
        return peak * step / warmup
    p = 1.0 if total == warmup else min(1.0, (step - warmup) / (total - warmup))
    return peak * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p)))


def load_model(src, config_path, overrides, seed, device):
    sys.path.insert(2, src)
    with contextlib.redirect_stdout(io.StringIO()):
        from model.modeling_swa_hsa import DRTForCausalLM
        from transformers import LlamaConfig
    with open(config_path) as f:
        cfg = json.load(f)
    cfg.update(overrides)
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        model = DRTForCausalLM(LlamaConfig(**cfg))
    return model.to(device), cfg


def retrieval_hook(model):
    """Keeps (weights, indices) of the first RetrievalLayer of each forward."""
    kept = {}
    for layer in model.backbone.layers:
        if type(layer).__name__ == "RetrievalLayer":
            def hook(module, inputs, output):
                kept["w"], kept["idx"] = output[1].detach(), output[5].detach()
            layer.register_forward_hook(hook)
            break
    return kept


@torch.no_grad()
def evaluate(model, kept, eval_set, chunk_size):
    exact = tokens_right = tokens_all = selected = 0
    weight = 0.0
    counted = 0
    for x, y, meta in eval_set:
        with contextlib.redirect_stdout(io.StringIO()):
            logits = model(x).logits.float()
        pred = logits.argmax(-1)
        for r, (a0, alen, fd) in enumerate(meta):
            ok = [pred[r, p - 1].item() == y[r, p - 1].item() for p in range(a0, a0 + alen)]
            exact += all(ok)
            tokens_right += sum(ok)
            tokens_all += alen
            t = a0  # the position that predicts the first digit (a0 is the space; a0 + 1 the first digit)
            chunk = fd // chunk_size
            if (chunk + 1) * chunk_size <= t and "idx" in kept:
                idx, w = kept["idx"][r, t, 0], kept["w"][r, t, 0]
                hit = idx == chunk
                selected += bool(hit.any())
                weight += float((w * hit).sum())
                counted += 1
    n = sum(len(m) for _, _, m in eval_set)
    return {"exact": exact / n, "answer_tokens": tokens_right / tokens_all,
            "needle_selected": selected / counted if counted else float("nan"),
            "needle_weight": weight / counted if counted else float("nan")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--authors-src", required=True, help="their patched sources (interop/parity/authors.py prepare(...)/src)")
    ap.add_argument("--config", required=True, help="their config.json (e.g. from ./hsa export)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="override a field of their config")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--min-lr-ratio", type=float, default=0.2)
    ap.add_argument("--weight-decay", type=float, default=0.001)
    ap.add_argument("--depth-min", type=float, default=0.0)
    ap.add_argument("--depth-max", type=float, default=1.0)
    ap.add_argument("--digits", type=int, default=5)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-samples", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=None, help="JSON lines of the evaluations")
    ap.add_argument("--name", default="run")
    args = ap.parse_args()

    overrides = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        overrides[k] = json.loads(v)
    model, cfg = load_model(args.authors_src, args.config, overrides, args.seed, args.device)
    kept = retrieval_hook(model)
    params = dict(model.named_parameters())
    opt = torch.optim.AdamW([{"params": [p for p in params.values() if p.ndim == 2], "weight_decay": args.weight_decay},
                             {"params": [p for p in params.values() if p.ndim != 2], "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    rng = random.Random(args.seed)
    eval_rng = random.Random(12345)
    eval_set = []
    per = 16
    for i in range(args.eval_samples // per):
        lo = i / (args.eval_samples // per)
        eval_set.append(batch(per, args.length, (lo, lo + 1 / (args.eval_samples // per)), args.digits, eval_rng, args.device))
    out = open(args.out, "a") if args.out else None
    t0 = time.time()
    losses = []
    for step in range(1, args.steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.lr, args.warmup, args.steps, args.min_lr_ratio)
        x, y, _ = batch(args.batch, args.length, (args.depth_min, args.depth_max), args.digits, rng, args.device)
        model.train()
        with contextlib.redirect_stdout(io.StringIO()):
            logits = model(x).logits.float()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            model.train()  # the training path (no cache); no dropout in these configs
            ev = evaluate(model, kept, eval_set, cfg["chunk_size"])
            rec = {"name": args.name, "step": step, "loss": sum(losses[-args.eval_every:]) / len(losses[-args.eval_every:]),
                   "seconds": round(time.time() - t0, 1), **ev}
            print(json.dumps(rec), flush=True)
            if out:
                out.write(json.dumps(rec) + "\n")
                out.flush()


if __name__ == "__main__":
    main()
