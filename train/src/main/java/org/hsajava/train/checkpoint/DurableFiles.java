package org.hsajava.train.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * File operations that survive a crash: data reaches the disk (fsync) before a rename makes it
 * visible, and renames are atomic, so a reader sees either the old or the new state, never half.
 */
final class DurableFiles {
    private DurableFiles() {}

    static void write(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
            ch.force(true);
        }
    }

    /** Flushes a directory's entries (new names, renames); a no-op where the platform cannot open directories. */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Windows cannot open a directory as a channel; rename durability is then up to the file system.
            if (!System.getProperty("os.name", "").toLowerCase().contains("win")) throw e;
        }
    }

    /** Atomic rename; refuses to fall back to copy+delete, which could leave a half-moved folder. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " atomically (different file systems?)", e);
        }
    }

    /** Writes {@code file} through a temporary sibling and an atomic replace. */
    static void replace(Path file, byte[] bytes) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp-" + Long.toHexString(System.nanoTime()));
        try {
            write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        syncDirectory(file.getParent());
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.delete(q);
                } catch (NoSuchFileException ignored) {
                    // already gone: deleting is all we wanted
                }
            }
        }
    }
}
