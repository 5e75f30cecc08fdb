#include "common.h"
#include "bf16.h"

// SwiGLU gate: h = silu(g) * u, silu(g) = g * sigmoid(g).
// Backward with s = sigmoid(g):  du = dh * silu(g),  dg = dh * u * s * (1 + g * (1 - s)).
// Two layouts: separate g and u tensors of n elements each; or the fused projection output
// gu [rows, 2f] whose first half of each row is the gate g and the second half is u
// (as `gate, up = proj(x).chunk(2, dim=-1)`).

static inline float swiglu_silu(const float g) { return g * sigmoid_f(g); }

static inline float swiglu_dgate(const float g, const float u, const float dh) {
    const float s = sigmoid_f(g);
    return dh * u * s * (1.0f + g * (1.0f - s));
}

// h[i] = silu(g[i]) * u[i], i < n.
__kernel void swiglu_forward(__global const float* g, __global const float* u, __global float* h, const int n) {
    const int i = get_global_id(0);
    if (i < n) h[i] = swiglu_silu(g[i]) * u[i];
}

// The same, also writing h16[i] = bf16(h[i]): the input of the bf16 down projection.
__kernel void swiglu_forward_bf16(__global const float* g, __global const float* u, __global float* h, __global ushort* h16, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float v = swiglu_silu(g[i]) * u[i];
    h[i] = v;
    h16[i] = (ushort) bf16_bits(v);
}

// dg[i], du[i] as above (overwritten).
__kernel void swiglu_backward(__global const float* g, __global const float* u, __global const float* dh,
                              __global float* dg, __global float* du, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float gi = g[i], ui = u[i], d = dh[i];
    du[i] = d * swiglu_silu(gi);
    dg[i] = swiglu_dgate(gi, ui, d);
}

// The same, also writing dg16 = bf16(dg) and du16 = bf16(du): the dy of the bf16 gate/up GEMMs.
__kernel void swiglu_backward_bf16(__global const float* g, __global const float* u, __global const float* dh,
                                   __global float* dg, __global float* du, __global ushort* dg16, __global ushort* du16, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float gi = g[i], ui = u[i], d = dh[i];
    const float vu = d * swiglu_silu(gi), vg = swiglu_dgate(gi, ui, d);
    du[i] = vu;
    dg[i] = vg;
    du16[i] = (ushort) bf16_bits(vu);
    dg16[i] = (ushort) bf16_bits(vg);
}

// bf16 activations (mixed precision where every GEMM around the MLP reads bf16): g and u are the
// gate/up GEMMs' bf16 outputs, h16 = bf16(silu(g) * u) is the only output.
__kernel void swiglu_forward_16(__global const ushort* g, __global const ushort* u, __global ushort* h16, const int n) {
    const int i = get_global_id(0);
    if (i < n) h16[i] = (ushort) bf16_bits(swiglu_silu(bf16_float(g[i])) * bf16_float(u[i]));
}

// Its backward from the bf16 g, u and the fp32 dh: dg16 = bf16(dg), du16 = bf16(du) only (the gate/up
// GEMMs' dy).
__kernel void swiglu_backward_16(__global const ushort* g, __global const ushort* u, __global const float* dh,
                                 __global ushort* dg16, __global ushort* du16, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float gi = bf16_float(g[i]), ui = bf16_float(u[i]), d = dh[i];
    du16[i] = (ushort) bf16_bits(d * swiglu_silu(gi));
    dg16[i] = (ushort) bf16_bits(swiglu_dgate(gi, ui, d));
}

// Fused input: h[r, c] = silu(gu[r, c]) * gu[r, f + c].   Grid: dimension 0 = c < f, dimension 1 = row.
__kernel void swiglu_forward_fused(__global const float* gu, __global float* h, const int rows, const int f) {
    const int c = get_global_id(0), r = get_global_id(1);
    if (c >= f || r >= rows) return;
    const long in = (long) r * 2 * f + c;
    h[(long) r * f + c] = swiglu_silu(gu[in]) * gu[in + f];
}

// Fused backward: dgu[r, c] = dg, dgu[r, f + c] = du (the gradient of the [rows, 2f] projection output).
__kernel void swiglu_backward_fused(__global const float* gu, __global const float* dh, __global float* dgu, const int rows, const int f) {
    const int c = get_global_id(0), r = get_global_id(1);
    if (c >= f || r >= rows) return;
    const long in = (long) r * 2 * f + c;
    const float gi = gu[in], ui = gu[in + f], d = dh[(long) r * f + c];
    dgu[in] = swiglu_dgate(gi, ui, d);
    dgu[in + f] = d * swiglu_silu(gi);
}
