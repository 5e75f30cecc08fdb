from ...configuration_utils import LlamaConfig as Qwen2Config  # noqa: F401  (type hints only)
