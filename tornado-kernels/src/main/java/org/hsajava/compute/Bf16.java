package org.hsajava.compute;

/**
 * bfloat16 conversions on the host: a bf16 number is the upper half of an fp32 number's bits, so
 * widening is exact and narrowing rounds away 16 mantissa bits. The rounding is the one tensor-core
 * kernels use ({@code cvt.rn.bf16x2.f32}, {@code tc_bf16x2} in {@code kernels/tc.h}): to nearest, ties
 * to even; NaN stays a (quiet) NaN.
 */
public final class Bf16 {
    private Bf16() {}

    /** x rounded to bf16 (nearest, ties to even), as its 16-bit pattern. */
    public static short fromFloat(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The value of a bf16 pattern, exactly. */
    public static float toFloat(short b) { return Float.intBitsToFloat((b & 0xffff) << 16); }

    /** x rounded to the nearest bf16 value and widened back: what a bf16 store and load do to x. */
    public static float round(float x) { return toFloat(fromFloat(x)); }
}
