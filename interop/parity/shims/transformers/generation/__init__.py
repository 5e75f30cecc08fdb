class GenerationMixin:
    """Generation is not used by the parity harness."""
