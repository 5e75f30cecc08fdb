package org.hsajava.model.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ParameterInitTest {

    @Test
    void eachTensorFollowsItsRuleAndPaddingStaysZero() {
        ParameterLayout l = ParameterLayout.of(ParameterLayoutTest.everyOption());
        float[] b = ParameterInit.create(l, 42);
        boolean[] covered = new boolean[b.length];
        for (ParameterSpec s : l.specs()) {
            double sum = 0, sq = 0;
            for (long i = s.offset(); i < s.end(); i++) {
                covered[(int) i] = true;
                sum += b[(int) i];
                sq += (double) b[(int) i] * b[(int) i];
            }
            long n = s.size();
            switch (s.init()) {
                case ONES -> assertEquals(n, sum, 0, s.name());
                case ZEROS -> assertEquals(0, sq, 0, s.name());
                case NORMAL -> {
                    double std = Math.sqrt(sq / n);
                    // 240..576 samples: the sample std is within 20% of 0.05 with overwhelming probability
                    assertEquals(0.05, std, 0.01, s.name());
                    assertEquals(0, sum / n, 4 * 0.05 / Math.sqrt(n), s.name());
                }
            }
        }
        for (int i = 0; i < b.length; i++) if (!covered[i]) assertEquals(0f, b[i], "padding at " + i);
    }

    @Test
    void deterministicPerSeedAndStableAcrossLayouts() {
        ModelConfig c = ParameterLayoutTest.withEncoder();
        ParameterLayout l = ParameterLayout.of(c);
        assertArrayEquals(ParameterInit.create(l, 1), ParameterInit.create(l, 1));
        assertFalse(Arrays.equals(ParameterInit.create(l, 1), ParameterInit.create(l, 2)));

        // Switching on an extra tensor moves offsets but leaves every other tensor's values unchanged.
        HsaConfig h = c.hsa();
        ModelConfig withQkNorm = new ModelConfig(c.attentionKind(), c.vocabSize(), c.hiddenSize(), c.intermediateSize(),
                c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), c.numLowerLayers(), c.slidingWindow(), c.ropeTheta(),
                c.rmsNormEps(), c.layerNormEpsilon(), c.initializerRange(), c.tieWordEmbeddings(), c.attentionBias(), c.dtype(),
                c.padTokenId(), c.maxPositionEmbeddings(),
                new HsaConfig(h.numKvHeads(), h.numUpperGroups(), h.numUpperLayers(), h.chunkSize(), h.chunkTopk(), h.weightMode(),
                        h.softmaxOffByOne(), h.encoderLayers(), h.retrievalDim(), h.bypassResidual(), h.hsaOnly(), true,
                        h.lmkNorm(), h.encPrenorm(), h.maskSlideWindow()));
        ParameterLayout l2 = ParameterLayout.of(withQkNorm);
        assertTrue(l2.specs().size() > l.specs().size());
        float[] a = ParameterInit.create(l, 5), b = ParameterInit.create(l2, 5);
        String lmk = "backbone.layers.1.lmk_ln.weight";
        assertEquals(l.get(lmk).offset() + ParameterLayout.ALIGN, l2.get(lmk).offset(), "k_rmsnorm was inserted before lmk_ln");
        for (ParameterSpec s : l.specs()) {
            ParameterSpec s2 = l2.get(s.name());
            assertArrayEquals(Arrays.copyOfRange(a, (int) s.offset(), (int) s.end()),
                    Arrays.copyOfRange(b, (int) s2.offset(), (int) s2.end()), s.name());
        }
    }
}
