package org.hsajava.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
    }
}
