"""ModelOutput (tuple-like indexing of a dataclass), logging, and docstring decorators (no-ops)."""
import dataclasses

from . import logging


class ModelOutput:
    """Like HF's: attribute access, and integer/slice indexing over the fields that are not None."""

    def to_tuple(self):
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None)

    def __getitem__(self, key):
        return getattr(self, key) if isinstance(key, str) else self.to_tuple()[key]


def _identity_decorator(*args, **kwargs):
    return lambda fn: fn


add_start_docstrings = add_start_docstrings_to_model_forward = replace_return_docstrings = _identity_decorator
