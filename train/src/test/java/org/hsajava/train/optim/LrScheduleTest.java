package org.hsajava.train.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void warmupIsLinearThenCosineReachesTheMinimumAtTheLastStep() {
        LrSchedule s = new LrSchedule(1e-3, 10, 110, 0.2);
        assertEquals(1e-4, s.lr(1), 1e-18);
        assertEquals(5e-4, s.lr(5), 1e-18);
        assertEquals(1e-3, s.lr(10), 1e-18);
        // Halfway through the decay the cosine factor is 1/2: lr = peak (0.2 + 0.8 * 0.5).
        assertEquals(1e-3 * 0.6, s.lr(60), 1e-15);
        assertEquals(1e-3 * 0.2, s.lr(110), 1e-15);
        assertEquals(1e-3 * (0.2 + 0.8 * 0.5 * (1 + Math.cos(Math.PI * 0.25))), s.lr(35), 1e-15);
        assertEquals(1e-3 * 0.2, s.lr(500), 1e-15, "past the end: the minimum");
        for (long t = 11; t <= 110; t++) assertTrue(s.lr(t) <= s.lr(t - 1) + 1e-18, "decreasing at " + t);
    }

    @Test
    void noWarmupStartsAtThePeakAndAllWarmupStaysThere() {
        LrSchedule s = new LrSchedule(2e-3, 0, 4, 0.5);
        assertEquals(2e-3 * (0.5 + 0.5 * 0.5 * (1 + Math.cos(Math.PI / 4))), s.lr(1), 1e-15);
        assertEquals(1e-3, s.lr(4), 1e-15);
        LrSchedule w = new LrSchedule(2e-3, 4, 4, 0.5);
        assertEquals(2e-3, w.lr(4), 0);
        assertEquals(1e-3, w.lr(9), 1e-15, "past the end (no decay phase): the minimum");
    }

    @Test
    void badArgumentsNameTheField() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-3, 11, 10, 0.2)).getMessage().contains("warmupSteps"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0, 1, 10, 0.2)).getMessage().contains("peak"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-3, 1, 10, 1.5)).getMessage().contains("minLrRatio"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-3, 1, 10, 0.2).lr(0)).getMessage().contains("from 1"));
    }
}
