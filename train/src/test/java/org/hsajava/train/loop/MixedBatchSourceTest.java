package org.hsajava.train.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.LossTokens;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.text.Tokenizer;
import org.hsajava.train.text.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MixedBatchSourceTest {
    static final int L = 90;
    @TempDir Path dir;

    private TrainConfig config(Map<String, Double> mix, LossTokens on, String corpus) {
        return new TrainConfig(3, L, 10, 1e-3, 0, 0.2, 0, 0.9, 0.95, 1e-8, 1, 1, 99, "byte", corpus, mix, on, 5, 3, 5);
    }

    @Test
    void answersOnlyMarksExactlyTheAnswerTokens() {
        Tokenizer tok = Tokenizers.create("byte");
        MixedBatchSource s = new MixedBatchSource(config(Map.of("passkey", 1.0), LossTokens.ANSWERS, ""), tok, L, null);
        int[] in = new int[3 * L], tg = new int[3 * L];
        int valid = s.next(in, tg, 3, L);
        assertEquals(3 * 6, valid, "' 12345': 6 answer bytes per row");
        for (int r = 0; r < 3; r++) {
            StringBuilder answer = new StringBuilder();
            for (int t = 0; t < L; t++) {
                int target = tg[r * L + t];
                if (t + 1 < L) assertEquals(in[r * L + t + 1], target == CrossEntropy.IGNORE_INDEX ? in[r * L + t + 1] : target, "targets are next inputs");
                if (target != CrossEntropy.IGNORE_INDEX) answer.append((char) target);
            }
            assertTrue(answer.toString().matches(" \\d{5}"), "answer '" + answer + "'");
            assertTrue(tok.decode(in, r * L, (r + 1) * L).contains("The passkey is: " + answer.substring(1)), "the key is in the context");
        }
    }

    /** train.needle_depth bounds where the needle lands: near the start for [0, 0.2], near the question for [0.8, 1]. */
    @Test
    void needleDepthRangeBoundsThePlacement() {
        int length = 400, rows = 40;
        Tokenizer tok = Tokenizers.create("byte");
        int[] early = needleStarts(new TrainConfig.DepthRange(0, 0.2), length, rows, tok);
        int[] late = needleStarts(new TrainConfig.DepthRange(0.8, 1), length, rows, tok);
        int[] any = needleStarts(TrainConfig.DepthRange.ALL, length, rows, tok);
        // filler is the row minus the needle (~23 bytes), the question (~37) and the answer (6):
        // ~330 tokens, placed at sentence boundaries (a sentence is < 40 bytes)
        for (int i = 0; i < rows; i++) {
            assertTrue(early[i] <= 0.2 * 330 + 40, "needle at " + early[i] + " with depth <= 0.2");
            assertTrue(late[i] >= 0.8 * 330 - 40, "needle at " + late[i] + " with depth >= 0.8");
        }
        long spread = java.util.Arrays.stream(any).filter(p -> p > 0.2 * 330 + 40 && p < 0.8 * 330 - 40).count();
        assertTrue(spread > rows / 4, "the default range puts needles in the middle too: " + spread + " of " + rows);
    }

    /** config()'s passkey recipe (answers only, no corpus) with rows of {@code length}, needle depths and answer jitter changed. */
    private TrainConfig passkey(int length, TrainConfig.DepthRange range, int jitter) {
        TrainConfig c = config(Map.of("passkey", 1.0), LossTokens.ANSWERS, "");
        return new TrainConfig(c.batchSize(), length, c.steps(), c.lr(), c.warmupSteps(), c.minLrRatio(), c.weightDecay(), c.beta1(), c.beta2(),
                c.adamEps(), c.gradClip(), c.gradAccumulation(), c.seed(), c.tokenizer(), c.corpus(), c.taskMix(), c.lossOn(),
                c.checkpointInterval(), c.keepCheckpoints(), c.evalInterval(), range, jitter, c.matmulPrecision());
    }

    private int[] needleStarts(TrainConfig.DepthRange range, int length, int rows, Tokenizer tok) {
        MixedBatchSource s = new MixedBatchSource(passkey(length, range, 0), tok, length, null);
        int[] in = new int[length], tg = new int[length], starts = new int[rows];
        for (int r = 0; r < rows; r++) {
            s.next(in, tg, 1, length);
            starts[r] = tok.decode(in, 0, length).indexOf("The passkey is: ");
            assertTrue(starts[r] >= 0, "row " + r + " has its needle");
        }
        return starts;
    }

    /**
     * train.answer_jitter J: each row's sample ends 0..J tokens before the row's end (every offset occurs),
     * pad tokens without targets after it, the answer intact and still the only target; J = 0 draws nothing
     * (rows as before the field existed).
     */
    @Test
    void answerJitterEndsSamplesAtEveryOffsetBeforeTheRowEnd() {
        Tokenizer tok = Tokenizers.create("byte");
        int jitter = 7, rows = 200;
        MixedBatchSource s = new MixedBatchSource(passkey(L, TrainConfig.DepthRange.ALL, jitter), tok, L, null);
        int[] in = new int[L], tg = new int[L];
        boolean[] seen = new boolean[jitter + 1];
        for (int r = 0; r < rows; r++) {
            assertEquals(6, s.next(in, tg, 1, L), "' 12345': 6 answer bytes");
            int last = -1;
            StringBuilder answer = new StringBuilder();
            for (int t = 0; t < L; t++) {
                if (tg[t] != CrossEntropy.IGNORE_INDEX) {
                    last = t;
                    answer.append((char) tg[t]);
                    if (t + 1 < L) assertEquals(in[t + 1], tg[t], "targets are next inputs");
                }
            }
            int offset = L - 1 - last;   // the last answer token is the input at last + 1 = L - offset
            assertTrue(offset >= 0 && offset <= jitter, "sample ends " + offset + " tokens early");
            seen[offset] = true;
            for (int t = last + 2; t < L; t++) assertEquals(tok.pad(), in[t], "padding after the sample at " + t);
            assertTrue(answer.toString().matches(" \\d{5}"), "answer '" + answer + "'");
            assertTrue(tok.decode(in, 0, L).contains("The passkey is: " + answer.substring(1)), "the key is in the context");
        }
        for (int o = 0; o <= jitter; o++) assertTrue(seen[o], "offset " + o + " occurs in " + rows + " rows");

        int[] a = new int[3 * L], b = new int[3 * L], ta = new int[3 * L], tb = new int[3 * L];
        new MixedBatchSource(config(Map.of("passkey", 1.0), LossTokens.ANSWERS, ""), tok, L, null).next(a, ta, 3, L);
        new MixedBatchSource(passkey(L, TrainConfig.DepthRange.ALL, 0), tok, L, null).next(b, tb, 3, L);
        assertArrayEquals(a, b, "answer_jitter 0 leaves the rows as they were");
        assertArrayEquals(ta, tb);
    }

    @Test
    void answerJitterThatLeavesTooShortASampleNamesTheField() {
        Tokenizer tok = Tokenizers.create("byte");
        ConfigException e = assertThrows(ConfigException.class,
                () -> new MixedBatchSource(passkey(L, TrainConfig.DepthRange.ALL, L - 20), tok, L, null));
        assertTrue(e.getMessage().contains("train.answer_jitter") && e.getMessage().contains("passkey"), e.getMessage());
    }

    @Test
    void allTokensModeAndCorpusRowsTrainOnEveryPosition() throws IOException {
        Path corpus = ToyRuns.corpus(dir);
        Map<String, Double> mix = new LinkedHashMap<>();
        mix.put("corpus", 1.0);
        mix.put("passkey", 1.0);
        MixedBatchSource s = new MixedBatchSource(config(mix, LossTokens.ALL, corpus.toString()), Tokenizers.create("byte"), L, null);
        int[] in = new int[3 * L], tg = new int[3 * L];
        for (int i = 0; i < 4; i++) {
            assertEquals(3 * L, s.next(in, tg, 3, L));
            for (int x : tg) assertTrue(x >= 0 && x < 260);
        }
        assertEquals(java.util.List.of("corpus", "passkey"), s.names());
    }

    /** position() after k batches, restored into a fresh source, gives exactly the batches that followed. */
    @Test
    void restoreContinuesExactly() throws IOException {
        Path corpus = ToyRuns.corpus(dir);
        Map<String, Double> mix = new LinkedHashMap<>();
        mix.put("corpus", 2.0);
        mix.put("passkey", 1.0);
        TrainConfig c = config(mix, LossTokens.ANSWERS, corpus.toString());
        Tokenizer tok = Tokenizers.create("byte");
        MixedBatchSource a = new MixedBatchSource(c, tok, L, null);
        int[] in = new int[3 * L], tg = new int[3 * L];
        for (int i = 0; i < 5; i++) a.next(in, tg, 3, L);
        JsonNode pos = a.position();
        int[][] want = new int[6][];
        for (int i = 0; i < 3; i++) {
            a.next(in, tg, 3, L);
            want[2 * i] = in.clone();
            want[2 * i + 1] = tg.clone();
        }
        MixedBatchSource b = new MixedBatchSource(c, tok, L, null);
        b.restore(pos);
        for (int i = 0; i < 3; i++) {
            b.next(in, tg, 3, L);
            assertArrayEquals(want[2 * i], in, "inputs of batch " + i);
            assertArrayEquals(want[2 * i + 1], tg, "targets of batch " + i);
        }
        a.close();
        b.close();
    }

    @Test
    void unknownSourcesAndMissingCorpusNameTheField() {
        Tokenizer tok = Tokenizers.create("byte");
        ConfigException e = assertThrows(ConfigException.class, () -> new MixedBatchSource(config(Map.of("books", 1.0), LossTokens.ALL, ""), tok, L, null));
        assertTrue(e.getMessage().contains("train.task_mix.books"), e.getMessage());
        ConfigException tooLong = assertThrows(ConfigException.class, () -> new MixedBatchSource(config(Map.of("s_niah", 1.0), LossTokens.ALL, ""), tok, L, null));
        assertTrue(tooLong.getMessage().contains("train.task_mix.s_niah") && tooLong.getMessage().contains("seq_len"), tooLong.getMessage());
        assertEquals("niah_single", MixedBatchSource.canonical("s_niah"));
        assertEquals("variable_tracking", MixedBatchSource.canonical("vt"));
        ConfigException f = assertThrows(ConfigException.class,
                () -> new MixedBatchSource(config(Map.of("passkey", 1.0), LossTokens.ALL, dir.resolve("nope.txt").toString()), tok, L, null));
        assertTrue(f.getMessage().contains("train.corpus"), f.getMessage());
    }
}
