package org.hsajava.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SplitTest {

    static Corpus numbered(int count) {
        return new Corpus() {
            @Override
            public String name() {
                return "numbered";
            }

            @Override
            public DocumentReader open() {
                return new DocumentReader() {
                    int next;

                    @Override
                    public Document next() {
                        return next < count ? new Document("doc-" + next, "text of document " + next++) : null;
                    }

                    @Override
                    public void close() {
                    }
                };
            }
        };
    }

    private static Set<String> ids(Corpus corpus) throws IOException {
        Set<String> ids = new HashSet<>();
        CorpusTest.readAll(corpus).forEach(d -> ids.add(d.id()));
        return ids;
    }

    @Test
    void partsAreDisjointCompleteAndNearTheFraction() throws IOException {
        Corpus all = numbered(2000);
        Split split = new Split(0.1, 42);
        Set<String> train = ids(split.train(all));
        Set<String> validation = ids(split.validation(all));
        Set<String> union = new HashSet<>(train);
        union.addAll(validation);
        assertEquals(2000, union.size(), "every document is in one part");
        assertEquals(2000, train.size() + validation.size(), "no document in both");
        assertTrue(validation.size() > 140 && validation.size() < 260, "validation size " + validation.size());
    }

    @Test
    void deterministicPerSeedAndIndependentOfOrder() throws IOException {
        Corpus all = numbered(500);
        assertEquals(ids(new Split(0.2, 7).validation(all)), ids(new Split(0.2, 7).validation(all)));
        assertNotEquals(ids(new Split(0.2, 7).validation(all)), ids(new Split(0.2, 8).validation(all)));
        Split split = new Split(0.2, 7);
        for (String id : List.of("doc-3", "doc-77", "doc-400")) {
            assertEquals(split.partOf(id), split.partOf(id));
        }
        assertEquals(Split.Part.TRAIN, new Split(0, 1).partOf("anything"));
        assertEquals(Split.Part.VALIDATION, new Split(1, 1).partOf("anything"));
    }

    @Test
    void fractionOutsideUnitIntervalIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Split(1.5, 0));
        assertTrue(e.getMessage().contains("validationFraction"), e.getMessage());
    }
}
