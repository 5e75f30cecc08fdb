package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.junit.jupiter.api.Test;

/** The full-forward scorer on a random tiny-cpu model (Java backend): rows, batching, memory and the selection probe. */
class FullForwardScorerTest {
    private static final int L = 64;

    private static ModelConfig config(String name) throws Exception {
        return ConfigFile.read(Path.of("..", "configs", name + ".json")).model();
    }

    private static float[] params(ModelConfig c) {
        return ModelParameters.of(ParameterLayout.of(c)).initialize(11).all().toF32Array();
    }

    private static int[] sequence(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        return IntStream.range(0, L).map(i -> r.nextInt(256)).toArray();
    }

    @Test
    void requestedRowsAreThoseOfTheWholeSequenceWhateverTheBatch() throws Exception {
        ModelConfig c = config("tiny-cpu");
        Device device = Devices.java();
        int[] a = sequence(1), b = sequence(2);
        int[] all = IntStream.range(0, L).toArray(), some = {63, 5, 40};
        try (FullForwardScorer s = new FullForwardScorer(c, params(c), device, 2, L)) {
            float[][] full = s.logits(new int[][] {a}, new int[][] {all})[0];
            assertEquals(L, full.length);
            assertEquals(c.vocabSize(), full[0].length);
            float[][][] batch = s.logits(new int[][] {b, a}, new int[][] {{0}, some});
            for (int i = 0; i < some.length; i++) assertArrayEquals(full[some[i]], batch[1][i], 1e-5f, "row " + some[i] + " of a, second in a batch");
            assertFalse(java.util.Arrays.equals(full[5], batch[0][0]), "b's logits are b's");
        }
    }

    @Test
    void theMemoryEstimateIsWhatTheScorerHolds() throws Exception {
        for (String name : new String[] {"tiny-cpu", "tiny-swa"}) {
            ModelConfig c = config(name);
            long estimate = FullForwardScorer.estimateDeviceBytes(c, Devices.java(), 2, L);
            try (FullForwardScorer s = new FullForwardScorer(c, params(c), Devices.java(), 2, L)) {
                s.logits(new int[][] {sequence(3)}, new int[][] {{L - 1}});
                assertEquals(estimate, s.peakDeviceBytes(), name);
                assertTrue(estimate > 4L * ParameterLayout.of(c).totalSize(), "parameters and activations");
            }
        }
    }

    @Test
    void theProbeReportsTheChunksSelectedInThePast() throws Exception {
        ModelConfig c = TestModels.unmasked("tiny-cpu").model();
        int chunk = c.hsa().chunkSize(), topk = c.hsa().chunkTopk();
        try (FullForwardScorer s = new FullForwardScorer(c, params(c), Devices.java(), 1, L)) {
            assertTrue(s.hasRetrieval());
            assertEquals(s, ChunkSelectionProbe.of(s));
            s.logits(new int[][] {sequence(4)}, new int[][] {{L - 1}});
            for (int row : new int[] {0, chunk - 1, chunk, 3 * chunk + 2, L - 1}) {
                int[] sel = s.selectedChunks(0, row);
                assertEquals(Math.min(topk, row / chunk), sel.length, "row " + row);
                for (int k : sel) assertTrue(k >= 0 && (k + 1) * chunk <= row, "chunk " + k + " lies wholly before row " + row);
                assertEquals(sel.length, IntStream.of(sel).distinct().count(), "no chunk twice");
                float[] w = s.selectedWeights(0, row);
                assertEquals(sel.length, w.length, "one weight per selected chunk, row " + row);
                double sum = 0;
                for (float x : w) {
                    assertTrue(x >= 0, "stick-breaking weights are not negative, row " + row);
                    sum += x;
                }
                assertTrue(sum <= 1 + 1e-6, "stick-breaking weights sum to at most 1, row " + row + ": " + sum);
                if (sel.length > 0) assertTrue(sum > 0, "random scores give the chosen chunks some weight, row " + row);
            }
        }
        ModelConfig swa = config("tiny-swa");
        try (FullForwardScorer s = new FullForwardScorer(swa, params(swa), Devices.java(), 1, L)) {
            assertFalse(s.hasRetrieval());
            assertEquals(null, ChunkSelectionProbe.of(s));
        }
    }

    @Test
    void wrongShapesAreClearErrors() throws Exception {
        ModelConfig c = config("tiny-swa");
        try (FullForwardScorer s = new FullForwardScorer(c, params(c), Devices.java(), 1, L)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> s.logits(new int[][] {new int[L - 1]}, new int[][] {{0}}))
                    .getMessage().contains("has 63 tokens, this scorer takes 64"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> s.logits(new int[][] {sequence(1), sequence(2)}, new int[][] {{0}, {0}}))
                    .getMessage().contains("between 1 and 1 sequences"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> s.logits(new int[][] {sequence(1)}, new int[][] {{L}}))
                    .getMessage().contains("row 64 of sequence 0 is outside [0, 64)"));
        }
    }
}
