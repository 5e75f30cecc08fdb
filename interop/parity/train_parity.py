"""Training-step parity: HSA-Java's trainer against the authors' PyTorch DRTForCausalLM trained on the
same rows from the same initial weights.

1. Their model with their init (seeded; constant tensors randomised as in parity.py) is saved in their
   layout and read with `./hsa import` -> step 0 of a Java run.
2. `./hsa train --resume <that run> --steps N --record-batches FILE` trains it here and records every
   micro-batch (inputs, targets with -100 where no loss).
3. Their model, from the same saved weights, is trained in PyTorch on the recorded rows with the same
   recipe: torch.optim.AdamW (decay on every 2-D weight, none on norms, biases, cls_emb), the same
   warm-up + cosine schedule, clip_grad_norm_, mean cross-entropy over the step's valid targets.
4. Per step: both losses (Java's metrics.jsonl) and gradient norms; after N steps: every parameter
   tensor (Java's weights through `./hsa export`), max |a - b| / max |b| per tensor.

fp32 on both sides, so the curves agree closely for a number of steps and then drift apart as
rounding differences grow through training; the report says where. A bug in the loss mask, the
optimizer, the schedule, clipping or a gradient makes them differ from the first steps on.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import parity  # noqa: F401  (puts shims/ first on sys.path)
from parity import REPO, hsa, load_authors_class, make_random_model, quiet  # noqa: E402

import authors  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402


def lr_at(step, t):
    """HSA-Java's LrSchedule: linear warm-up from step 1, cosine to min_lr_ratio at the last step."""
    peak, warmup, total, r = t["lr"], min(t["warmup_steps"], t["steps"]), t["steps"], t["min_lr_ratio"]
    if step <= warmup:
        return peak * step / warmup
    p = 1.0 if total == warmup else min(1.0, (step - warmup) / (total - warmup))
    return peak * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p)))


