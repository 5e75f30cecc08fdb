package org.hsajava.kernels;

/** Lets tests in other packages reuse {@link HsaAttentionTest}'s obvious inverted-index builder. */
public final class HsaAttentionTestAccess {
    private HsaAttentionTestAccess() {}

    public static int[][] invertSelection(int[] idx, int B, int L, int H, int S, int K) {
        return HsaAttentionTest.invertSelection(idx, B, L, H, S, K);
    }
}
