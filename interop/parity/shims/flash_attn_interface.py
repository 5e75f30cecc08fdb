"""Shim for FlashAttention-3's `flash_attn_func` (and FA2's, same semantics for what the model uses).

q [B, Lq, H, d], k and v [B, Lk, Hkv, d] (GQA: query head j reads KV head j // (H / Hkv)).
Key j is visible to query i (aligned bottom-right, i.e. query i sits at position i + Lk - Lq) iff
    causal          -> j <= i
    window (l, r)   -> i - l <= j (if l >= 0) and j <= i + r (if r >= 0)
then softmax(q.k * softmax_scale) v with softmax_scale = d^-0.5 by default: masked attention in the
input dtype (fp32 here), materialising the [B, H, Lq, Lk] scores; a query that sees no key gets 0
(FlashAttention's convention). Returns only the output tensor (some FA3 builds also return the lse).
With a left window (sliding-window attention) the queries are processed in blocks against only the
keys the block can see, so time and memory are O(Lq * window) rather than O(Lq * Lk): the same
masked softmax (the keys left out would get exp(-inf) = 0), just not materialised.
"""
import torch


def flash_attn_func(q, k, v, *args, softmax_scale=None, causal=False, window_size=(-1, -1), dropout_p=0.0, **kwargs):
    if args:
        raise TypeError("shim: pass everything after q, k, v by keyword (the DRT model does)")
    if dropout_p:
        raise NotImplementedError("shim: attention dropout (the DRT model uses none)")
    B, Lq, H, d = q.shape
    Lk, Hkv = k.shape[1], k.shape[2]
    if H % Hkv:
        raise ValueError(f"{H} query heads are not a multiple of {Hkv} KV heads")
    scale = d ** -0.5 if softmax_scale is None else softmax_scale
    k = k.repeat_interleave(H // Hkv, dim=2)
    v = v.repeat_interleave(H // Hkv, dim=2)
    left, right = window_size
    if left >= 0 and (causal or right >= 0) and Lq > 2 * max(left, 1):
        block = max(left, 64)
        outputs = []
        reach = min(0, right) if causal and right >= 0 else (0 if causal else right)  # last visible key - query
        for q0 in range(0, Lq, block):
            q1 = min(Lq, q0 + block)
            k0 = max(0, q0 + (Lk - Lq) - left)
            k1 = min(Lk, q1 - 1 + (Lk - Lq) + reach + 1)
            outputs.append(_masked_attention(q[:, q0:q1], k[:, k0:k1], v[:, k0:k1], scale, causal, window_size,
                                             q_offset=q0 + (Lk - Lq), k_offset=k0))
        return torch.cat(outputs, dim=1)
    return _masked_attention(q, k, v, scale, causal, window_size, q_offset=Lk - Lq, k_offset=0)


def _masked_attention(q, k, v, scale, causal, window_size, q_offset, k_offset):
    """softmax(q.k * scale, masked) v, query i at position i + q_offset, key j at j + k_offset."""
    Lq, Lk = q.shape[1], k.shape[1]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
    i = torch.arange(Lq, device=q.device).view(Lq, 1) + q_offset
    j = torch.arange(Lk, device=q.device).view(1, Lk) + k_offset
    visible = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device)
    left, right = window_size
    if causal:
        visible &= j <= i
    if left >= 0:
        visible &= j >= i - left
    if right >= 0:
        visible &= j <= i + right
    scores = scores.masked_fill(~visible, float("-inf"))
    probs = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # a query with no visible key gets 0, as in FlashAttention
    return torch.einsum("bhqk,bkhd->bqhd", probs, v)
