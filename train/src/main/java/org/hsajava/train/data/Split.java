package org.hsajava.train.data;

import java.io.IOException;

/**
 * Deterministic train/validation split by document: a document is in the validation part when
 * the stable hash of its id (with {@code seed}) falls below {@code validationFraction}. The same
 * document lands in the same part on every machine and in every run, whatever order it is read
 * in, and the parts are disjoint by construction.
 */
public record Split(double validationFraction, long seed) {

    public enum Part { TRAIN, VALIDATION }

    public Split {
        if (!(validationFraction >= 0 && validationFraction <= 1)) {
            throw new IllegalArgumentException("validationFraction must lie in [0, 1], got " + validationFraction);
        }
    }

    public Part partOf(String documentId) {
        return StableHash.unit(documentId, seed) < validationFraction ? Part.VALIDATION : Part.TRAIN;
    }

    /** The documents of {@code corpus} in {@code part}, streamed in the corpus's order. */
    public Corpus select(Corpus corpus, Part part) {
        return new Corpus() {
            @Override
            public String name() {
                return corpus.name() + " (" + part.name().toLowerCase(java.util.Locale.ROOT) + " part)";
            }

            @Override
            public DocumentReader open() throws IOException {
                DocumentReader all = corpus.open();
                return new DocumentReader() {
                    @Override
                    public Document next() throws IOException {
                        Document d;
                        do {
                            d = all.next();
                        } while (d != null && partOf(d.id()) != part);
                        return d;
                    }

                    @Override
                    public void close() throws IOException {
                        all.close();
                    }
                };
            }
        };
    }

    public Corpus train(Corpus corpus) {
        return select(corpus, Part.TRAIN);
    }

    public Corpus validation(Corpus corpus) {
        return select(corpus, Part.VALIDATION);
    }
}
