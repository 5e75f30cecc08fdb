package org.hsajava.train.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.hsajava.train.data.Corpora;
import org.hsajava.train.text.ByteTokenizer;
import org.hsajava.train.text.Gpt2Tokenizer;
import org.hsajava.train.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every task with both tokenizers and both fillers. The checks read the generated text back
 * (regular expressions over the decoded sample), so they hold the generators to what the text
 * says, not to what the generators report about themselves.
 */
class SyntheticTaskTest {

    private static final Tokenizer BYTES = new ByteTokenizer();
    private static final Tokenizer GPT2 = new Gpt2Tokenizer();
    private static final Map<String, Filler> CORPUS_FILLERS = new HashMap<>();

    /** Every kind of needle the tasks insert into the filler. */
    private static final Pattern NEEDLE = Pattern.compile(
            " The passkey is: \\d+\\.| One of the special magic numbers for \\w+ is: \\d+\\.| VAR [A-Z]{5} = \\w+\\.| Pairs: [^.]*\\.| Copy: [a-z0-9]+\\.");

    static synchronized Filler corpusFiller(Tokenizer tokenizer) {
        return CORPUS_FILLERS.computeIfAbsent(tokenizer.name(), name -> {
            try {
                return SentencePool.fromCorpus(Corpora.bundled(), tokenizer, 150_000);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (String task : SyntheticTasks.NAMES) {
            for (Tokenizer tokenizer : List.of(BYTES, GPT2)) {
                cases.add(Arguments.of(task, tokenizer, "repeated"));
                cases.add(Arguments.of(task, tokenizer, "corpus"));
            }
        }
        return cases.stream();
    }

    private static SyntheticTask task(String name, Tokenizer tokenizer, String filler, LossMask mask) {
        Filler f = filler.equals("repeated") ? SentencePool.repeated(tokenizer) : corpusFiller(tokenizer);
        return SyntheticTasks.create(name, tokenizer, f, mask);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void exactLengthsFrom64To65536WithCorrectAnswers(String name, Tokenizer tokenizer, String fillerKind) {
        SyntheticTask task = task(name, tokenizer, fillerKind, LossMask.ANSWER);
        Filler filler = fillerKind.equals("repeated") ? SentencePool.repeated(tokenizer) : corpusFiller(tokenizer);
        double[] depths = {0, 0.1, 0.5, 0.77, 1};
        int[] lengths = {64, 512, 1000, 4096, 65536};
        for (int i = 0; i < lengths.length; i++) {
            int length = lengths[i];
            double depth = depths[i];
            long seed = 1000L * i + name.hashCode();
            Sample sample;
            try {
                sample = task.generate(length, depth, new SplittableRandom(seed));
            } catch (IllegalArgumentException e) {
                // only the smallest length may be too small, and the message must say what would fit
                assertEquals(64, length, e.getMessage());
                Matcher needed = Pattern.compile("take (\\d+) tokens").matcher(e.getMessage());
                assertTrue(needed.find(), e.getMessage());
                length = Integer.parseInt(needed.group(1));
                assertTrue(length > 64, e.getMessage());
                sample = task.generate(length, depth, new SplittableRandom(seed));
            }
            String where = name + "/" + tokenizer.name() + "/" + fillerKind + " at " + length;
            assertEquals(length, sample.length(), where);
            assertEquals(length, sample.tokens().length, where);
            assertEquals(tokenizer.eos(), sample.tokens()[0], where);
            for (int id : sample.tokens()) {
                assertTrue(id >= 0 && id < tokenizer.vocabSize(), where);
            }
            checkAnswersDecode(sample, tokenizer, where);
            checkAnswersFollowFromText(name, sample, tokenizer, where);
            checkNeedleDepth(sample, tokenizer, filler, where);
        }
    }

    private static void checkAnswersDecode(Sample sample, Tokenizer tokenizer, String where) {
        assertFalse(sample.answers().isEmpty(), where);
        int[] positions = sample.answerPositions();
        AnswerSpan last = sample.answers().getLast();
        assertEquals(sample.length(), last.start() + last.length(), where + ": the sample ends with its last answer");
        StringBuilder decoded = new StringBuilder();
        for (AnswerSpan span : sample.answers()) {
            String text = tokenizer.decode(sample.tokens(), span.start(), span.start() + span.length());
            assertEquals(span.text(), text, where);
            decoded.append(text);
        }
        assertEquals(sample.answerText(), decoded.toString(), where);
        int[] selected = new int[positions.length];
        for (int i = 0; i < positions.length; i++) {
            selected[i] = sample.tokens()[positions[i]];
        }
        assertEquals(sample.answerText(), tokenizer.decode(selected), where);
    }

    /** Re-derives the right answer from the sample's own text. */
    private static void checkAnswersFollowFromText(String name, Sample sample, Tokenizer tokenizer, String where) {
        int firstAnswer = sample.answers().getFirst().start();
        String context = tokenizer.decode(sample.tokens(), 1, firstAnswer);
        List<String> answers = sample.answers().stream().map(AnswerSpan::text).toList();
        switch (name) {
            case "passkey" -> {
                Matcher m = Pattern.compile(" The passkey is: (\\d{5})\\.").matcher(context);
                assertTrue(m.find(), where);
                assertEquals(List.of(" " + m.group(1)), answers, where);
                assertFalse(m.find(), where + ": one passkey");
                assertTrue(context.endsWith(" What is the passkey? The passkey is:"), where);
            }
            case "niah_single", "niah_multikey" -> {
                Map<String, String> needles = new LinkedHashMap<>();
                Matcher m = Pattern.compile(" One of the special magic numbers for (\\w+) is: (\\d{7})\\.").matcher(context);
                while (m.find()) {
                    assertEquals(null, needles.put(m.group(1), m.group(2)), where + ": keys are distinct");
                }
                assertEquals(name.equals("niah_single") ? 1 : 4, needles.size(), where);
                Matcher q = Pattern.compile("What is the special magic number for (\\w+)\\? The special magic number for \\1 is:$").matcher(context);
                assertTrue(q.find(), where + ": question at the end");
                assertEquals(List.of(" " + needles.get(q.group(1))), answers, where);
            }
            case "variable_tracking" -> {
                Map<String, String> bindings = new LinkedHashMap<>();
                Matcher m = Pattern.compile(" VAR ([A-Z]{5}) = (\\w+)\\.").matcher(context);
                while (m.find()) {
                    bindings.put(m.group(1), m.group(2));
                }
                assertEquals(10, bindings.size(), where + ": 2 chains of 5 names");
                Matcher q = Pattern.compile("Find all variables that are assigned the value (\\d+)\\. They are:$").matcher(context);
                assertTrue(q.find(), where);
                List<String> bound = new ArrayList<>();
                for (String var : bindings.keySet()) {  // statements appear in chain order
                    String value = bindings.get(var);
                    while (!value.matches("\\d+")) {
                        value = bindings.get(value);
                    }
                    if (value.equals(q.group(1))) {
                        bound.add(var);
                    }
                }
                assertEquals(5, bound.size(), where);
                assertEquals(List.of(" " + String.join(" ", bound)), answers, where);
            }
            case "associative_recall" -> {
                Matcher block = Pattern.compile(" Pairs: ([^.]*)\\.").matcher(context);
                assertTrue(block.find(), where);
                Map<String, String> pairs = new HashMap<>();
                for (String pair : block.group(1).split(", ")) {
                    String[] kv = pair.split(" ");
                    pairs.put(kv[0], kv[1]);
                }
                assertEquals(8, pairs.size(), where);
                String queries = tokenizer.decode(sample.tokens(), 1, sample.length());
                Matcher r = Pattern.compile(" Recall: (.*)$").matcher(queries);
                assertTrue(r.find(), where);
                List<String> expected = new ArrayList<>();
                for (String query : r.group(1).split(", ")) {
                    String[] kv = query.split(" ");
                    expected.add(" " + pairs.get(kv[0]));
                    assertEquals(pairs.get(kv[0]), kv[1], where);
                }
                assertEquals(4, expected.size(), where);
                assertEquals(expected, answers, where);
            }
            case "copy" -> {
                Matcher m = Pattern.compile(" Copy: ([a-z0-9]{16,48})\\.").matcher(context);
                assertTrue(m.find(), where);
                String copied = m.group(1);
                assertTrue(context.endsWith(" Copy: " + copied.charAt(0)), where + ": the cue is the first character");
                assertEquals(List.of(copied.substring(1) + "."), answers, where);
                assertFalse(m.find(), where + ": one string");
            }
            default -> throw new AssertionError(name);
        }
    }

    /**
     * The primary needle starts at its depth of the filler, within one sentence: the filler tokens
     * before it (tokens before it less the other needles' tokens) ≈ depth × filler tokens.
     */
    private static void checkNeedleDepth(Sample sample, Tokenizer tokenizer, Filler filler, String where) {
        int start = sample.needleStart();
        String at = tokenizer.decode(sample.tokens(), start, Math.min(sample.length(), start + 40));
        assertTrue(at.startsWith(" The passkey is:") || at.startsWith(" One of the special magic numbers")
                || at.startsWith(" VAR ") || at.startsWith(" Pairs:") || at.startsWith(" Copy:"), where + ": needle at " + start + ": " + at);
        String before = tokenizer.decode(sample.tokens(), 1, start);
        int otherNeedles = 0;
        Matcher m = NEEDLE.matcher(before);
        while (m.find()) {
            otherNeedles += tokenizer.encode(m.group()).length;
        }
        int fillerBefore = start - 1 - otherNeedles;
        double target = sample.depth() * sample.fillerTokens();
        assertTrue(Math.abs(fillerBefore - target) <= filler.longestSentence(),
                where + ": " + fillerBefore + " filler tokens before the needle, wanted " + target
                        + " ± " + filler.longestSentence());
    }

    @Test
    void fillerCountIsWhatTheOtherPartsLeave() {
        SyntheticTask task = new PasskeyTask(BYTES, SentencePool.repeated(BYTES), LossMask.ANSWER, 5);
        Sample sample = task.generate(500, 0.5, new SplittableRandom(3));
        int fixed = 1 + " The passkey is: 12345.".length() + " What is the passkey? The passkey is:".length() + " 12345".length();
        assertEquals(500 - fixed, sample.fillerTokens());
        // byte-level filler is ASCII: what lies between the eos and the question, less the needle, is filler
        String text = BYTES.decode(sample.tokens(), 1, 500);
        String filler = text.replaceFirst(" The passkey is: \\d{5}\\.", "")
                .replace(" What is the passkey? The passkey is:" + sample.answerText(), "");
        assertEquals(sample.fillerTokens(), filler.length());
        assertTrue(filler.startsWith(" The ") || filler.startsWith(" Here ") || filler.startsWith(" There "), filler);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void deterministicForASeed(String name, Tokenizer tokenizer, String fillerKind) {
        SyntheticTask task = task(name, tokenizer, fillerKind, LossMask.ANSWER);
        Sample a = task.generate(2000, 0.3, new SplittableRandom(17));
        Sample b = task.generate(2000, 0.3, new SplittableRandom(17));
        Sample c = task.generate(2000, 0.3, new SplittableRandom(18));
        assertArrayEquals(a.tokens(), b.tokens());
        assertEquals(a.answers(), b.answers());
        assertEquals(a.needleStart(), b.needleStart());
        assertFalse(java.util.Arrays.equals(a.tokens(), c.tokens()), "another seed gives another sample");
    }

    @Test
    void lossMasks() {
        Filler filler = SentencePool.repeated(GPT2);
        Sample answerOnly = new AssociativeRecallTask(GPT2, filler, LossMask.ANSWER, 6, 3, 4)
                .generate(300, 0.4, new SplittableRandom(5));
        boolean[] mask = answerOnly.targetMask();
        int[] positions = answerOnly.answerPositions();
        int marked = 0;
        for (boolean b : mask) {
            marked += b ? 1 : 0;
        }
        assertEquals(positions.length, marked);
        for (int p : positions) {
            assertTrue(mask[p]);
        }
        Sample all = new AssociativeRecallTask(GPT2, filler, LossMask.ALL, 6, 3, 4)
                .generate(300, 0.4, new SplittableRandom(5));
        assertArrayEquals(answerOnly.tokens(), all.tokens());
        boolean[] allMask = all.targetMask();
        assertFalse(allMask[0]);
        for (int p = 1; p < allMask.length; p++) {
            assertTrue(allMask[p]);
        }
    }

    @Test
    void multiQueryNeedleAnswersEveryAskedKey() {
        Sample sample = new MultiKeyNeedleTask(BYTES, SentencePool.repeated(BYTES), LossMask.ANSWER, 5, 3, 6)
                .generate(1500, 0.25, new SplittableRandom(9));
        String context = BYTES.decode(sample.tokens(), 1, sample.answers().getFirst().start());
        Matcher q = Pattern.compile("What are the special magic numbers for (\\w+), (\\w+) and (\\w+)\\?").matcher(context);
        assertTrue(q.find(), context.substring(context.length() - 200));
        assertEquals(3, sample.answers().size());
        for (int i = 0; i < 3; i++) {
            Matcher needle = Pattern.compile(" One of the special magic numbers for " + q.group(i + 1) + " is: (\\d{6})\\.").matcher(context);
            assertTrue(needle.find());
            assertEquals(" " + needle.group(1), sample.answers().get(i).text());
        }
    }

    @Test
    void badArgumentsAreClearErrors() {
        SyntheticTask task = new PasskeyTask(BYTES, SentencePool.repeated(BYTES), LossMask.ANSWER, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> task.generate(100, 1.5, new SplittableRandom(1)));
        assertTrue(e.getMessage().contains("depth"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> task.generate(40, 0.5, new SplittableRandom(1)));
        assertTrue(e.getMessage().contains("67 tokens") && e.getMessage().contains("40"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticTasks.create("qa", BYTES, SentencePool.repeated(BYTES), LossMask.ALL));
        assertTrue(e.getMessage().contains("passkey, niah_single"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new MultiKeyNeedleTask(BYTES, SentencePool.repeated(BYTES), LossMask.ALL, 2, 3, 7));
        assertTrue(e.getMessage().contains("queries"), e.getMessage());
    }
}
