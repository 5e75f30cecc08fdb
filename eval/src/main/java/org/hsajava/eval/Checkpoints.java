package org.hsajava.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hsajava.train.checkpoint.Checkpoint;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.loop.Trainer;

/** Finds the checkpoint a user means: a checkpoint folder, a run folder, or a checkpoint store. */
public final class Checkpoints {
    private Checkpoints() {}

    /** Loads (and verifies) the checkpoint at {@code dir}, or the latest one of the run or store at {@code dir}. */
    public static CheckpointState load(Path dir) throws IOException {
        if (Files.exists(dir.resolve(Checkpoint.MANIFEST_FILE))) return Checkpoint.read(dir);
        Path store = Files.isDirectory(dir.resolve(Trainer.CHECKPOINTS)) ? dir.resolve(Trainer.CHECKPOINTS) : dir;
        if (!Files.isDirectory(store)) throw new IllegalArgumentException("no checkpoint at " + dir + " (not a folder)");
        return new CheckpointStore(store, Integer.MAX_VALUE).loadLatest()
                .orElseThrow(() -> new IllegalArgumentException("no complete checkpoint in " + store));
    }
}
