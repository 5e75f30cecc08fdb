package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hsajava.train.data.Corpora;
import org.hsajava.train.text.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerplexityEvalTest {
    @TempDir Path dir;

    /**
     * A 3-token "model": the logits at row r are 0 except ln 2 at the id of token r, so it predicts a
     * repeat with p = 2/4 (NLL ln 2) and each other id with p = 1/4 (NLL ln 4). Records what it is asked.
     */
    static final class RepeatScorer implements SequenceScorer {
        final List<int[]> asked = new ArrayList<>();
        final List<Integer> targetsSeen = new ArrayList<>();

        @Override public int maxBatch() { return 1; }

        @Override
        public float[][][] logits(int[][] tokens, int[][] rows) {
            float[][][] out = new float[tokens.length][][];
            for (int b = 0; b < tokens.length; b++) {
                asked.add(rows[b].clone());
                out[b] = new float[rows[b].length][3];
                for (int i = 0; i < rows[b].length; i++) {
                    out[b][i][tokens[b][rows[b][i]]] = (float) Math.log(2);
                    targetsSeen.add(tokens[b][rows[b][i] + 1]);
                }
            }
            return out;
        }

        @Override public long peakDeviceBytes() { return 42; }

        @Override public void close() {}
    }

    @Test
    void meanNllMatchesAHandComputation() {
        HeldOutText text = new HeldOutText("hand", new int[] {0, 1, 1, 2, 2, 2, 0, 0}, 8);
        RepeatScorer scorer = new RepeatScorer();
        PerplexityEval.Result r = PerplexityEval.run(scorer, text, 4, 2, 2);
        // window 0 = stream[4..8) = 2 2 0 0, window 1 = stream[2..6) = 1 2 2 2; rows 1, 2 predict the last 2 tokens:
        // 2→0 (ln 4), 0→0 (ln 2) | 2→2 (ln 2), 2→2 (ln 2): mean = (ln 4 + 3 ln 2) / 4 = 5/4 ln 2
        assertEquals(5.0 / 4 * Math.log(2), r.meanNll(), 1e-7);
        assertEquals(Math.pow(2, 5.0 / 4), r.perplexity(), 1e-6);
        assertEquals(2, r.sequences());
        assertEquals(4, r.tokens());
        assertEquals(42, r.peakDeviceBytes());
        assertEquals(2, scorer.asked.size(), "one window per call (maxBatch 1)");
        for (int[] rows : scorer.asked) assertArrayEquals(new int[] {1, 2}, rows);
    }

    @Test
    void everyLengthScoresTheSameTokensOnlyTheContextGrows() {
        int[] stream = new int[40];
        for (int i = 0; i < stream.length; i++) stream[i] = (i * 7 + i / 3) % 3;
        HeldOutText text = new HeldOutText("t", stream, 40);
        List<List<Integer>> targets = new ArrayList<>();
        for (int length : new int[] {6, 12, 24}) {
            RepeatScorer s = new RepeatScorer();
            PerplexityEval.run(s, text, length, 3, 5);
            targets.add(s.targetsSeen);
        }
        assertEquals(15, targets.getFirst().size(), "3 windows x 5 tokens");
        assertEquals(targets.get(0), targets.get(1));
        assertEquals(targets.get(0), targets.get(2));
        // the tokens scored are the last 5 of each window; window j ends 5·j tokens before the end
        assertEquals(List.of(stream[25], stream[26], stream[27], stream[28], stream[29]), targets.getFirst().subList(10, 15));
    }

    @Test
    void shortWindowsScoreAllButTheFirstTokenAndTooFewTokensAreAnError() {
        HeldOutText text = new HeldOutText("t", new int[] {0, 1, 2, 0, 1}, 5);
        RepeatScorer s = new RepeatScorer();
        PerplexityEval.Result r = PerplexityEval.run(s, text, 3, 1, 256);
        assertEquals(2, r.tokens(), "min(256, 3 - 1)");
        assertArrayEquals(new int[] {0, 1}, s.asked.getFirst());
        assertEquals(3, text.windowsFitting(1, 9, 2));
        assertEquals(1, text.windowsFitting(5, 9, 2));
        assertEquals(0, text.windowsFitting(6, 9, 2));
        assertThrows(IllegalArgumentException.class, () -> PerplexityEval.run(new RepeatScorer(), text, 6, 1, 2));
    }

    @Test
    void nllIsMinusLogSoftmaxEvenForLargeLogits() {
        assertEquals(Math.log(3), PerplexityEval.nll(new float[] {5, 5, 5}, 1), 1e-12);
        assertEquals(Math.log(1 + Math.exp(-2)), PerplexityEval.nll(new float[] {1000, 998}, 0), 1e-9);
    }

    @Test
    void readingKeepsTheEndOfTheStreamWithEosBetweenDocuments() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("texts"));
        Files.writeString(folder.resolve("a.txt"), "ab");
        Files.writeString(folder.resolve("b.txt"), "cd");
        int eos = Tokenizers.create("byte").eos();
        HeldOutText text = HeldOutText.read(Corpora.open(folder), "two files", Tokenizers.create("byte"), 4);
        assertEquals(6, text.streamTokens());
        assertEquals(4, text.available());
        assertArrayEquals(new int[] {eos, 'c', 'd', eos}, text.window(4, 0, 1));
        HeldOutText all = HeldOutText.read(Corpora.open(folder), "two files", Tokenizers.create("byte"), 100);
        assertArrayEquals(new int[] {'a', 'b', eos, 'c', 'd', eos}, all.window(6, 0, 1));
    }
}
