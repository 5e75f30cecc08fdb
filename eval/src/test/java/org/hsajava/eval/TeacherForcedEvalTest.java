package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.hsajava.train.tasks.AnswerSpan;
import org.hsajava.train.tasks.LossMask;
import org.hsajava.train.tasks.Sample;
import org.hsajava.train.tasks.SentencePool;
import org.hsajava.train.tasks.SyntheticTasks;
import org.hsajava.train.text.ByteTokenizer;
import org.hsajava.train.text.Tokenizer;
import org.junit.jupiter.api.Test;

/** Finding the needle's copy of an answer, which the needle-chunk figures are measured at. */
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
}
