package org.hsajava.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.hsajava.model.config.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    static void assertSameState(CheckpointState want, CheckpointState got) {
        assertEquals(want.model(), got.model());
        assertEquals(want.train(), got.train());
        assertEquals(want.step(), got.step());
        assertArrayEquals(want.rngState(), got.rngState());
        // JSON equality by value: 1234500 comes back as an int node even if it was written from a long.
        assertTrue(want.dataPosition().equals(CheckpointTest::compareJson, got.dataPosition()),
                want.dataPosition() + " vs " + got.dataPosition());
        assertArrayEquals(want.parameters(), got.parameters());
        assertArrayEquals(want.adamM(), got.adamM());
        assertArrayEquals(want.adamV(), got.adamV());
    }

    Path saved() throws IOException {
        Path ck = dir.resolve("step-000100");
        Checkpoint.write(ck, CheckpointFixtures.state(100, 7));
        return ck;
    }

    @Test
    void roundTripRestoresEverything() throws IOException {
        CheckpointState s = CheckpointFixtures.state(100, 7);
        Path ck = dir.resolve("ck");
        Checkpoint.write(ck, s);
        assertSameState(s, Checkpoint.read(ck));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("ck"), files.map(p -> p.getFileName().toString()).toList(), "no temporary folder left");
        }
        try (Stream<Path> files = Files.list(ck)) {
            assertEquals(List.of("config.json", "manifest.json", "model.safetensors", "optimizer.safetensors"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        ParameterLayout l = s.layout();
        SafetensorsContent model = Safetensors.read(ck.resolve(Checkpoint.MODEL_FILE));
        assertEquals(l.specs().stream().map(p -> p.name()).toList(), List.copyOf(model.tensors().keySet()));
        assertEquals("pt", model.metadata().get("format"));
        assertEquals(s.model().toAuthorsConfigJson(), JSON.readTree(ck.resolve(Checkpoint.CONFIG_FILE).toFile()));
        SafetensorsContent opt = Safetensors.read(ck.resolve(Checkpoint.OPTIMIZER_FILE));
        assertEquals(2 * l.specs().size() + 1, opt.tensors().size());
        assertArrayEquals(new long[] {100}, opt.get("step").toLongs());
    }

    static CorruptCheckpointException corrupt(Path ck) {
        return assertThrows(CorruptCheckpointException.class, () -> Checkpoint.read(ck));
    }

    static void assertNames(CorruptCheckpointException e, Path ck, String file, String part) {
        assertEquals(ck.resolve(file), e.file(), e.getMessage());
        assertTrue(e.getMessage().contains(file), e.getMessage());
        assertTrue(e.getMessage().contains(part), "'" + part + "' missing in: " + e.getMessage());
    }

    @Test
    void truncatedFileIsDetected() throws IOException {
        Path ck = saved();
        Path f = ck.resolve(Checkpoint.MODEL_FILE);
        byte[] b = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(b, b.length - 100));
        assertNames(corrupt(ck), ck, Checkpoint.MODEL_FILE, "truncated");
    }

    @Test
    void flippedDataByteIsDetected() throws IOException {
        Path ck = saved();
        flip(ck.resolve(Checkpoint.OPTIMIZER_FILE), -10);
        assertNames(corrupt(ck), ck, Checkpoint.OPTIMIZER_FILE, "SHA-256");
    }

    @Test
    void flippedHeaderByteIsDetected() throws IOException {
        Path ck = saved();
        flip(ck.resolve(Checkpoint.MODEL_FILE), 20);
        assertNames(corrupt(ck), ck, Checkpoint.MODEL_FILE, "SHA-256");
    }

    /** A damaged file whose manifest was (wrongly) written to match it is still caught by the format checks. */
    @Test
    void damagedHeaderBehindAMatchingManifestIsStillRejected() throws IOException {
        Path ck = saved();
        Path f = ck.resolve(Checkpoint.MODEL_FILE);
        byte[] b = Files.readAllBytes(f);
        String header = new String(b, 8, (int) ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
        int at = 8 + header.indexOf("\"data_offsets\":[") + "\"data_offsets\":[".length();
        b[at] = (byte) (b[at] == '9' ? '8' : '9'); // first tensor's begin offset becomes 9 or 8
        Files.write(f, b);
        rewriteManifestEntry(ck, Checkpoint.MODEL_FILE, b);
        assertNames(corrupt(ck), ck, Checkpoint.MODEL_FILE, "backbone.embeddings.weight");
    }

    @Test
    void wrongShaInManifestIsDetected() throws IOException {
        Path ck = saved();
        ObjectNode m = (ObjectNode) JSON.readTree(ck.resolve(Checkpoint.MANIFEST_FILE).toFile());
        ((ObjectNode) m.get("files").get(Checkpoint.MODEL_FILE)).put("sha256", "00".repeat(32));
        Files.write(ck.resolve(Checkpoint.MANIFEST_FILE), JSON.writeValueAsBytes(m));
        assertNames(corrupt(ck), ck, Checkpoint.MODEL_FILE, "SHA-256");
    }

    @Test
    void missingFilesAreDetected() throws IOException {
        Path ck = saved();
        Files.delete(ck.resolve(Checkpoint.OPTIMIZER_FILE));
        assertNames(corrupt(ck), ck, Checkpoint.OPTIMIZER_FILE, "missing");
        Path ck2 = dir.resolve("other");
        Checkpoint.write(ck2, CheckpointFixtures.state(5, 1));
        Files.delete(ck2.resolve(Checkpoint.MANIFEST_FILE));
        assertNames(corrupt(ck2), ck2, Checkpoint.MANIFEST_FILE, "missing");
        CorruptCheckpointException e = corrupt(dir.resolve("nowhere"));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void manifestProblemsNameTheManifest() throws IOException {
        Path ck = saved();
        Path mf = ck.resolve(Checkpoint.MANIFEST_FILE);
        ObjectNode m = (ObjectNode) JSON.readTree(mf.toFile());
        ((ObjectNode) m.get("model_config")).put("chunk_size", 48);
        Files.write(mf, JSON.writeValueAsBytes(m));
        assertNames(corrupt(ck), ck, Checkpoint.MANIFEST_FILE, "chunk_size: must be one of 16, 32, 64, 128, got 48");

        Path ck3 = dir.resolve("ck3");
        Checkpoint.write(ck3, CheckpointFixtures.state(100, 7));
        Path mf3 = ck3.resolve(Checkpoint.MANIFEST_FILE);
        ObjectNode m3 = (ObjectNode) JSON.readTree(mf3.toFile());
        m3.put("step", 101);
        Files.write(mf3, JSON.writeValueAsBytes(m3));
        assertNames(corrupt(ck3), ck3, Checkpoint.OPTIMIZER_FILE, "differs from the manifest's step 101");

        Files.writeString(mf, "{\"format\": \"hsa-java-checkpoint\", ");
        assertNames(corrupt(ck), ck, Checkpoint.MANIFEST_FILE, "not valid JSON");
        Files.writeString(mf, "{\"format\": \"hsa-java-checkpoint\", \"format_version\": 99}");
        assertNames(corrupt(ck), ck, Checkpoint.MANIFEST_FILE, "format_version 99");
    }

    @Test
    void modelFileOfAnotherShapeIsRejected() throws IOException {
        Path ck = saved();
        CheckpointState s = CheckpointFixtures.state(100, 7);
        ObjectNode other = s.model().toJson();
        other.put("vocab_size", 21);
        ParameterLayout l = ParameterLayout.of(org.hsajava.model.config.ModelConfig.fromJson(other));
        byte[] b = ModelWeights.encode(l, new float[(int) l.totalSize()], SafeDType.F32);
        Files.write(ck.resolve(Checkpoint.MODEL_FILE), b);
        rewriteManifestEntry(ck, Checkpoint.MODEL_FILE, b);
        assertNames(corrupt(ck), ck, Checkpoint.MODEL_FILE, "shape [21, 32], the model expects [20, 32]");
    }

    @Test
    void resavingAFolderReplacesIt() throws IOException {
        Path ck = saved();
        CheckpointState s2 = CheckpointFixtures.state(100, 8);
        Checkpoint.write(ck, s2);
        assertSameState(s2, Checkpoint.read(ck));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(1, files.count(), "old folder removed");
        }
    }

    static int compareJson(com.fasterxml.jackson.databind.JsonNode a, com.fasterxml.jackson.databind.JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.decimalValue().compareTo(b.decimalValue());
        return a.equals(b) ? 0 : 1;
    }

    @Test
    void weightsOnlyCheckpointRoundTripsWithoutOptimizerState() throws IOException {
        CheckpointState s = CheckpointFixtures.state(100, 7).weightsOnly();
        Path ck = dir.resolve("w");
        Checkpoint.write(ck, s);
        try (Stream<Path> files = Files.list(ck)) {
            assertEquals(List.of("config.json", "manifest.json", "model.safetensors"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        CheckpointState got = Checkpoint.read(ck);
        assertTrue(!got.hasOptimizerState() && got.adamM() == null && got.adamV() == null);
        assertArrayEquals(s.parameters(), got.parameters());
        assertEquals(s.step(), got.step());
        assertEquals(s.model(), got.model());
        assertTrue(JSON.readTree(ck.resolve(Checkpoint.MANIFEST_FILE).toFile()).get("weights_only").booleanValue());

        flip(ck.resolve(Checkpoint.MODEL_FILE), -10);
        assertNames(corrupt(ck), ck, Checkpoint.MODEL_FILE, "SHA-256");
    }

    @Test
    void onlyAnExplicitWeightsOnlyFlagMakesTheOptimizerFileOptional() throws IOException {
        // a full checkpoint's manifest that no longer lists the optimizer file: rejected
        Path ck = saved();
        Path mf = ck.resolve(Checkpoint.MANIFEST_FILE);
        ObjectNode m = (ObjectNode) JSON.readTree(mf.toFile());
        ((ObjectNode) m.get("files")).remove(Checkpoint.OPTIMIZER_FILE);
        Files.write(mf, JSON.writeValueAsBytes(m));
        assertNames(corrupt(ck), ck, Checkpoint.MANIFEST_FILE, "does not list " + Checkpoint.OPTIMIZER_FILE);
        // the flag must be a boolean
        m.put("weights_only", "yes");
        Files.write(mf, JSON.writeValueAsBytes(m));
        assertNames(corrupt(ck), ck, Checkpoint.MANIFEST_FILE, "\"weights_only\" must be true or false");
        // the flag set on a full checkpoint whose manifest still lists the optimizer file: ambiguous, rejected
        Path ck2 = dir.resolve("full");
        Checkpoint.write(ck2, CheckpointFixtures.state(3, 1));
        Path mf2 = ck2.resolve(Checkpoint.MANIFEST_FILE);
        Files.write(mf2, JSON.writeValueAsBytes(((ObjectNode) JSON.readTree(mf2.toFile())).put("weights_only", true)));
        assertNames(corrupt(ck2), ck2, Checkpoint.MANIFEST_FILE, "\"weights_only\" is true but \"files\" lists " + Checkpoint.OPTIMIZER_FILE);
    }

    @Test
    void fullCheckpointWithoutItsOptimizerFileIsStillRejected() throws IOException {
        Path ck = saved();
        Files.delete(ck.resolve(Checkpoint.OPTIMIZER_FILE));
        assertNames(corrupt(ck), ck, Checkpoint.OPTIMIZER_FILE, "missing");
        // and a weights-only checkpoint whose flag was removed is no full checkpoint either
        Path w = dir.resolve("w");
        Checkpoint.write(w, CheckpointFixtures.state(3, 1).weightsOnly());
        Path mf = w.resolve(Checkpoint.MANIFEST_FILE);
        Files.write(mf, JSON.writeValueAsBytes(((ObjectNode) JSON.readTree(mf.toFile())).put("weights_only", false)));
        assertNames(corrupt(w), w, Checkpoint.MANIFEST_FILE, "does not list " + Checkpoint.OPTIMIZER_FILE);
    }

    @Test
    void weightsOnlyCheckpointStillChecksItsConfigFile() throws IOException {
        Path w = dir.resolve("w");
        Checkpoint.write(w, CheckpointFixtures.state(3, 1).weightsOnly());
        flip(w.resolve(Checkpoint.CONFIG_FILE), 5); // same size: only the hash can tell
        assertNames(corrupt(w), w, Checkpoint.CONFIG_FILE, "SHA-256");
        // a manifest rewritten to match a tampered config that is no JSON: still caught by the parse
        byte[] bad = "{\"model_type\": ".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(w.resolve(Checkpoint.CONFIG_FILE), bad);
        rewriteManifestEntry(w, Checkpoint.CONFIG_FILE, bad);
        assertNames(corrupt(w), w, Checkpoint.CONFIG_FILE, "not valid JSON");
        // and one that no longer lists config.json
        Path mf = w.resolve(Checkpoint.MANIFEST_FILE);
        ObjectNode m = (ObjectNode) JSON.readTree(mf.toFile());
        ((ObjectNode) m.get("files")).remove(Checkpoint.CONFIG_FILE);
        Files.write(mf, JSON.writeValueAsBytes(m));
        assertNames(corrupt(w), w, Checkpoint.MANIFEST_FILE, "does not list " + Checkpoint.CONFIG_FILE);
    }

    static void flip(Path f, int at) throws IOException {
        byte[] b = Files.readAllBytes(f);
        int i = at < 0 ? b.length + at : at;
        b[i] ^= 0x10;
        Files.write(f, b);
    }

    static void rewriteManifestEntry(Path ck, String file, byte[] bytes) throws IOException {
        Path mf = ck.resolve(Checkpoint.MANIFEST_FILE);
        ObjectNode m = (ObjectNode) JSON.readTree(mf.toFile());
        ((ObjectNode) m.get("files").get(file)).put("sha256", Checkpoint.sha256(bytes)).put("bytes", bytes.length);
        Files.write(mf, JSON.writeValueAsBytes(m));
    }
}
