"""PreTrainedModel: the init / tie / load plumbing the DRT classes use (no hub, no sharding)."""
import os

import torch
from torch import nn

from .configuration_utils import LlamaConfig


class PreTrainedModel(nn.Module):
    config_class = None
    base_model_prefix = ""
    supports_gradient_checkpointing = False

    def __init__(self, config, *inputs, **kwargs):
        super().__init__()
        self.config = config

    # HF: post_init() -> init_weights() -> _init_weights on every module, then tie_weights().
    def post_init(self):
        self.apply(self._init_weights)
        self.tie_weights()

    def _init_weights(self, module):
        pass

    def get_input_embeddings(self):
        raise NotImplementedError

    def get_output_embeddings(self):
        return None

    def tie_weights(self):
        """lm_head shares the embedding matrix when config.tie_word_embeddings (HF's rule)."""
        if getattr(self.config, "tie_word_embeddings", True):
            out = self.get_output_embeddings()
            if out is not None:
                out.weight = self.get_input_embeddings().weight

    @classmethod
    def from_pretrained(cls, folder, config=None, **kwargs):
        """config.json + model.safetensors (fp32/bf16/f16); every parameter must be in the file."""
        from safetensors_io import read_safetensors  # the harness's own reader

        if config is None:
            config = LlamaConfig.from_json_file(os.path.join(folder, "config.json"))
        model = cls(config)
        state = {k: torch.from_numpy(v) for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
        dtype = next(model.parameters()).dtype
        state = {k: v.to(dtype) for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = getattr(config, "tie_word_embeddings", True) and model.get_output_embeddings() is not None
        allowed_missing = {"lm_head.weight"} if tied else set()
        if set(missing) - allowed_missing or unexpected:
            raise RuntimeError(f"loading {folder}: missing {sorted(set(missing) - allowed_missing)}, unexpected {sorted(unexpected)}")
        model.tie_weights()
        return model.eval()
