package org.hsajava.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.data.Corpora;
import org.hsajava.train.data.Corpus;
import org.hsajava.train.data.DocumentReader;
import org.hsajava.train.loop.MixedBatchSource;

/**
 * Which text perplexity is measured on: text the checkpoint was not trained on.
 * <ul>
 *   <li>{@code --ppl-corpus PATH} (or {@code bundled}): that corpus, all of it;</li>
 *   <li>a run trained on a corpus: that corpus's validation part ({@link MixedBatchSource#SPLIT}, the
 *       documents training never read);</li>
 *   <li>a run with synthetic filler only: the bundled corpus, all of it (training never read it).</li>
 * </ul>
 */
public final class HeldOutSources {
    private HeldOutSources() {}

    /** A corpus and how the report names it. */
    public record Source(Corpus corpus, String description) {}

    public static Source resolve(String pplCorpus, TrainConfig train) {
        if (pplCorpus != null && !pplCorpus.isBlank()) {
            if (pplCorpus.equals(MixedBatchSource.BUNDLED)) return new Source(Corpora.bundled(), "the bundled corpus (austen.jsonl), all of it");
            Path p = Path.of(pplCorpus);
            if (!Files.exists(p)) throw new IllegalArgumentException("--ppl-corpus: no such file or folder: " + p);
            return new Source(Corpora.open(p), p + ", all of it");
        }
        String corpus = train.corpus();
        if (corpus == null || corpus.isBlank())
            return new Source(Corpora.bundled(), "the bundled corpus (austen.jsonl), all of it: the run trained on synthetic filler only");
        Corpus all;
        if (corpus.equals(MixedBatchSource.BUNDLED)) {
            all = Corpora.bundled();
        } else {
            Path p = Path.of(corpus);
            if (!Files.exists(p)) throw new IllegalArgumentException("the checkpoint's training corpus " + p + " is not here; pass --ppl-corpus PATH for the perplexity text");
            all = Corpora.open(p);
        }
        Corpus validation = MixedBatchSource.SPLIT.validation(all);
        try (DocumentReader r = validation.open()) {
            if (r.next() == null)
                throw new IllegalArgumentException("the training corpus " + corpus + " has no validation documents (every document was trained on); pass --ppl-corpus PATH");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + corpus + ": " + e.getMessage(), e);
        }
        return new Source(validation, corpus + ", validation part (" + Math.round(100 * MixedBatchSource.VALIDATION_FRACTION) + "% of documents, never trained on)");
    }
}
