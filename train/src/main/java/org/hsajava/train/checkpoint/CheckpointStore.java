package org.hsajava.train.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training run's checkpoint folder: {@code step-000100/}, {@code step-000200/}, ... (each a
 * {@link Checkpoint}) and a {@code latest} file naming the newest complete one. A save writes the
 * new folder atomically, then replaces {@code latest} atomically, then deletes all but the newest
 * {@code keep} step folders. A crash at any point leaves {@code latest} naming a complete checkpoint.
 */
public final class CheckpointStore {
    public static final String LATEST_FILE = "latest";
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{6,19})");

    private final Path root;
    private final int keep;
    private final Checkpoint.SaveProbe probe;

    public CheckpointStore(Path root, int keep) {
        this(root, keep, Checkpoint.SaveProbe.NONE);
    }

    CheckpointStore(Path root, int keep, Checkpoint.SaveProbe probe) {
        if (keep < 1) throw new IllegalArgumentException("keep must be >= 1, got " + keep);
        this.root = root;
        this.keep = keep;
        this.probe = probe;
    }

    public Path root() { return root; }

    /** {@code step-000100}: zero-padded so names sort like steps up to a million; longer steps just get more digits. */
    public static String folderName(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        return String.format("step-%06d", step);
    }

    /** Saves the state as {@code step-N/}, points {@code latest} at it, and prunes old checkpoints. */
    public Path save(CheckpointState state) throws IOException {
        Files.createDirectories(root);
        removeLeftovers();
        Path dir = root.resolve(folderName(state.step()));
        Checkpoint.write(dir, state, probe);
        DurableFiles.replace(root.resolve(LATEST_FILE), (dir.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
        probe.reached(LATEST_FILE);
        prune(dir.getFileName().toString());
        return dir;
    }

    /** The folder {@code latest} names, or empty when no checkpoint was ever completed here. */
    public Optional<Path> latest() throws IOException {
        Path pointer = root.resolve(LATEST_FILE);
        String name;
        try {
            name = Files.readString(pointer, StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (!STEP_DIR.matcher(name).matches()) {
            throw new CorruptCheckpointException(pointer, "does not name a step folder: \"" + name + "\"");
        }
        Path dir = root.resolve(name);
        if (!Files.isDirectory(dir)) throw new CorruptCheckpointException(pointer, "names " + name + ", which does not exist");
        return Optional.of(dir);
    }

    /** Loads and verifies the latest checkpoint, or empty when there is none. */
    public Optional<CheckpointState> loadLatest() throws IOException {
        Optional<Path> dir = latest();
        return dir.isEmpty() ? Optional.empty() : Optional.of(Checkpoint.read(dir.get()));
    }

    public CheckpointState load(long step) throws IOException {
        return Checkpoint.read(root.resolve(folderName(step)));
    }

    /** Steps of the step folders present, ascending (folders being written are not listed). */
    public List<Long> steps() throws IOException {
        List<Long> out = new ArrayList<>();
        if (!Files.isDirectory(root)) return out;
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : s.toList()) {
                Matcher m = STEP_DIR.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p)) out.add(Long.parseLong(m.group(1)));
            }
        }
        out.sort(null);
        return out;
    }

    private void prune(String current) throws IOException {
        List<Long> steps = steps();
        for (int i = 0; i < steps.size() - keep; i++) {
            String name = folderName(steps.get(i));
            if (!name.equals(current)) DurableFiles.deleteRecursively(root.resolve(name));
        }
    }

    /** Folders a crashed save left behind; only one trainer writes to a root, so none of them is in use. */
    private void removeLeftovers() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) && (n.startsWith(Checkpoint.TEMP_PREFIX) || n.startsWith(Checkpoint.OLD_PREFIX))) {
                    DurableFiles.deleteRecursively(p);
                }
            }
        }
    }
}
