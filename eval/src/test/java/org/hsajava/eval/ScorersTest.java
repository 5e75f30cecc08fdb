package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.junit.jupiter.api.Test;

/** Which scorer a length gets, and what its memory estimate says. */
class ScorersTest {
    private final Device java = Devices.select("java");

    @Test
    void shortContextsTakeTheFullPassLongOnesStream() throws Exception {
        ModelConfig hsa = TestModels.config("tiny-cpu").model();
        float[] params = TestModels.params(hsa, 1).all().toF32Array();
        try (SequenceScorer s = Scorers.forLength(hsa, params, java, 4, 1024)) {
            assertInstanceOf(FullForwardScorer.class, s);
        }
        try (SequenceScorer s = Scorers.forLength(hsa, params, java, 4, Scorers.STREAMING_FROM)) {
            assertInstanceOf(StreamingScorer.class, s);
        }
        assertTrue(Scorers.streams(TestModels.config("tiny-swa").model(), 1 << 20), "SWA-only models stream too");
        assertFalse(Scorers.streams(TestModels.config("tiny-full").model(), 1 << 20), "full causal attention has nothing to stream into");
    }

    @Test
    void streamingEstimateGrowsOnlyByTheChunkMemory() throws Exception {
        ModelConfig c = TestModels.config("tiny-cpu").model();
        int s = c.hsa().chunkSize(), kv = c.hsa().numKvHeads() * c.headDim();
        long at64K = Scorers.estimateDeviceBytes(c, java, 4, 1 << 16), at1M = Scorers.estimateDeviceBytes(c, java, 4, 1 << 20);
        long fullAt4K = Scorers.estimateDeviceBytes(c, java, 4, 4096);
        // per token: K and V rows; per chunk: one landmark
        long memoryGrowth = (long) ((1 << 20) - (1 << 16)) * 2 * kv * 4 + (long) ((1 << 20) - (1 << 16)) / s * c.hsa().retrievalDim() * 4;
        long rest = at1M - at64K - memoryGrowth;
        assertTrue(Math.abs(rest) <= 16L << 20, "streaming bytes beyond the chunk memory must not grow with L: " + at64K + " -> " + at1M + ", chunk memory grew " + memoryGrowth);
        assertTrue(at64K < fullAt4K, "streaming 64K tokens (" + at64K + " B) holds less than a batch of full passes at 4K (" + fullAt4K + " B)");
    }
}
