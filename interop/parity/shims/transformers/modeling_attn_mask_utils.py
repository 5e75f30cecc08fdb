class AttentionMaskConverter:
    """Type name only."""
