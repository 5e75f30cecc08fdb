"""Plain-torch HSA with the semantics of the authors' Triton op `HSA` (ops/hsa_triton.py:_attn_fwd).

q [N, L, HQ, d]; k, v [N, L_kv, H, d] (chunk memory, L_kv = C * S); weights (fp32) and indices
(int64, >= 0) [N, L / Q_X, H, K] (Q_X = 1 in the DRT model). Query head j reads KV head j // G,
G = HQ / H. For token t, head j, slot k with chunk c = indices[t, h, k] and weight w:
    s[j'] = q[t, j] . k[c*S + j', h] * sm_scale          (sm_scale = d^-0.5 when None)
    p[j'] = exp(s[j']) / (sum_j'' exp(s[j'']) + sm_n)     (sm_n = 1: softmax off by one)
    O[t, j] = sum_k w * sum_j' p[j'] v[c*S + j', h]
Padding slots (index 0, weight 0) are computed and multiplied by 0, as in the kernel. Backward is
torch's autograd of this; reg_lamda / reg_C are accepted and unused, as in their kernels.
"""
import math

import torch


def HSA(q, k, v, weights, indices, sm_n, chunk_size, sm_scale, reg_lamda=0.01, reg_C=50.0):
    N, L, HQ, d = q.shape
    L_kv, H = k.shape[1], k.shape[2]
    assert L_kv % chunk_size == 0, "the memory holds whole chunks"
    assert HQ % H == 0
    assert weights.shape == indices.shape
    assert torch.all(indices >= 0)
    G, K, blocks = HQ // H, indices.shape[-1], indices.shape[1]
    assert L % blocks == 0
    scale = 1 / math.sqrt(d) if sm_scale is None else sm_scale
    idx = indices.repeat_interleave(L // blocks, dim=1)                      # [N, L, H, K]
    w = weights.repeat_interleave(L // blocks, dim=1)
    kc = k.reshape(N, L_kv // chunk_size, chunk_size, H, d).permute(0, 1, 3, 2, 4)   # [N, C, H, S, d]
    vc = v.reshape(N, L_kv // chunk_size, chunk_size, H, d).permute(0, 1, 3, 2, 4)
    n_idx = torch.arange(N, device=q.device).view(N, 1, 1, 1)
    h_idx = torch.arange(H, device=q.device).view(1, 1, H, 1)
    kg = kc[n_idx, idx, h_idx]                                                # [N, L, H, K, S, d]
    vg = vc[n_idx, idx, h_idx]
    qg = q.reshape(N, L, H, G, d).float()
    s = torch.einsum("nlhgd,nlhksd->nlhgks", qg, kg.float()) * scale
    m = s.amax(dim=-1, keepdim=True)
    e = torch.exp(s - m)
    p = e / (e.sum(dim=-1, keepdim=True) + sm_n * torch.exp(-m))
    per_chunk = torch.einsum("nlhgks,nlhksd->nlhgkd", p, vg.float())
    out = torch.einsum("nlhgkd,nlhk->nlhgd", per_chunk, w.float())
    return out.reshape(N, L, HQ, d).to(q.dtype)
