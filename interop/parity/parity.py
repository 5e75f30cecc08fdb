"""Parity harness: the authors' PyTorch DRTForCausalLM against HSA-Java on the same token ids.

For each config: train a few steps here (`./hsa train`), export (`./hsa export`) -> the "trained"
model; build their model in PyTorch with their own init (plus randomised norm weights and biases,
so that every tensor's name and layout matter), save it in their layout and `./hsa import` it ->
the "random" model. For each length (multiples of chunk_size * chunk_topk) and model: their logits
(training path, fp32, with the patches of authors.py and the shims of shims/) vs `./hsa score` on
each device. Run it through run.sh (it finds a Python with torch).
"""
import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(HERE, "shims"), HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import authors  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

TARGET = 1e-4  # the issue's bound on the relative logits difference in fp32


def hsa(*args, log):
    """Runs the launcher; its output goes to the log file, a failure raises with the log's tail."""
    cmd = [os.path.join(REPO, "hsa"), *map(str, args)]
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        rc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed ({rc}):\n{tail}")


def load_authors_class(src):
    sys.path.insert(2, src)  # after the shims: their `ops` must not shadow shims/ops
    with contextlib.redirect_stdout(io.StringIO()):
        from model.modeling_swa_hsa import DRTForCausalLM  # noqa: E402
    return DRTForCausalLM


def quiet(fn, *args, **kwargs):
    """Their constructors print their settings; keep the harness output readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def make_random_model(cls, config_json, out_dir, seed, perturb):
    """Their model with their init (seeded); constant tensors (norm weights 1, biases 0) randomised if perturb."""
    from transformers import LlamaConfig

    torch.manual_seed(seed)
    config = LlamaConfig.from_json_file(config_json)
    model = quiet(cls, config)
    perturbed = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if perturb and torch.all(p == p.reshape(-1)[0]):
                base = float(p.reshape(-1)[0])
                p.add_(torch.randn_like(p) * (0.1 if base != 0 else 0.02))
                perturbed.append(name)
    state = model.state_dict()
    tied = getattr(config, "tie_word_embeddings", True)
    tensors = {k: v.detach().contiguous().numpy() for k, v in state.items() if not (tied and k == "lm_head.weight")}
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(config_json, os.path.join(out_dir, "config.json"))
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, {"format": "pt"})
    return perturbed


def make_tokens(path, vocab, length, sequences, seed, chunk_size):
    """Sequence 0: uniform random ids. The others: random, then from L/2 + S/2 + 1 on a copy of their
    start (a copy task). The copy is shifted off the chunk grid: an aligned copy would make chunks
    identical, their landmark scores tie, and the top-K choice among equal scores is arbitrary."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + length)
    ids = torch.randint(0, vocab, (sequences, length), generator=g)
    start = length // 2 + chunk_size // 2 + 1
    ids[1:, start:] = ids[1:, :length - start]
    write_safetensors(path, {"input_ids": ids.numpy().astype(np.int64)}, {"seed": seed})
    return ids


def authors_outputs(cls, hf_dir, ids):
    """Logits of their training path (train mode: no cache, the whole sequence at once) and of their
    inference path (eval mode: cache path, one prefill segment), and each RetrievalLayer's selection."""
    model = quiet(cls.from_pretrained, hf_dir)
    selections, hooks = {}, []
    for i, layer in enumerate(model.backbone.layers):
        if type(layer).__name__ == "RetrievalLayer":
            def keep(module, inputs, output, i=i):
                selections[f"layers.{i}.retrieval"] = (output[5].detach().clone(), output[1].detach().clone())
            hooks.append(layer.register_forward_hook(keep))
    with torch.no_grad():
        model.train()  # training path: dropout is 0 and Gumbel noise off in these configs, so this is deterministic
        train_logits = quiet(model, ids).logits.float()
        train_selections = dict(selections)
        for h in hooks:
            h.remove()
        model.eval()
        eval_logits = quiet(model, ids).logits.float()
    return train_logits, eval_logits, train_selections


def cross_entropy(logits, ids):
    """The authors' trainer's loss: labels = ids shifted left, last position ignored; mean, fp32."""
    labels = torch.roll(ids, -1, dims=1)
    labels[:, -1] = -100
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="none")
    return per_token.reshape(ids.shape), per_token.sum() / (labels != -100).sum()


def effective_selection(indices, weights):
    """The chunks a token really uses, most recent first: slots of weight 0 become -1 and go last.
    Padding slots are 0-weight on both sides; with mask_slide_window their top-k also keeps chunks
    inside the window (score -inf, weight 0, and sorted first by index) where ours pads."""
    e = indices.clone()
    e[weights == 0] = -1
    e, order = e.sort(dim=-1, descending=True)
    return e, weights.gather(-1, order)


