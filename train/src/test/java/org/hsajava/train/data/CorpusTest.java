package org.hsajava.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {

    @TempDir
    Path dir;

    static List<Document> readAll(Corpus corpus) throws IOException {
        List<Document> docs = new ArrayList<>();
        try (DocumentReader reader = corpus.open()) {
            for (Document d; (d = reader.next()) != null; ) {
                docs.add(d);
            }
        }
        return docs;
    }

    private void write(String relative, String text) throws IOException {
        Path file = dir.resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }

    @Test
    void folderIsReadRecursivelyInSortedOrderWithJsonl() throws IOException {
        write("b.txt", "bee\r\nline two\n");
        write("a/z.txt", "zed");
        write("a/docs.jsonl", "{\"text\": \"first\", \"id\": 7}\n\n{\"text\": \"sec\\nond\"}\n");
        write("c/skip.bin", "not a corpus file");
        write(".hidden/x.txt", "hidden");
        FolderCorpus corpus = new FolderCorpus(dir);
        assertEquals(List.of("a/docs.jsonl", "a/z.txt", "b.txt"), corpus.files());
        List<Document> docs = readAll(corpus);
        assertEquals(List.of(
                new Document("a/docs.jsonl:1", "first"),
                new Document("a/docs.jsonl:3", "sec\nond"),
                new Document("a/z.txt", "zed"),
                new Document("b.txt", "bee\nline two")), docs);
        assertEquals(docs, readAll(corpus), "a second pass gives the same documents");
    }

    @Test
    void jsonlLineWithoutTextNamesFileAndLine() throws IOException {
        write("d/data.jsonl", "{\"text\": \"ok\"}\n{\"title\": \"no text\"}\n");
        Corpus corpus = new FolderCorpus(dir);
        CorpusFormatException e = assertThrows(CorpusFormatException.class, () -> readAll(corpus));
        assertEquals("d/data.jsonl", e.source());
        assertEquals(2, e.line());
        assertTrue(e.getMessage().startsWith("d/data.jsonl:2:") && e.getMessage().contains("\"text\""), e.getMessage());
    }

    @Test
    void malformedJsonAndNonStringTextAreErrors() throws IOException {
        write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated\n");
        CorpusFormatException e = assertThrows(CorpusFormatException.class,
                () -> readAll(new JsonlCorpus(dir.resolve("bad.jsonl"))));
        assertEquals(2, e.line());
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());

        write("num.jsonl", "{\"text\": 42}\n");
        e = assertThrows(CorpusFormatException.class, () -> readAll(new JsonlCorpus(dir.resolve("num.jsonl"))));
        assertTrue(e.getMessage().contains("must be a string"), e.getMessage());
    }

    @Test
    void invalidUtf8NamesFileAndLine() throws IOException {
        Path file = dir.resolve("latin1.txt");
        byte[] good = "fine\nalso fine\n".getBytes(StandardCharsets.UTF_8);
        byte[] bad = {'c', 'a', 'f', (byte) 0xE9, '\n'};
        byte[] all = new byte[good.length + bad.length];
        System.arraycopy(good, 0, all, 0, good.length);
        System.arraycopy(bad, 0, all, good.length, bad.length);
        Files.write(file, all);
        CorpusFormatException e = assertThrows(CorpusFormatException.class, () -> readAll(new TextFileCorpus(file)));
        assertTrue(e.getMessage().contains("latin1.txt") && e.getMessage().contains("invalid UTF-8"), e.getMessage());
    }

    @Test
    void longTextFileIsCutAtLineBreaksLosingNothing() throws IOException {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            text.append("line number ").append(i).append('\n');
        }
        write("long.txt", text.toString());
        List<Document> parts = readAll(new TextFileCorpus(dir.resolve("long.txt"), "long.txt", 200));
        assertTrue(parts.size() > 5, "cut into several documents");
        StringBuilder joined = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            assertEquals("long.txt#" + (i + 1), parts.get(i).id());
            assertTrue(parts.get(i).text().length() <= 200);
            joined.append(i == 0 ? "" : "\n").append(parts.get(i).text());
        }
        assertEquals(text.toString().strip(), joined.toString());
    }

    @Test
    void openChoosesByPathKind() throws IOException {
        write("one.txt", "just one");
        write("x.jsonl", "{\"text\": \"j\"}\n");
        assertEquals(List.of(new Document("one.txt", "just one")), readAll(Corpora.open(dir.resolve("one.txt"))));
        assertEquals(List.of(new Document("x.jsonl:1", "j")), readAll(Corpora.open(dir.resolve("x.jsonl"))));
        assertEquals(2, readAll(Corpora.open(dir)).size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Corpora.open(dir.resolve("nope")));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
    }

    @Test
    void bundledCorpusHasBothNovels() throws IOException {
        List<Document> docs = readAll(Corpora.bundled());
        assertEquals(85, docs.size());
        long chars = docs.stream().mapToLong(d -> d.text().length()).sum();
        assertTrue(chars > 100_000 && chars < 2_000_000, "size " + chars);
        assertTrue(docs.stream().anyMatch(d -> d.text().startsWith("It is a truth universally acknowledged")));
    }
}
