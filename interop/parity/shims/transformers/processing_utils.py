from typing import Unpack  # noqa: F401  (type hints only)
