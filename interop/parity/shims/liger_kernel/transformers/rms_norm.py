"""LigerRMSNorm, casting mode "llama": y = w * (x / sqrt(mean(x^2) + eps)), the normalisation in fp32."""
import torch
from torch import nn


class LigerRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6, offset=0.0, casting_mode="llama", init_fn="ones", in_place=True):
        super().__init__()
        if offset != 0.0 or casting_mode != "llama":
            raise NotImplementedError("shim: only offset 0 and casting mode 'llama' (what the DRT model uses)")
        self.weight = nn.Parameter(torch.ones(hidden_size) if init_fn == "ones" else torch.zeros(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        dtype = x.dtype
        x32 = x.to(torch.float32)
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * normed.to(dtype)
