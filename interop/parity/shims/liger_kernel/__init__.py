"""Shim for Liger-Kernel: plain-torch versions of the three pieces the DRT model uses."""
