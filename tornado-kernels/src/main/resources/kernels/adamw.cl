#include "common.h"

// AdamW over a flat parameter buffer, in torch.optim.AdamW's order of operations
// (single-tensor path, amsgrad=False, maximize=False), for i < n:
//   g  = grad[i] * gradScale                   (gradScale: the global-norm clipping factor)
//   p *= 1 - lr * wd                           (decoupled weight decay, applied first)
//   m  = m + (1 - b1) * (g - m)                (torch: exp_avg.lerp_(grad, 1 - beta1))
//   v  = b2 * v + (1 - b2) * g * g
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),   bc1 = 1 - b1^t, bc2 = 1 - b2^t
// Bias corrections are computed as -expm1(t * log(b)), accurate for any step t >= 1 (1 - pow(b, t)
// in float loses most digits when b^t is close to 1). They depend on t alone, so one work-item per
// group computes them into local memory: four transcendentals per element made PoCL 40x slower
// than the plain Java loop.
__kernel void adamw_step(__global float* param, __global const float* grad, __global float* m, __global float* v,
                         const int n, const float lr, const float beta1, const float beta2, const float eps,
                         const float wd, const float gradScale, const int step) {
    __local float corr[2]; // lr / bc1, sqrt(bc2)
    if (get_local_id(0) == 0) {
        corr[0] = lr / -expm1((float) step * log(beta1));
        corr[1] = sqrt(-expm1((float) step * log(beta2)));
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const int i = get_global_id(0);
    if (i >= n) return; // after the barrier
    const float stepSize = corr[0], bc2Sqrt = corr[1];
    const float g = grad[i] * gradScale;
    float p = param[i] * (1.0f - lr * wd);
    const float mi = m[i] + (1.0f - beta1) * (g - m[i]);
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p -= stepSize * (mi / (sqrt(vi) / bc2Sqrt + eps));
    param[i] = p;
}
