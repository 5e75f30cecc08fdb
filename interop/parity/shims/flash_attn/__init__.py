"""Shim for FlashAttention-2 (`from flash_attn import flash_attn_func`, the chunk encoder's call)."""
from flash_attn_interface import flash_attn_func  # noqa: F401  (one masked-softmax implementation for both)
