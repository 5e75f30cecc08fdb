package org.hsajava.train.data;

import java.io.IOException;
import org.hsajava.train.text.Tokenizer;

/**
 * The corpus as an endless token stream: each document's tokens followed by eos, the corpus
 * read again from the start after its last document (one epoch per pass). Only the current
 * document's tokens are held.
 */
final class TokenStream implements AutoCloseable {

    private final Corpus corpus;
    private final Tokenizer tokenizer;
    private DocumentReader reader;
    private long epoch;
    private long document = -1;
    private int[] tokens = new int[0];
    private int offset;

    TokenStream(Corpus corpus, Tokenizer tokenizer) {
        this.corpus = corpus;
        this.tokenizer = tokenizer;
    }

    /** Moves to token {@code token} of document {@code document} of pass {@code epoch}. */
    void seek(long epoch, long document, long token) throws IOException {
        closeReader();
        this.epoch = epoch;
        this.document = -1;
        reader = corpus.open();
        for (long skipped = 0; skipped < document; skipped++) {
            if (reader.next() == null) {
                throw new IllegalArgumentException("packing position names document " + document + " but corpus "
                        + corpus.name() + " has only " + skipped + " documents");
            }
        }
        Document d = reader.next();
        if (d == null && document == 0) {
            throw new IllegalStateException("corpus " + corpus.name() + " has no documents");
        }
        if (d == null) {
            throw new IllegalArgumentException("packing position names document " + document + " but corpus "
                    + corpus.name() + " has only " + document + " documents");
        }
        load(d, document);
        if (token >= tokens.length) {
            throw new IllegalArgumentException("packing position names token " + token + " of document " + d.id()
                    + ", which has only " + tokens.length + " tokens with eos (different corpus or tokenizer?)");
        }
        offset = (int) token;
    }

    long epoch() {
        return epoch;
    }

    long document() {
        return document;
    }

    /** Offset of the next token within the current document. */
    int token() {
        return offset;
    }

    /** The next token, without consuming it. */
    int peek() throws IOException {
        ensureToken();
        return tokens[offset];
    }

    int next() throws IOException {
        ensureToken();
        return tokens[offset++];
    }

    private void ensureToken() throws IOException {
        boolean emptyPass = true;
        while (offset == tokens.length) {
            Document d = reader.next();
            if (d == null) {
                if (document < 0 && emptyPass) {
                    throw new IllegalStateException("corpus " + corpus.name() + " has no documents");
                }
                closeReader();
                reader = corpus.open();
                epoch++;
                document = -1;
                emptyPass = true;
                continue;
            }
            emptyPass = false;
            load(d, document + 1);
        }
    }

    private void load(Document d, long index) {
        int[] text = tokenizer.encode(d.text());
        tokens = java.util.Arrays.copyOf(text, text.length + 1);
        tokens[text.length] = tokenizer.eos();
        document = index;
        offset = 0;
    }

    private void closeReader() throws IOException {
        if (reader != null) {
            reader.close();
            reader = null;
        }
    }

    @Override
    public void close() throws IOException {
        closeReader();
    }
}
