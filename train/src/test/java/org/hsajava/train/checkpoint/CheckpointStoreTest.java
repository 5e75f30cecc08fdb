package org.hsajava.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CheckpointStoreTest {
    @TempDir
    Path root;

    /** Thrown by the probe to simulate a crash at one stage of a save. */
    static final class SimulatedCrash extends IOException {
        SimulatedCrash(String stage) { super("simulated crash after " + stage); }
    }

    static Checkpoint.SaveProbe crashAt(String stage) {
        return s -> { if (s.equals(stage)) throw new SimulatedCrash(s); };
    }

    List<String> entries() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void emptyStoreHasNoLatest() throws IOException {
        CheckpointStore store = new CheckpointStore(root.resolve("run"), 2);
        assertTrue(store.loadLatest().isEmpty());
        assertEquals(List.of(), store.steps());
    }

    @Test
    void keepsTheLastNAndPointsLatestAtTheNewest() throws IOException {
        CheckpointStore store = new CheckpointStore(root, 2);
        for (long step = 100; step <= 500; step += 100) {
            Path dir = store.save(CheckpointFixtures.state(step, step));
            assertEquals(root.resolve(CheckpointStore.folderName(step)), dir);
        }
        assertEquals(List.of(400L, 500L), store.steps());
        assertEquals(List.of("latest", "step-000400", "step-000500"), entries());
        assertEquals("step-000500", Files.readString(root.resolve("latest")).strip());
        CheckpointTest.assertSameState(CheckpointFixtures.state(500, 500), store.loadLatest().orElseThrow());
        CheckpointTest.assertSameState(CheckpointFixtures.state(400, 400), store.load(400));
    }

    @ParameterizedTest
    @ValueSource(strings = {"model.safetensors", "optimizer.safetensors", "config.json", "manifest.json"})
    void crashDuringAFolderWriteKeepsThePreviousCheckpoint(String stage) throws IOException {
        new CheckpointStore(root, 1).save(CheckpointFixtures.state(100, 1));
        CheckpointStore crashing = new CheckpointStore(root, 1, crashAt(stage));
        assertThrows(SimulatedCrash.class, () -> crashing.save(CheckpointFixtures.state(200, 2)));
        assertEquals(List.of("latest", "step-000100"), entries(), "no half-written folder is left visible");
        CheckpointStore store = new CheckpointStore(root, 1);
        CheckpointTest.assertSameState(CheckpointFixtures.state(100, 1), store.loadLatest().orElseThrow());
        store.save(CheckpointFixtures.state(200, 2));
        assertEquals(List.of(200L), store.steps());
        CheckpointTest.assertSameState(CheckpointFixtures.state(200, 2), store.loadLatest().orElseThrow());
    }

    @Test
    void crashBeforeTheLatestPointerMovesKeepsLatestOnTheOldCheckpoint() throws IOException {
        new CheckpointStore(root, 1).save(CheckpointFixtures.state(100, 1));
        CheckpointStore crashing = new CheckpointStore(root, 1, crashAt("renamed"));
        assertThrows(SimulatedCrash.class, () -> crashing.save(CheckpointFixtures.state(200, 2)));
        CheckpointStore store = new CheckpointStore(root, 1);
        assertEquals(100, store.loadLatest().orElseThrow().step());
        // The complete but unreferenced step-200 folder is still a valid checkpoint.
        assertEquals(200, store.load(200).step());
        assertEquals(List.of(100L, 200L), store.steps(), "retention did not run: the save never finished");
    }

    @Test
    void crashAfterTheLatestPointerMovedBeforePruningLeavesBothLoadable() throws IOException {
        new CheckpointStore(root, 1).save(CheckpointFixtures.state(100, 1));
        CheckpointStore crashing = new CheckpointStore(root, 1, crashAt("latest"));
        assertThrows(SimulatedCrash.class, () -> crashing.save(CheckpointFixtures.state(200, 2)));
        CheckpointStore store = new CheckpointStore(root, 1);
        assertEquals(200, store.loadLatest().orElseThrow().step());
        store.save(CheckpointFixtures.state(300, 3));
        assertEquals(List.of(300L), store.steps());
    }

    @Test
    void leftoversOfAKilledProcessAreIgnoredAndCleanedUp() throws IOException {
        CheckpointStore store = new CheckpointStore(root, 3);
        store.save(CheckpointFixtures.state(100, 1));
        Path leftover = Files.createDirectory(root.resolve(Checkpoint.TEMP_PREFIX + "step-000200-dead"));
        Files.writeString(leftover.resolve("model.safetensors"), "half");
        assertEquals(List.of(100L), store.steps());
        assertEquals(100, store.loadLatest().orElseThrow().step());
        store.save(CheckpointFixtures.state(200, 2));
        assertFalse(Files.exists(leftover));
        assertEquals(List.of("latest", "step-000100", "step-000200"), entries());
    }

    @Test
    void badLatestPointerIsReported() throws IOException {
        CheckpointStore store = new CheckpointStore(root, 2);
        store.save(CheckpointFixtures.state(100, 1));
        Files.writeString(root.resolve("latest"), "../../etc\n");
        CorruptCheckpointException e = assertThrows(CorruptCheckpointException.class, store::loadLatest);
        assertEquals(root.resolve("latest"), e.file());
        Files.writeString(root.resolve("latest"), "step-000900\n");
        e = assertThrows(CorruptCheckpointException.class, store::loadLatest);
        assertTrue(e.getMessage().contains("step-000900"), e.getMessage());
    }

    @Test
    void corruptLatestCheckpointIsNotHalfLoaded() throws IOException {
        CheckpointStore store = new CheckpointStore(root, 2);
        Path dir = store.save(CheckpointFixtures.state(100, 1));
        CheckpointTest.flip(dir.resolve(Checkpoint.MODEL_FILE), -1);
        CorruptCheckpointException e = assertThrows(CorruptCheckpointException.class, store::loadLatest);
        assertEquals(dir.resolve(Checkpoint.MODEL_FILE), e.file());
    }

    @Test
    void folderNamesSortLikeSteps() {
        assertEquals("step-000100", CheckpointStore.folderName(100));
        assertEquals("step-1234567", CheckpointStore.folderName(1_234_567));
        assertThrows(IllegalArgumentException.class, () -> new CheckpointStore(root, 0));
    }
}
