#include "common.h"
// Deliberately broken: used by ExecutionPlanTest to check that build errors carry the compiler log.
__kernel void broken_kernel(__global float* x) {
    x[get_global_id(0)] = undefined_symbol_here;
}
