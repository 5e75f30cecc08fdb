package org.hsajava.train.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.SplittableRandom;
import org.hsajava.train.data.Corpora;
import org.hsajava.train.text.ByteTokenizer;
import org.hsajava.train.text.Tokenizer;
import org.junit.jupiter.api.Test;

class SentencePoolTest {

    private final Tokenizer bytes = new ByteTokenizer();

    @Test
    void repeatedFillerIsThePasskeySentencesInOrder() {
        SentencePool pool = SentencePool.repeated(bytes);
        assertEquals(5, pool.sentences());
        FillerText text = pool.fill(200, new SplittableRandom(4));
        assertEquals(200, text.tokens().length);
        String decoded = bytes.decode(text.tokens());
        assertTrue(decoded.contains(" The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."), decoded);
        for (int start : text.sentenceStarts()) {
            assertEquals(' ', text.tokens()[start], "sentences start with their leading space");
        }
        assertEquals(0, text.sentenceStarts()[0]);
        assertEquals(0, pool.fill(0, new SplittableRandom(4)).tokens().length);
    }

    @Test
    void corpusPoolStopsAtItsBoundAndSplitsSentences() throws IOException {
        SentencePool pool = SentencePool.fromCorpus(Corpora.bundled(), bytes, 20_000);
        assertTrue(pool.pooledTokens() >= 20_000 && pool.pooledTokens() < 20_000 + pool.longestSentence() + 1);
        assertTrue(pool.sentences() > 100, "sentences: " + pool.sentences());
        FillerText a = pool.fill(5000, new SplittableRandom(8));
        FillerText b = pool.fill(5000, new SplittableRandom(8));
        assertArrayEquals(a.tokens(), b.tokens());
        String text = bytes.decode(a.tokens());
        assertTrue(!text.contains("\n") && !text.contains("  "), "whitespace collapsed");
    }
}
