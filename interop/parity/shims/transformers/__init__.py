"""Shim for the few pieces of Hugging Face `transformers` that the authors' DRT model imports.

Only what their modules touch exists here: config classes that keep every keyword as an attribute
(with LlamaConfig's defaults), PreTrainedModel's init/tie/load plumbing, the default RoPE frequency
function, ModelOutput, and names imported only for type hints. Nothing here computes model math
except `modeling_rope_utils` (HF's default inv_freq formula, copied in behaviour: fp32).
"""
from .configuration_utils import LlamaConfig, PretrainedConfig

__all__ = ["LlamaConfig", "PretrainedConfig"]
