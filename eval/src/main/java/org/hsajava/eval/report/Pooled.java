package org.hsajava.eval.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Retrieval cells pooled over seeds (and, for the by-length view, over depths): accuracy is
 * Σ correct / Σ samples, so every sample weighs the same; the per-cell accuracies give the spread.
 * Cells that did not run are counted apart and keep their notes.
 */
record Pooled(int cells, int samples, int correct, int answerTokens, int answerTokensCorrect, double needleSum, double needleWeightSum, int needleSamples,
              double minAccuracy, double maxAccuracy, double seconds, long peakBytes, List<String> notes) {

    static Pooled of(List<CellResult> group) {
        int cells = 0, samples = 0, correct = 0, at = 0, atc = 0, needleSamples = 0;
        double needle = 0, needleWeight = 0, min = 1, max = 0, seconds = 0;
        long peak = 0;
        List<String> notes = new ArrayList<>();
        for (CellResult c : group) {
            if (!c.ran()) {
                if (c.note() != null && !notes.contains(c.note())) notes.add(c.note());
                continue;
            }
            cells++;
            samples += c.samples();
            correct += c.correct();
            at += c.answerTokens();
            atc += c.answerTokensCorrect();
            if (c.needleChunkSelected() != null) {
                needle += c.needleChunkSelected() * c.samples();
                needleWeight += (c.needleChunkWeight() == null ? 0 : c.needleChunkWeight()) * c.samples();
                needleSamples += c.samples();
            }
            min = Math.min(min, c.accuracy());
            max = Math.max(max, c.accuracy());
            seconds += c.seconds();
            peak = Math.max(peak, c.peakMemoryBytes());
        }
        return new Pooled(cells, samples, correct, at, atc, needle, needleWeight, needleSamples, min, max, seconds, peak, List.copyOf(notes));
    }

    boolean ran() { return samples > 0; }

    double accuracy() { return samples == 0 ? Double.NaN : (double) correct / samples; }

    double answerTokenAccuracy() { return answerTokens == 0 ? Double.NaN : (double) answerTokensCorrect / answerTokens; }

    /** A tooltip line: accuracy with counts, spread over cells, partial credit, needle selection, time. */
    String describe() {
        if (!ran()) return notes.isEmpty() ? "not run" : String.join("; ", notes);
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "exact match %.1f%% (%d/%d)", 100 * accuracy(), correct, samples));
        if (cells > 1) s.append(String.format(Locale.ROOT, ", per cell %.0f–%.0f%% over %d cells", 100 * minAccuracy, 100 * maxAccuracy, cells));
        s.append(String.format(Locale.ROOT, "; answer tokens %.1f%%", 100 * answerTokenAccuracy()));
        if (needleSamples > 0) s.append(String.format(Locale.ROOT, "; needle chunk selected %.0f%%, mean weight %.3f", 100 * needleSum / needleSamples,
                needleWeightSum / needleSamples));
        s.append(String.format(Locale.ROOT, "; %.2f s", seconds));
        if (!notes.isEmpty()) s.append("; some cells not run: ").append(String.join("; ", notes));
        return s.toString();
    }

    /** The cells of {@code run} for {@code task}, grouped by {@code key} (sorted) and pooled. */
    static <K extends Comparable<K>> Map<K, Pooled> group(RunReport run, String task, Function<CellResult, K> key) {
        Map<K, List<CellResult>> groups = new TreeMap<>();
        for (CellResult c : run.cells()) if (c.task().equals(task)) groups.computeIfAbsent(key.apply(c), k -> new ArrayList<>()).add(c);
        Map<K, Pooled> out = new TreeMap<>();
        groups.forEach((k, v) -> out.put(k, of(v)));
        return out;
    }
}