def compare(java, ref, ids, ref_selections):
    """Differences of `java` (a ./hsa score file) from `ref` (their logits)."""
    a = torch.from_numpy(java["logits"]).double()
    b = ref.double()
    diff = (a - b).abs()
    scale = b.abs().max().item()
    ref_token_losses, ref_loss = cross_entropy(ref, ids)
    java_loss = float(java["loss"][0])
    row = {
        "max_abs_logit_diff": diff.max().item(),
        "max_abs_logit": scale,
        "rel_max": diff.max().item() / scale,
        "rel_elem": (diff / b.abs().clamp(min=0.01 * scale)).max().item(),
        "loss_java": java_loss,
        "loss_authors": ref_loss.item(),
        "rel_loss_diff": abs(java_loss - ref_loss.item()) / abs(ref_loss.item()),
        "max_abs_token_loss_diff": (torch.from_numpy(java["token_losses"]).double() - ref_token_losses.double()).abs().max().item(),
    }
    tokens_differing, slots_total, slots_differing, weight_diff = 0, 0, 0, 0.0
    for name, (idx_ref, w_ref) in ref_selections.items():
        idx_java = torch.from_numpy(java[name + ".indices"]).long()
        w_java = torch.from_numpy(java[name + ".weights"]).double()
        if idx_java.shape != idx_ref.shape:
            raise RuntimeError(f"{name}: selection shapes differ: java {tuple(idx_java.shape)}, authors {tuple(idx_ref.shape)}")
        (ej, wj), (er, wr) = effective_selection(idx_java, w_java), effective_selection(idx_ref, w_ref.double())
        differs = ej != er
        slots_total += differs.numel()
        slots_differing += int(differs.sum())
        tokens_differing += int(differs.flatten(2).any(-1).sum())
        weight_diff = max(weight_diff, (wj - wr).abs().max().item())
    row.update(selection_tokens=sum(int(idx.flatten(2).shape[0] * idx.flatten(2).shape[1]) for idx, _ in ref_selections.values()),
               selection_slots=slots_total, selection_slots_differing=slots_differing,
               selection_tokens_differing=tokens_differing, max_abs_chunk_weight_diff=weight_diff)
    return row


