"""Shim package standing in for the authors' `ops` (their Triton kernels need a CUDA GPU)."""
