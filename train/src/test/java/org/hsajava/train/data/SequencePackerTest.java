package org.hsajava.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hsajava.train.text.ByteTokenizer;
import org.hsajava.train.text.Gpt2Tokenizer;
import org.hsajava.train.text.Tokenizer;
import org.junit.jupiter.api.Test;

class SequencePackerTest {

    private final Tokenizer bytes = new ByteTokenizer();

    /** Documents of different lengths, some shorter than a sequence, some much longer. */
    private static Corpus corpus() {
        return new Corpus() {
            @Override
            public String name() {
                return "varied";
            }

            @Override
            public DocumentReader open() {
                return new DocumentReader() {
                    int next;

                    @Override
                    public Document next() {
                        if (next == 23) {
                            return null;
                        }
                        int n = next++;
                        return new Document("d" + n, ("doc" + n + " ").repeat(1 + (n * 7) % 19));
                    }

                    @Override
                    public void close() {
                    }
                };
            }
        };
    }

    /** The whole corpus as one token stream, documents followed by eos, repeated for {@code epochs}. */
    private static int[] expectedStream(Corpus corpus, Tokenizer tokenizer, int epochs) throws IOException {
        List<Integer> all = new ArrayList<>();
        for (int e = 0; e < epochs; e++) {
            for (Document d : CorpusTest.readAll(corpus)) {
                for (int id : tokenizer.encode(d.text())) {
                    all.add(id);
                }
                all.add(tokenizer.eos());
            }
        }
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void unshuffledSequencesAreTheStreamCutEveryLengthTokens() throws IOException {
        int length = 16;
        int[] stream = expectedStream(corpus(), bytes, 3);
        try (SequencePacker packer = new SequencePacker(corpus(), bytes, length, 1, 1)) {
            for (int k = 0; (k + 1) * length < stream.length; k++) {
                int[] sequence = packer.next();
                assertEquals(length + 1, sequence.length);
                assertArrayEquals(Arrays.copyOfRange(stream, k * length, k * length + length + 1), sequence, "sequence " + k);
            }
        }
    }

    @Test
    void shuffledBlocksArePermutationsOfTheStreamsSequences() throws IOException {
        int length = 8;
        int block = 5;
        int[] stream = expectedStream(corpus(), bytes, 2);
        Map<String, Integer> expected = new HashMap<>();
        int count = 40;
        for (int k = 0; k < count; k++) {
            expected.merge(Arrays.toString(Arrays.copyOfRange(stream, k * length, k * length + length + 1)), 1, Integer::sum);
        }
        boolean anyMoved = false;
        try (SequencePacker packer = new SequencePacker(corpus(), bytes, length, 99, block)) {
            for (int k = 0; k < count; k++) {
                int[] s = packer.next();
                String key = Arrays.toString(s);
                assertTrue(expected.merge(key, -1, Integer::sum) >= 0, "sequence " + k + " is not from its block");
                int blockStart = k / block * block;
                boolean inBlock = false;
                for (int j = blockStart; j < blockStart + block; j++) {
                    inBlock |= Arrays.equals(s, Arrays.copyOfRange(stream, j * length, j * length + length + 1));
                }
                assertTrue(inBlock, "sequence " + k + " comes from its own block");
                anyMoved |= !Arrays.equals(s, Arrays.copyOfRange(stream, k * length, k * length + length + 1));
            }
        }
        assertTrue(anyMoved, "a shuffle block of 5 should reorder something in 8 blocks");
    }

    @Test
    void sameSeedSameOrderOtherSeedOtherOrder() {
        assertEquals(take(7, 30), take(7, 30));
        assertFalse(take(7, 30).equals(take(8, 30)));
    }

    private List<String> take(long seed, int count) {
        List<String> out = new ArrayList<>();
        try (SequencePacker packer = new SequencePacker(corpus(), bytes, 12, seed, 6)) {
            for (int i = 0; i < count; i++) {
                out.add(Arrays.toString(packer.next()));
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        return out;
    }

    @Test
    void resumeFromAnySavedPositionGivesTheSameFollowingSequences() throws IOException {
        for (Tokenizer tokenizer : List.of(bytes, new Gpt2Tokenizer())) {
            List<int[]> reference = new ArrayList<>();
            List<PackingPosition> positions = new ArrayList<>();
            try (SequencePacker packer = new SequencePacker(corpus(), tokenizer, 10, 5, 4)) {
                for (int i = 0; i < 60; i++) {
                    positions.add(packer.position());
                    reference.add(packer.next());
                }
            }
            ObjectMapper json = new ObjectMapper();
            for (int start : new int[] {0, 1, 3, 4, 5, 17, 33, 50}) {
                String saved = json.writeValueAsString(positions.get(start));
                PackingPosition restored = json.readValue(saved, PackingPosition.class);
                assertEquals(positions.get(start), restored);
                try (SequencePacker resumed = SequencePacker.resume(corpus(), tokenizer, restored)) {
                    for (int i = start; i < 60; i++) {
                        assertArrayEquals(reference.get(i), resumed.next(), tokenizer.name() + ": resumed at " + start + ", sequence " + i);
                    }
                }
            }
        }
    }

    @Test
    void batchesAreFlatRowsOfLengthPlusOne() throws IOException {
        try (SequencePacker a = new SequencePacker(corpus(), bytes, 6, 3, 2);
             SequencePacker b = new SequencePacker(corpus(), bytes, 6, 3, 2)) {
            Batch batch = a.nextBatch(3);
            assertEquals(3 * 7, batch.tokens().length);
            for (int r = 0; r < 3; r++) {
                int[] row = b.next();
                assertArrayEquals(row, batch.row(r));
                for (int t = 0; t < 6; t++) {
                    assertEquals(row[t], batch.input(r, t));
                    assertEquals(row[t + 1], batch.target(r, t));
                }
            }
        }
    }

    @Test
    void emptyCorpusAndForeignPositionAreClearErrors() {
        Corpus empty = SplitTest.numbered(0);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new SequencePacker(empty, bytes, 8, 0, 1));
        assertTrue(e.getMessage().contains("no documents"), e.getMessage());
        PackingPosition far = new PackingPosition(8, 0, 1, 10, 0, 500, 0);
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class,
                () -> SequencePacker.resume(corpus(), bytes, far));
        assertTrue(f.getMessage().contains("document 500"), f.getMessage());
    }
}