def markdown(rows):
    """The results as a Markdown table (what BENCHMARKS.md shows)."""
    head = ["config", "model", "L", "device", "max abs Δlogit", "max rel (max\\|Δ\\|/max\\|ref\\|)", "max rel per element",
            "loss Java", "loss PyTorch", "rel Δloss", "(token, retrieval layer) pairs with other chunks", "their inference vs training path", "Java vs their inference path"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            r["config"], r["model"], str(r["length"]), r["device"], f"{r['max_abs_logit_diff']:.1e}", f"{r['rel_max']:.1e}",
            f"{r['rel_elem']:.1e}", f"{r['loss_java']:.6f}", f"{r['loss_authors']:.6f}", f"{r['rel_loss_diff']:.1e}",
            f"{r['selection_tokens_differing']} / {r['selection_tokens']}", f"{r['authors_inference_vs_training_rel_max']:.1e}", f"{r['rel_max_vs_inference']:.1e}"]) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--authors-git-dir", help="bare git dir (or .git) of RamstorageAI/long-context-modeling")
    src.add_argument("--authors-checkout", help="a checkout of RamstorageAI/long-context-modeling")
    ap.add_argument("--authors-rev", default="HEAD", help="revision to extract from --authors-git-dir (default HEAD)")
    ap.add_argument("--configs", default="configs/tiny-cpu.json,interop/parity/configs/parity-variant.json,interop/parity/configs/parity-mean-landmark.json",
                    help="comma-separated config files (relative to the repository root)")
    ap.add_argument("--train-steps", type=int, default=40, help="steps of ./hsa train for the trained model (default 40)")
    ap.add_argument("--train-device", default=None, help="--device for ./hsa train (default: the launcher's default)")
    ap.add_argument("--devices", default="java,opencl", help="comma-separated --device values for ./hsa score (default java,opencl)")
    ap.add_argument("--multiples", default="1,4,16", help="lengths as multiples of chunk_size * chunk_topk (default 1,4,16)")
    ap.add_argument("--sequences", type=int, default=2, help="sequences per length (default 2: one random, one copy task)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-perturb", action="store_true", help="keep their init's constant norm weights (1) and biases (0)")
    ap.add_argument("--without-patch", action="append", default=[], choices=["swa-layout", "chunk-size-64", "lmk-norm-chain"],
                    help="diagnosis: leave one of authors.py's patches out (e.g. swa-layout shows what their SWA bug does)")
    ap.add_argument("--reuse", action="store_true", help="reuse trained runs already in --work")
    ap.add_argument("--work", default=os.path.join(HERE, "work"), help="scratch folder (git-ignored; default interop/parity/work)")
    ap.add_argument("--out", default=None, help="write the results as JSON here (default WORK/results.json)")
    args = ap.parse_args()

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "hsa.log")
    started = time.time()
    info = authors.prepare(os.path.join(work, "authors"),
                           git_dir=os.path.abspath(args.authors_git_dir) if args.authors_git_dir else None,
                           rev=args.authors_rev,
                           checkout=os.path.abspath(args.authors_checkout) if args.authors_checkout else None,
                           skip=args.without_patch)
    cls = load_authors_class(os.path.join(work, "authors", "src"))
    print(f"Authors' code: {info['source']}; patches: {len(info['patches'])} (see {work}/authors/PATCHES.txt)")
    print(f"PyTorch {torch.__version__} on {platform.machine()}, {os.cpu_count()} cores; fp32\n")

    devices = args.devices.split(",")
    rows = []
    for config_path in args.configs.split(","):
        name = os.path.splitext(os.path.basename(config_path))[0]
        cdir = os.path.join(work, name)
        trained, trained_hf = os.path.join(cdir, "trained"), os.path.join(cdir, "trained-hf")
        if not (args.reuse and os.path.isdir(trained)):
            shutil.rmtree(cdir, ignore_errors=True)
            os.makedirs(cdir)
            train = ["train", "--config", config_path, "--steps", args.train_steps, "--out", trained, "--val-batches", 0]
            hsa(*train, *(["--device", args.train_device] if args.train_device else []), log=log)
        hsa("export", "--checkpoint", trained, "--out", trained_hf, log=log)
        random_hf, random_run = os.path.join(cdir, "random-hf"), os.path.join(cdir, "random")
        shutil.rmtree(random_run, ignore_errors=True)
        perturbed = make_random_model(cls, os.path.join(trained_hf, "config.json"), random_hf, args.seed, not args.no_perturb)
        hsa("import", "--hf", random_hf, "--out", random_run, "--config", config_path, log=log)
        with open(os.path.join(trained_hf, "config.json")) as f:
            cfg = json.load(f)
        unit = cfg["chunk_size"] * cfg["chunk_topk"]
        models = [("random", random_run, random_hf), (f"trained {args.train_steps} steps", trained, trained_hf)]
        print(f"{name}: S={cfg['chunk_size']} K={cfg['chunk_topk']} HQ={cfg['num_attention_heads']} Hs={cfg['num_key_value_heads']} "
              f"Hk={cfg['num_kv_heads']} groups={cfg['num_upper_groups']} softmax={cfg['enable_softmax']}; "
              f"random model: their init, {len(perturbed)} constant tensors randomised")
        for multiple in map(int, args.multiples.split(",")):
            length = multiple * unit
            tokens = os.path.join(cdir, f"tokens-{length}.safetensors")
            ids = make_tokens(tokens, cfg["vocab_size"], length, args.sequences, args.seed, cfg["chunk_size"])
            for model_name, run, hf in models:
                t0 = time.time()
                ref, ref_eval, ref_sel = authors_outputs(cls, hf, ids)
                torch_seconds = time.time() - t0
                own = (ref_eval.double() - ref.double()).abs().max().item() / ref.abs().max().item()
                for device in devices:
                    out = os.path.join(cdir, f"scores-{model_name.split()[0]}-{length}-{device.replace(':', '_')}.safetensors")
                    t0 = time.time()
                    hsa("score", "--checkpoint", run, "--tokens", tokens, "--out", out, "--device", device, log=log)
                    java, meta = read_safetensors(out, with_metadata=True)
                    row = {"config": name, "model": model_name, "length": length, "multiple": multiple, "device": device,
                           "device_name": meta.get("device", device), "authors_inference_vs_training_rel_max": own,
                           "seconds_java": time.time() - t0, "seconds_torch": torch_seconds}
                    row.update(compare(java, ref, ids, ref_sel))
                    row["rel_max_vs_inference"] = ((torch.from_numpy(java["logits"]).double() - ref_eval.double()).abs().max()
                                                   / ref_eval.abs().max()).item()
                    rows.append(row)
                    print(f"  {model_name:18s} L={length:5d} {device:7s} max|dlogit| {row['max_abs_logit_diff']:.2e}  rel {row['rel_max']:.2e}  "
                          f"rel/elem {row['rel_elem']:.2e}  loss {row['loss_java']:.6f} vs {row['loss_authors']:.6f}  "
                          f"selection differs at {row['selection_tokens_differing']} tokens  vs their inference path {row['rel_max_vs_inference']:.1e}  "
                          f"{'ok' if row['rel_max'] <= TARGET else 'ABOVE 1e-4'}", flush=True)
    result = {
        "date": datetime.date.today().isoformat(),
        "authors": info,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": " ".join(sys.argv),
        "target_rel_max": TARGET,
        "seconds": time.time() - started,
        "rows": rows,
    }
    out = args.out or os.path.join(work, "results.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(markdown(rows))
    worst = max(r["rel_max"] for r in rows)
    print(f"\nLargest relative logits difference (max|a-b| / max|b|): {worst:.2e} (target {TARGET:.0e}); results in {out}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
