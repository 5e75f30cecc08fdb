package org.hsajava.train.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The ETA a run prints: steps left at the current pace, or the time limit's rest when that is sooner. */
class ProgressBarTest {

    private static String line(ProgressBar bar, ByteArrayOutputStream sink, long step, double elapsed) {
        bar.update(new StepMetrics(step, 1.0, 1e-3, 0.5, 1000, 100, elapsed, Double.NaN), 1);
        String[] lines = sink.toString(StandardCharsets.UTF_8).split("\n");
        return lines[lines.length - 1];
    }

    @Test
    void etaCountsTheStepsLeftWithoutATimeLimit() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(sink, true, StandardCharsets.UTF_8), false, 100);
        // step 10 after 20 s: 2 s a step, 90 steps left
        assertTrue(line(bar, sink, 10, 20).endsWith("ETA 3m00s"), sink.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aTimeLimitThatComesFirstSetsTheEta() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(sink, true, StandardCharsets.UTF_8), false, 100, 60);
        assertTrue(line(bar, sink, 10, 20).endsWith("ETA 40s"), "the limit's 40 s left, not the 180 s of the steps");
        assertEquals(30, bar.eta(30, 20), 1e-12, "the steps, when they end before the limit");
    }
}
