// bf16 rounding shared by the kernels that write bf16 storage.
#ifndef HSA_BF16_H
#define HSA_BF16_H

// x rounded to bf16 (nearest, ties to even; NaN stays NaN), as its 16 bits: Bf16.fromFloat on the host.
static inline uint bf16_bits(const float x) {
    const uint u = as_uint(x);
    if (isnan(x)) return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// The value of the bf16 bits b (exact).
static inline float bf16_float(const ushort b) { return as_float((uint) b << 16); }

#endif  // HSA_BF16_H
