package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.hsajava.train.tasks.AnswerSpan;
import org.hsajava.train.tasks.LossMask;
import org.hsajava.train.tasks.Sample;
import org.hsajava.train.tasks.SentencePool;
import org.hsajava.train.tasks.SyntheticTask;
import org.hsajava.train.tasks.SyntheticTasks;
import org.hsajava.train.text.ByteTokenizer;
import org.hsajava.train.text.Tokenizer;
import org.junit.jupiter.api.Test;

/** Finding the needle's copy of an answer, and the needle-chunk figures measured at it. */
class TeacherForcedEvalTest {
    private final Tokenizer bytes = new ByteTokenizer();

    @Test
    void theAnswerIsFoundInsideItsNeedle() {
        for (String name : new String[] {"passkey", "niah_single", "niah_multikey", "copy", "associative_recall"}) {
            Sample s = SyntheticTasks.create(name, bytes, SentencePool.repeated(bytes), LossMask.ANSWER).generate(600, 0.3, new SplittableRandom(5));
            for (AnswerSpan span : s.answers()) {
                int at = TeacherForcedEval.needleCopy(s.tokens(), s.needleStart(), span);
                String needle = bytes.decode(s.tokens(), s.needleStart(), Math.min(s.length(), s.needleStart() + 200));
                assertEquals(span.text(), bytes.decode(s.tokens(), at, at + span.length()), name);
                assertEquals(true, at >= s.needleStart() && at - s.needleStart() < needle.length(), name + ": the copy lies in the needle");
            }
        }
    }

    @Test
    void answersWithoutOneCopyAreNotProbed() {
        Sample s = SyntheticTasks.create("variable_tracking", bytes, SentencePool.repeated(bytes), LossMask.ANSWER).generate(600, 0.3, new SplittableRandom(5));
        assertEquals(-1, TeacherForcedEval.needleCopy(s.tokens(), s.needleStart(), s.answers().getFirst()), "a list of names assembled from several needles");
    }

    /**
     * A sample of 64 tokens, chunks of 4, a receptive field of 6: the needle's copy of the 2-token
     * answer at 20..21 (chunks 5), the answer at 60..61. The copy at 20 is carried by chunks 5..6
     * (6·4 = 24 ≤ 20 + 6 = 26 < 7·4), the copy at 21 by chunks 5..6 as well (21 + 6 = 27).
     */
    @Test
    void aChunkCarriesTheNeedleWithinTheReceptiveFieldAfterIt() {
        int[] t = new int[64];
        for (int i = 0; i < t.length; i++) t[i] = 100 + i % 7;
        t[20] = 1;
        t[21] = 2;
        t[60] = 1;
        t[61] = 2;
        Sample s = new Sample("fake", t, java.util.List.of(new AnswerSpan(60, 2, "12")), 18, 50, 0.3, LossMask.ANSWER);
        int[][] chosen = {{6, 3, 0}, {9, 5, 7}};   // the selection at rows 59 and 60
        float[][] weights = {{0.9f, 0.05f, 0.05f}, {0.25f, 0.5f, 0.25f}};
        ChunkSelectionProbe probe = new ChunkSelectionProbe() {
            public boolean hasRetrieval() { return true; }
            public int chunkSize() { return 4; }
            public int receptiveField() { return 6; }
            public int[] selectedChunks(int sequence, int row) { return chosen[row - 59]; }
            public float[] selectedWeights(int sequence, int row) { return weights[row - 59]; }
        };
        TeacherForcedEval.NeedleProbe needle = new TeacherForcedEval.NeedleProbe();
        needle.add(s.answerPositions(), TeacherForcedEval.copyPositions(s), probe, 0);
        assertEquals(2, needle.tokens);
        // row 59 picked chunk 6, which carries the copy though it does not hold it; row 60 picked its own
        // chunk 5 (and 7 and 9, past the field); looking only at chunk 5 would say 1 of 2 with weight 0.5
        assertEquals(2, needle.selected);
        assertEquals(0.9 + 0.5, needle.weight, 1e-6);
    }

    /** A scorer that predicts each next token right except at odd positions, where it predicts token 0. */
    private static SequenceScorer oracleWrongAtOddRows(int vocab) {
        return new SequenceScorer() {
            public int maxBatch() { return 2; }
            public float[][][] logits(int[][] tokens, int[][] rows) {
                float[][][] out = new float[tokens.length][][];
                for (int b = 0; b < tokens.length; b++) {
                    out[b] = new float[rows[b].length][vocab];
                    for (int i = 0; i < rows[b].length; i++) out[b][i][rows[b][i] % 2 == 0 ? tokens[b][rows[b][i] + 1] : 0] = 1;
                }
                return out;
            }
            public long peakDeviceBytes() { return 0; }
            public void close() {}
        };
    }

    @Test
    void theTraceHasEveryAnswerTokenWithItsCopyAndPrediction() {
        SyntheticTask task = SyntheticTasks.create("passkey", bytes, SentencePool.repeated(bytes), LossMask.ANSWER);
        java.util.List<TeacherForcedEval.AnswerTrace> trace = new java.util.ArrayList<>();
        TeacherForcedEval.Cell cell = TeacherForcedEval.run(oracleWrongAtOddRows(bytes.vocabSize()), task, 300, 0.4, 3, 7, trace::add);
        assertEquals(cell.answerTokens(), trace.size());
        int right = 0;
        for (TeacherForcedEval.AnswerTrace t : trace) {
            assertEquals(t.position() % 2 == 1, t.predicted() == t.expected(), "the fake scorer is right where the predicting row is even");
            if (t.predicted() == t.expected()) right++;
            assertEquals(300, t.length());
            assertEquals(null, t.chunks(), "no probe: no selection");
        }
        assertEquals(cell.tokensCorrect(), right);
        // the copies: the needle holds the answer at copyPosition .. (same tokens, same order)
        Sample again = task.generate(300, 0.4, new SplittableRandom(7));
        for (int i = 0; i < again.answerPositions().length; i++) {
            TeacherForcedEval.AnswerTrace t = trace.get(i);
            assertEquals(0, t.sample());
            assertEquals(again.answerPositions()[i], t.position());
            assertEquals(again.tokens()[t.copyPosition()], t.expected(), "token " + i + " and its copy");
        }
    }
}
