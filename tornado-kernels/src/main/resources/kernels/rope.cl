#include "common.h"

// Rotary position embedding, HuggingFace Llama convention (rotate_half), on x [tokens, heads, d]
// (tokens = batch * len, row-major; d even, h = d / 2). For pair index i < h and position p:
//   a = p * invFreq[i]   (invFreq[i] = theta^(-2i/d) for plain RoPE)
//   out[i]     = x[i] * cos a - x[i + h] * sin a
//   out[i + h] = x[i + h] * cos a + x[i] * sin a
// which is out = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1], cos/sin repeated
// over both halves. With ROPE_INVERSE=1 the angle is -a: the backward pass (dx = R(-a) dy, R is
// orthogonal) and the exact inverse of the forward. In place is allowed (out == x): each
// work-item reads its pair before writing it.
//
// Angle accuracy. In fp32, p * invFreq at p = 16M is ~1e7 rad and carries an absolute error of
// about 1 rad. Instead the host passes each frequency as a 64-bit fixed-point fraction of a turn,
// F[i] = round(invFreq[i] / (2 pi) * 2^64) (Rope.frequencyTable, computed in double/BigDecimal),
// stored as two ints (low word first). Then p * F[i] mod 2^64, exact in 64-bit integer arithmetic
// (wrap-around is the reduction modulo one turn), is the angle's fraction of a turn; read as a
// signed 64-bit number times 2^-63 it is the angle in half-turns in [-1, 1], and sinpi/cospi of it give sin/cos with no
// further range reduction. Error: about 2e-7 rad at any |p| < 2^31 (negative positions work too).
#ifndef ROPE_INVERSE
#define ROPE_INVERSE 0
#endif
// ROPE_OUT_BF16=1: out is bf16 (the inputs of the bf16 attention kernels), each value rounded to
// nearest even; x stays fp32 and out is then never x.
#ifndef ROPE_OUT_BF16
#define ROPE_OUT_BF16 0
#endif
#if ROPE_OUT_BF16
#include "bf16.h"
typedef ushort rope_out;
#define ROPE_STORE(v) ((ushort) bf16_bits(v))
#else
typedef float rope_out;
#define ROPE_STORE(v) (v)
#endif

// cos and sin of the angle p * invFreq[i], see above.
static inline float2 rope_cos_sin(const int p, __global const int* freq, const int i) {
    const ulong f = ((ulong) (uint) freq[2 * i + 1] << 32) | (ulong) (uint) freq[2 * i];
    const ulong turns = (ulong) (long) p * f;                             // fraction of a turn, mod 2^64
    const float halfTurns = (float) (long) turns * 1.0842021724855044e-19f; // * 2^-63: signed, in [-1, 1] half-turns
    const float s = sinpi(halfTurns), c = cospi(halfTurns);
    return (float2) (c, ROPE_INVERSE ? -s : s);
}

// Rotates pair i of every head of one token (the angle depends on the token and i only, so it is
// computed once for all heads).
static inline void rope_rotate_token(__global const float* x, __global rope_out* out, const long tokenBase, const int heads, const int d,
                                     const int i, const float2 cs) {
    const int halfD = d / 2;
    for (int h = 0; h < heads; h++) {
        const long base = tokenBase + (long) h * d;
        const float x1 = x[base + i], x2 = x[base + i + halfD];
        out[base + i] = ROPE_STORE(x1 * cs.x - x2 * cs.y);
        out[base + i + halfD] = ROPE_STORE(x2 * cs.x + x1 * cs.y);
    }
}

// Positions start + l, l = token % len (the token's index within its sequence).
// Grid: dimension 0 = pair index i < d / 2, dimension 1 = token.
__kernel void rope_contiguous(__global const float* x, __global rope_out* out, __global const int* freq,
                              const int tokens, const int len, const int heads, const int d, const int start) {
    const int i = get_global_id(0), t = get_global_id(1);
    if (i >= d / 2 || t >= tokens) return;
    rope_rotate_token(x, out, (long) t * heads * d, heads, d, i, rope_cos_sin(start + t % len, freq, i));
}

// Positions from a tensor: token t is at position positions[t].
__kernel void rope_positions(__global const float* x, __global rope_out* out, __global const int* freq, __global const int* positions,
                             const int tokens, const int heads, const int d) {
    const int i = get_global_id(0), t = get_global_id(1);
    if (i >= d / 2 || t >= tokens) return;
    rope_rotate_token(x, out, (long) t * heads * d, heads, d, i, rope_cos_sin(positions[t], freq, i));
}
