"""Fetches the authors' DRT model code into an ignored folder and applies the harness's patches.

The code comes from RamstorageAI/long-context-modeling (a bare git dir, e.g. the one the `fetch`
tool gives, or a user's checkout) and is never committed here. Each patch replaces one exact
snippet and fails loudly when the snippet is not found exactly once (their code changed: re-check).
"""
import dataclasses
import os
import shutil
import subprocess
import tarfile
import io

# What their DRTForCausalLM needs (docs/authors-model.md), plus their Triton op for reference only
# (it is NOT imported: shims/ops/hsa_triton.py is a plain-torch version with its semantics).
MODEL_FILES = ["model/modeling_swa_hsa.py", "model/hsa_layers.py", "model/encoder.py", "model/swa.py"]
REFERENCE_FILES = ["ops/hsa_triton.py"]


@dataclasses.dataclass(frozen=True)
class Patch:
    id: str
    file: str
    old: str
    new: str
    why: str


PATCHES = [
    Patch("swa-layout", "model/swa.py",
          "        attn_output = flash_attn_func(\n            query_states,\n            key_states,\n            value_states,\n",
          "        attn_output = flash_attn_func(\n            query_states.transpose(1, 2),  # parity harness: [B, H, L, d] -> [B, L, H, d]\n"
          "            key_states.transpose(1, 2),\n            value_states.transpose(1, 2),\n",
          "SWA layout bug (docs/authors-model.md 5.1): q/k/v are [B, H, L, d] after RoPE but flash_attn_func expects "
          "[B, L, H, d]; as released, attention runs across heads instead of tokens. Transposed back, as their encoder does."),
    Patch("swa-fp32", "model/swa.py",
          "        if query_states.dtype not in (torch.float16, torch.bfloat16):\n",
          "        if False:  # parity harness: keep fp32 (FlashAttention needs bf16/fp16; the shim runs fp32)\n",
          "fp32 parity: their SWA casts fp32 q/k/v to bf16 because FlashAttention-3 only takes half types; the shim "
          "computes in fp32, so the cast is skipped (with bf16 weights, as they train, it is a no-op anyway)."),
    Patch("chunk-size-64", "model/hsa_layers.py",
          "        assert self.chunk_size % 64 == 0\n",
          "        pass  # parity harness: chunk_size % 64 is a Triton block-shape limit; the plain-torch HSA has none\n",
          "chunk_size % 64 == 0 is asserted for their Triton kernel's block shapes; the plain-torch HSA shim takes any "
          "chunk size, so small CPU models (S = 16) run."),
    Patch("lmk-norm-chain", "model/hsa_layers.py",
          "                q_emb = self.lmk_q_norm(q_emb)\n                landmarks = self.lmk_k_norm(landmarks)\n"
          "            scores = torch.einsum('N C h d, N D h d->N C h D', q_emb, landmarks) / math.sqrt(per_head_dim)\n",
          "                q_emb = self.lmk_q_norm(q_emb)\n"
          "            # parity harness: normalise a local copy; the memory's landmarks pass on unchanged\n"
          "            scores = torch.einsum('N C h d, N D h d->N C h D', q_emb, self.lmk_k_norm(landmarks) if self.enable_lmk_norm else landmarks) / math.sqrt(per_head_dim)\n",
          "enable_lmk_norm with 2+ groups: their training path (RetrievalLayer.forward, cache_params None) overwrites "
          "`landmarks` with lmk_k_norm(landmarks) and returns it, so DRTModel.forward hands group g the landmarks already "
          "normalised by groups 0..g-1 (RMSNorms chained). Their own inference path does not (each group normalises the "
          "memory's landmarks, read afresh from the cache), nor does HSA-Java; patched to the inference path's semantics."),
]


def _git(git_dir, *args):
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def prepare(dest, git_dir=None, rev="HEAD", checkout=None, skip=()):
    """Extracts the files into dest/src (model code) and dest/reference, patches dest/src (all patches
    but those whose id is in `skip`: a diagnosis run); returns a description."""
    unknown = set(skip) - {p.id for p in PATCHES}
    if unknown:
        raise ValueError(f"unknown patch ids {sorted(unknown)}; known: {[p.id for p in PATCHES]}")
    patches = [p for p in PATCHES if p.id not in skip]
    if (git_dir is None) == (checkout is None):
        raise ValueError("give exactly one of --authors-git-dir and --authors-checkout")
    shutil.rmtree(dest, ignore_errors=True)
    src, ref = os.path.join(dest, "src"), os.path.join(dest, "reference")
    os.makedirs(src)
    os.makedirs(ref)
    if git_dir is not None:
        commit = _git(git_dir, "rev-parse", f"{rev}^{{commit}}").decode().strip()
        for files, into in ((MODEL_FILES, src), (REFERENCE_FILES, ref)):
            with tarfile.open(fileobj=io.BytesIO(_git(git_dir, "archive", "--format=tar", commit, "--", *files))) as tar:
                tar.extractall(into)
        source = f"{git_dir} at {commit}"
    else:
        for files, into in ((MODEL_FILES, src), (REFERENCE_FILES, ref)):
            for f in files:
                os.makedirs(os.path.dirname(os.path.join(into, f)), exist_ok=True)
                shutil.copyfile(os.path.join(checkout, f), os.path.join(into, f))
        try:
            commit = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], check=True, capture_output=True).stdout.decode().strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            commit = "unknown"
        source = f"{checkout} (checkout, HEAD {commit})"
    for p in patches:
        path = os.path.join(src, p.file)
        with open(path) as f:
            text = f.read()
        count = text.count(p.old)
        if count != 1:
            raise RuntimeError(f"patch for {p.file} matches {count} times (expected once): their code changed; re-check: {p.why}")
        with open(path, "w") as f:
            f.write(text.replace(p.old, p.new))
    with open(os.path.join(dest, "PATCHES.txt"), "w") as f:
        f.write(f"source: {source}\n")
        for p in patches:
            f.write(f"\n[{p.id}] {p.file}: {p.why}\n")
        for p in PATCHES:
            if p.id in skip:
                f.write(f"\n[{p.id}] NOT APPLIED (--without-patch)\n")
    return {"source": source, "commit": commit, "patches": [f"[{p.id}] {p.file}: {p.why}" for p in patches],
            "skipped_patches": sorted(skip)}
