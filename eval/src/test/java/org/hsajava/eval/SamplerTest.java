package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final float[] LOGITS = {0.5f, 2.0f, -1.0f, 1.0f, 2.0f};

    @Test
    void temperatureZeroIsTheArgmaxWithTiesToTheLowerId() {
        assertEquals(1, new Sampler(0, 0, 1).next(LOGITS));
    }

    @Test
    void topKOneIsGreedyAtAnyTemperature() {
        Sampler s = new Sampler(5.0, 1, 7);
        for (int i = 0; i < 50; i++) assertEquals(1, s.next(LOGITS));
    }

    @Test
    void drawsFollowTheTemperedSoftmaxOverTheTopK() {
        Sampler s = new Sampler(1.0, 3, 11);
        int[] counts = new int[LOGITS.length];
        int n = 60000;
        for (int i = 0; i < n; i++) counts[s.next(LOGITS)]++;
        assertEquals(0, counts[0] + counts[2], "ids outside the top 3 are never drawn");
        double z = Math.exp(2) + Math.exp(2) + Math.exp(1);
        assertEquals(Math.exp(2) / z, counts[1] / (double) n, 0.01);
        assertEquals(Math.exp(1) / z, counts[3] / (double) n, 0.01);
        assertEquals(Math.exp(2) / z, counts[4] / (double) n, 0.01);
    }

    @Test
    void aSeedRepeatsAndBadSettingsAreNamed() {
        Sampler a = new Sampler(0.8, 0, 3), b = new Sampler(0.8, 0, 3);
        for (int i = 0; i < 100; i++) assertEquals(a.next(LOGITS), b.next(LOGITS));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler(-1, 0, 1)).getMessage().contains("--temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler(Double.NaN, 0, 1)).getMessage().contains("--temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler(1, -2, 1)).getMessage().contains("--top-k"));
    }
}
