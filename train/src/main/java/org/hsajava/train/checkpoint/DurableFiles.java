package org.hsajava.train.checkpoint;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * File operations that survive a crash: data reaches the disk (fsync) before a rename makes it
 * visible, and renames are atomic, so a reader sees either the old or the new state, never half.
 */
final class DurableFiles {
    private DurableFiles() {}

    /** Size and SHA-256 (lower-case hex) of what was written or read. */
    record Summary(long bytes, String sha256) {}

    /** Writes whatever the body streams, fsyncs, and returns the size and hash of exactly those bytes. */
    interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    static Summary write(Path file, Body body) throws IOException {
        MessageDigest sha = sha256();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            OutputStream out = new BufferedOutputStream(new DigestOutputStream(Channels.newOutputStream(ch), sha), 1 << 20);
            body.writeTo(out);
            out.flush();
            ch.force(true);
            return new Summary(ch.size(), HexFormat.of().formatHex(sha.digest()));
        }
    }

    /** Streams a file through SHA-256 (files may exceed 2 GiB). */
    static Summary summarize(Path file) throws IOException {
        MessageDigest sha = sha256();
        long n = 0;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int r; (r = in.read(buf)) > 0; ) {
                sha.update(buf, 0, r);
                n += r;
            }
        }
        return new Summary(n, HexFormat.of().formatHex(sha.digest()));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

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
