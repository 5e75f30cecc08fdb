package org.hsajava.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.hsajava.compute.ExecutionResult;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;

class HsaAttentionBenchTest {

    @Test
    void runsAtATinyLengthAndReportsBothRows() {
        List<HsaAttentionBench.Row> rows = HsaAttentionBench.run(TestDevices.java(), 1, new int[] {130}, null);
        assertEquals(List.of("hsa fwd", "hsa fwd+bwd"), rows.stream().map(HsaAttentionBench.Row::what).toList());
        for (HsaAttentionBench.Row r : rows) {
            assertEquals(130, r.length());
            assertTrue(r.medianMs() > 0);
        }
        assertTrue(HsaAttentionBench.deviceBytes(TestDevices.java(), 1, 130) > 0);
    }

    @Test
    void countingSortIndexMatchesTheObviousOne() {
        int B = 2, L = 600, H = HsaAttentionBench.H, K = HsaAttentionBench.K, S = HsaAttentionBench.S;
        Rand r = new Rand(3);
        int[] idx = new int[B * L * H * K];
        for (int bt = 0; bt < B * L; bt++) {
            int eligible = bt % L / S;
            // any chunk ids will do for the index (repeats included); only valid slots are listed
            for (int s = 0; s < Math.min(K, eligible); s++) idx[bt * K + s] = r.nextInt(eligible);
        }
        int[][] fast = HsaAttentionBench.invertSelection(idx, B, L);
        int[][] slow = org.hsajava.kernels.HsaAttentionTestAccess.invertSelection(idx, B, L, H, S, K);
        assertArrayEquals(slow[0], fast[0]);
        assertArrayEquals(slow[1], fast[1]);
        // the index ends at the number of valid (token, slot) pairs, which the bench's rates count
        int pairs = 0;
        for (int t = 0; t < L; t++) pairs += B * H * Math.min(K, t / S);
        assertEquals(pairs, fast[0][fast[0].length - 1]);
    }

    @Test
    void productRatesAreTheHandCountOfTheExperimentsDoc() {
        // docs/experiments/hsa-fp32-async.md section 3: 1,030,144 valid pairs at B = 8, L = 16K; the H100's
        // cp.async kernels took 10.77 / 15.80 / 18.07 ms for 25.1 / 25.6 / 29.9 TFLOP/s
        ExecutionResult profile = new ExecutionResult(List.of(
                new ExecutionResult.TaskTiming("fwdbwd.fwd", "kernel", 10_770_000),
                new ExecutionResult.TaskTiming("fwdbwd.bwdq", "kernel", 15_800_000),
                new ExecutionResult.TaskTiming("fwdbwd.bwdkv", "kernel", 18_070_000)));
        assertEquals("small products: 1030144 valid (token, slot) pairs, 135.0 GFLOP per product;"
                + " fwd 2 x 25.1 TFLOP/s bwdq 3 x 25.6 TFLOP/s bwdkv 4 x 29.9 TFLOP/s", HsaAttentionBench.productRates(profile, 1_030_144));
        // a plan without the backward reports the forward alone
        // (2 * 16 * 64 * 64 * 10 = 1.31 MFLOP per product, two of them in 1 ms: 2.6 GFLOP/s)
        assertEquals("small products: 10 valid (token, slot) pairs, 1.3 MFLOP per product; fwd 2 x 2.6 GFLOP/s",
                HsaAttentionBench.productRates(new ExecutionResult(List.of(new ExecutionResult.TaskTiming("fwd", "kernel", 1_000_000))), 10));
    }
}