def train_torch(cls, hf_dir, batches, train, steps, log_every):
    from transformers import LlamaConfig  # noqa: F401  (the shim's config class)
    model = quiet(cls.from_pretrained, hf_dir)
    model.train()
    params = dict(model.named_parameters())
    decay = [p for n, p in params.items() if p.ndim == 2]
    no_decay = [p for n, p in params.items() if p.ndim != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": train["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=train["lr"], betas=tuple(train["betas"]), eps=train["adam_eps"])
    inputs = torch.from_numpy(batches["inputs"]).long()
    targets = torch.from_numpy(batches["targets"]).long()
    micro = int(train["batch_size"])
    accum = int(train.get("grad_accumulation", 1))
    losses, norms = [], []
    t0 = time.time()
    for step in range(1, steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, train)
        opt.zero_grad(set_to_none=False)
        rows = slice((step - 1) * accum * micro, step * accum * micro)
        x, y = inputs[rows], targets[rows]
        valid = (y != -100).sum()
        total = torch.zeros((), dtype=torch.float64)
        for a in range(accum):
            xs, ys = x[a * micro:(a + 1) * micro], y[a * micro:(a + 1) * micro]
            logits = quiet(model, xs).logits.float()
            loss_sum = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys.reshape(-1), ignore_index=-100, reduction="sum")
            (loss_sum / valid).backward()
            total += loss_sum.detach().double()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train["grad_clip"]) if train["grad_clip"] > 0 else \
            torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters()))
        opt.step()
        losses.append((total / valid).item())
        norms.append(float(norm))
        if log_every and (step % log_every == 0 or step == steps):
            print(f"    torch step {step}/{steps}: loss {losses[-1]:.6f}  ({time.time() - t0:.0f} s)", flush=True)
    return model, losses, norms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--authors-git-dir")
    src.add_argument("--authors-checkout")
    ap.add_argument("--config", default="configs/tiny-cpu.json", help="model + train config (relative to the repository root)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--device", default="java", help="--device for ./hsa train (default java)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a train setting for both sides, e.g. --set batch_size=2 --set seq_len=256")
    ap.add_argument("--work", default=os.path.join(parity.HERE, "work", "train"))
    ap.add_argument("--log-every", type=int, default=10)
    args = ap.parse_args()

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "hsa.log")
    info = authors.prepare(os.path.join(work, "authors"),
                           git_dir=os.path.abspath(args.authors_git_dir) if args.authors_git_dir else None,
                           checkout=os.path.abspath(args.authors_checkout) if args.authors_checkout else None)
    cls = load_authors_class(os.path.join(work, "authors", "src"))

    with open(os.path.join(REPO, args.config)) as f:
        cfg = json.load(f)
    for kv in args.set:
        k, v = kv.split("=", 1)
        cfg["train"][k] = json.loads(v)
    cfg["train"]["steps"] = args.steps
    cfg["train"]["checkpoint_interval"] = args.steps
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(cfg, f, indent=2)
    train = cfg["train"]

    # their config.json for this model: `./hsa export` of a one-step Java run writes it in their field names
    probe_run, probe_hf = os.path.join(work, "config-probe"), os.path.join(work, "config-probe-hf")
    init_run, init_hf = os.path.join(work, "init"), os.path.join(work, "init-hf")
    java_run, java_hf = os.path.join(work, "java"), os.path.join(work, "java-hf")
    for d in (probe_run, init_run, java_run):
        shutil.rmtree(d, ignore_errors=True)
    hsa("train", "--config", config_path, "--steps", 1, "--out", probe_run, "--val-batches", 0, "--device", "java", log=log)
    hsa("export", "--checkpoint", probe_run, "--out", probe_hf, log=log)
    make_random_model(cls, os.path.join(probe_hf, "config.json"), init_hf, args.seed, True)
    hsa("import", "--hf", init_hf, "--out", init_run, "--config", config_path, log=log)

    batches_file = os.path.join(work, "batches.safetensors")
    t0 = time.time()
    hsa("train", "--config", config_path, "--resume", init_run, "--out", java_run, "--steps", args.steps, "--val-batches", 0,
        "--device", args.device, "--record-batches", batches_file, log=log)
    java_seconds = time.time() - t0
    hsa("export", "--checkpoint", java_run, "--out", java_hf, log=log)
    with open(os.path.join(java_run, "metrics.jsonl")) as f:
        java_metrics = [json.loads(line) for line in f if line.strip()]
    java_loss = {m["step"]: m["loss"] for m in java_metrics}
    java_norm = {m["step"]: m.get("grad_norm") for m in java_metrics}

    batches = read_safetensors(batches_file)
    print(f"{args.config} ({', '.join(args.set) or 'its train settings'}): {args.steps} steps of "
          f"{train['batch_size']} x {train['seq_len']}; Java ({args.device}) took {java_seconds:.0f} s", flush=True)
    t0 = time.time()
    model, torch_loss, torch_norm = train_torch(cls, init_hf, batches, train, args.steps, args.log_every)
    torch_seconds = time.time() - t0

    rows = []
    for s in range(1, args.steps + 1):
        a, b = java_loss[s], torch_loss[s - 1]
        rows.append({"step": s, "loss_java": a, "loss_torch": b, "rel": abs(a - b) / abs(b),
                     "grad_norm_java": java_norm[s], "grad_norm_torch": torch_norm[s - 1]})
    java_weights = read_safetensors(os.path.join(java_hf, "model.safetensors"))
    state = {k: v.detach() for k, v in model.state_dict().items()}
    tensors = []
    for name, a in java_weights.items():
        b = state[name].double()
        a = torch.from_numpy(a).double()
        tensors.append((name, ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()))
    tensors.sort(key=lambda t: -t[1])

    print("\n| step | loss Java | loss PyTorch | rel Δ | grad norm Java | grad norm PyTorch |")
    print("|---|---|---|---|---|---|")
    show = sorted({1, 2, 3, 5} | set(range(10, args.steps + 1, 10)) | {args.steps})
    for r in rows:
        if r["step"] in show:
            print(f"| {r['step']} | {r['loss_java']:.6f} | {r['loss_torch']:.6f} | {r['rel']:.1e} | "
                  f"{r['grad_norm_java']:.5f} | {r['grad_norm_torch']:.5f} |")
    print(f"\nparameters after {args.steps} steps, max |Java - PyTorch| / max |PyTorch| per tensor, largest: "
          + ", ".join(f"{n} {v:.1e}" for n, v in tensors[:3]) + f"; median {tensors[len(tensors) // 2][1]:.1e}")
    print(f"(PyTorch took {torch_seconds:.0f} s)")
    result = {"config": args.config, "overrides": args.set, "steps": args.steps, "device": args.device, "authors": info,
              "torch": torch.__version__, "rows": rows, "tensors": tensors}
    with open(os.path.join(work, "train-parity.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
