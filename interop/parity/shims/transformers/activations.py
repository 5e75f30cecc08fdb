from torch import nn

ACT2FN = {"silu": nn.SiLU(), "swish": nn.SiLU()}
