package org.hsajava.train.tasks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Lays out a sample: {@code eos, filler with needles inserted at sentence boundaries, question
 * and answer pieces}; the filler gets exactly the tokens the rest leaves free.
 */
final class SampleBuilder {

    private record Insertion(double depth, int[] tokens, int order) {
    }

    private record Piece(int[] tokens, String answerText) {
    }

    private final Tokenizer tokenizer;
    private final List<Insertion> insertions = new ArrayList<>();
    private final List<Piece> tail = new ArrayList<>();
    private int primary = -1;

    SampleBuilder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** A needle at {@code depth} of the filler. */
    SampleBuilder needle(double depth, String text) {
        insertions.add(new Insertion(depth, tokenizer.encode(text), insertions.size()));
        return this;
    }

    /** The needle placed at the requested depth, whose start {@link Sample#needleStart()} reports. */
    SampleBuilder primaryNeedle(double depth, String text) {
        primary = insertions.size();
        return needle(depth, text);
    }

    /** Text after the filler that is not scored (the question). */
    SampleBuilder prompt(String text) {
        tail.add(new Piece(tokenizer.encode(text), null));
        return this;
    }

    /** Text after the filler that is the answer. */
    SampleBuilder answer(String text) {
        tail.add(new Piece(tokenizer.encode(text), text));
        return this;
    }

    Sample build(String task, int length, double depth, Filler filler, SplittableRandom rng, LossMask mask) {
        long fixed = 1;
        for (Insertion i : insertions) {
            fixed += i.tokens.length;
        }
        for (Piece p : tail) {
            fixed += p.tokens.length;
        }
        if (fixed > length) {
            throw new IllegalArgumentException(task + ": this sample's needles, question and answer take " + fixed
                    + " tokens with tokenizer " + tokenizer.name() + ", more than the " + length + " asked for");
        }
        int fillerLength = (int) (length - fixed);
        FillerText text = filler.fill(fillerLength, rng);

        int[] offsets = new int[insertions.size()];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = snap(insertions.get(i).depth * fillerLength, text.sentenceStarts(), fillerLength);
        }
        Integer[] order = new Integer[offsets.length];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, Comparator.<Integer>comparingInt(i -> offsets[i])
                .thenComparingDouble(i -> insertions.get(i).depth)
                .thenComparingInt(i -> insertions.get(i).order));

        int[] tokens = new int[length];
        int at = 0;
        tokens[at++] = tokenizer.eos();
        int copied = 0;
        int needleStart = -1;
        for (int k : order) {
            int n = offsets[k] - copied;
            System.arraycopy(text.tokens(), copied, tokens, at, n);
            at += n;
            copied = offsets[k];
            Insertion insertion = insertions.get(k);
            if (k == primary) {
                needleStart = at;
            }
            System.arraycopy(insertion.tokens, 0, tokens, at, insertion.tokens.length);
            at += insertion.tokens.length;
        }
        System.arraycopy(text.tokens(), copied, tokens, at, fillerLength - copied);
        at += fillerLength - copied;
        List<AnswerSpan> answers = new ArrayList<>();
        for (Piece p : tail) {
            if (p.answerText != null) {
                answers.add(new AnswerSpan(at, p.tokens.length, p.answerText));
            }
            System.arraycopy(p.tokens, 0, tokens, at, p.tokens.length);
            at += p.tokens.length;
        }
        return new Sample(task, tokens, answers, needleStart, fillerLength, depth, mask);
    }

    /** The sentence boundary (or the filler's end) nearest to {@code target}; the earlier on a tie. */
    static int snap(double target, int[] sentenceStarts, int fillerLength) {
        // candidates: the last start at or below the target, the next start, and the filler's end
        int i = Arrays.binarySearch(sentenceStarts, (int) Math.floor(target));
        int below = i >= 0 ? i : -i - 2;
        int best = fillerLength;
        double bestDistance = Math.abs(fillerLength - target);
        for (int k = Math.max(0, below); k <= below + 1 && k < sentenceStarts.length; k++) {
            double distance = Math.abs(sentenceStarts[k] - target);
            if (distance < bestDistance || (distance == bestDistance && sentenceStarts[k] < best)) {
                best = sentenceStarts[k];
                bestDistance = distance;
            }
        }
        return best;
    }
}
