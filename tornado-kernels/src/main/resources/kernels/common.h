// common.h: shared by every kernel source (pulled in by #include "common.h", expanded on the host).
//
// Build-time macros set by the host:
//   HSA_NVIDIA  the device is an NVIDIA GPU (inline PTX allowed in fast paths)
//   HSA_CPU     the device is a CPU (PoCL)
// plus each kernel's own -D constants (tile sizes, transposes, head dims).
#ifndef HSA_COMMON_H
#define HSA_COMMON_H

// Row-major 2-D index.
#define IDX2(row, col, ld) ((row) * (ld) + (col))

// Integer ceiling division.
#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

// Numerically stable softplus log(1 + e^x), linear above the threshold (as torch's softplus, threshold 15... see users).
inline float softplus_f(float x) { return x > 15.0f ? x : log1p(exp(x)); }

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp(-x)); }

#endif
