package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
