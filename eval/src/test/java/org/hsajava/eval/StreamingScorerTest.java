package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.junit.jupiter.api.Test;

/** The streaming scorer answers as the full forward pass does, over sequences of growing and shrinking length. */
class StreamingScorerTest {

    @Test
    void logitsEqualTheFullForwardPassAcrossSequences() throws Exception {
        ModelConfig c = TestModels.config("tiny-cpu").model();
        ModelParameters p = TestModels.params(c, 4);
        Device java = Devices.select("java");
        SplittableRandom r = new SplittableRandom(2);
        int[] lengths = {300, 700, 150};   // the pass grows for the second, is kept for the third
        try (StreamingScorer scorer = new StreamingScorer(c, p, java, 64)) {
            assertEquals(1, scorer.maxBatch());
            long peakAfterFirst = 0;
            for (int length : lengths) {
                int[] tokens = r.ints(length, 0, c.vocabSize()).toArray();
                int[] rows = {length - 3, length - 2, length - 1, length / 2};
                float[][] got = scorer.logits(new int[][] {tokens}, new int[][] {rows})[0];
                float[] full = TestModels.fullLogits(c, p, java, tokens);
                int v = c.vocabSize();
                for (int i = 0; i < rows.length; i++) {
                    float[] want = Arrays.copyOfRange(full, rows[i] * v, (rows[i] + 1) * v);
                    double scale = 0, err = 0;
                    for (int k = 0; k < v; k++) {
                        scale = Math.max(scale, Math.abs(want[k]));
                        err = Math.max(err, Math.abs(want[k] - got[i][k]));
                    }
                    assertTrue(err <= 2e-5 * scale, "L=" + length + " row " + rows[i] + ": max error " + err + " of " + scale);
                }
                if (peakAfterFirst == 0) peakAfterFirst = scorer.peakDeviceBytes();
            }
            assertTrue(peakAfterFirst > p.all().bytes(), "the peak holds at least the parameters");
            assertTrue(scorer.peakDeviceBytes() > peakAfterFirst, "the longer sequence needed a larger chunk memory");
        }
    }

    @Test
    void itsChunkSelectionAtTheScoredRowsIsTheFullPasss() throws Exception {
        ModelConfig c = TestModels.config("tiny-cpu").model();
        ModelParameters p = TestModels.params(c, 4);
        Device java = Devices.select("java");
        int length = 300;
        int[] tokens = new SplittableRandom(3).ints(length, 0, c.vocabSize()).toArray();
        int[] rows = {length - 1, 200, length - 2, 40};   // in several streaming blocks of 64, unsorted
        try (StreamingScorer streaming = new StreamingScorer(c, p, java, 64);
             FullForwardScorer full = new FullForwardScorer(c, p.all().f32(), java, 1, length)) {
            assertEquals(streaming, ChunkSelectionProbe.of(streaming));
            assertEquals(full.receptiveField(), streaming.receptiveField());
            streaming.logits(new int[][] {tokens}, new int[][] {rows});
            full.logits(new int[][] {tokens}, new int[][] {rows});
            for (int row : rows) {
                int[] want = full.selectedChunks(0, row);
                assertEquals(Math.min(c.hsa().chunkTopk(), row / c.hsa().chunkSize()), want.length, "row " + row);
                assertEquals(Arrays.toString(want), Arrays.toString(streaming.selectedChunks(0, row)), "row " + row);
                float[] w = full.selectedWeights(0, row), got = streaming.selectedWeights(0, row);
                for (int k = 0; k < w.length; k++) assertEquals(w[k], got[k], 2e-5, "row " + row + " slot " + k);
            }
            assertThrows(IllegalArgumentException.class, () -> streaming.selectedChunks(0, 100), "row 100 was not scored");
        }
    }
}
