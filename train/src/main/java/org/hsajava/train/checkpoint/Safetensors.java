package org.hsajava.train.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The safetensors format (as written by Hugging Face's library and read by
 * {@code safetensors.torch.load_file}): an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets
 * relative to the data section) plus an optional {@code "__metadata__"} string map, the header
 * padded with spaces to a multiple of 8, then the tensors' bytes back to back, row-major,
 * little-endian. Reading validates every structural promise before any tensor is returned.
 */
public final class Safetensors {
    public static final String METADATA_KEY = "__metadata__";
    /** Headers beyond this are refused (the reference implementation's limit), so a corrupt length cannot allocate gigabytes. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private Safetensors() {}

    /** The whole file as bytes; tensors are laid out in the order given. */
    public static byte[] encode(List<SafeTensor> tensors, Map<String, String> metadata) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            write(out, tensors, metadata);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    /** Streams the file (no size limit beyond each tensor's own array); returns the bytes written. */
    public static long write(OutputStream out, List<SafeTensor> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = header(tensors, metadata);
        byte[] length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array();
        out.write(length);
        out.write(header);
        long total = 8L + header.length;
        for (SafeTensor t : tensors) {
            out.write(t.rawData());
            total += t.rawData().length;
        }
        out.flush();
        return total;
    }

    public static void write(Path file, List<SafeTensor> tensors, Map<String, String> metadata) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            write(out, tensors, metadata);
        }
    }

    /** The JSON header padded with spaces to a multiple of 8 bytes, so the data section starts aligned. */
    static byte[] header(List<SafeTensor> tensors, Map<String, String> metadata) {
        ObjectNode header = JsonNodeFactory.instance.objectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject(METADATA_KEY);
            new java.util.TreeMap<>(metadata).forEach(m::put);   // sorted: the same bytes in every run (Map.of's order is per JVM)
        }
        long offset = 0;
        Set<String> names = new HashSet<>();
        for (SafeTensor t : tensors) {
            if (!names.add(t.name())) throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype().name());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            long end = offset + t.rawData().length;
            e.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    /** Reads and validates a file; tensors are read one by one, so the file may exceed 2 GiB. */
    public static SafetensorsContent read(Path file) throws IOException {
        String source = file.getFileName().toString();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsFormatException(source, "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            long n = readFully(ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            checkHeaderLength(source, n, size);
            Header h = parseHeader(source, readFully(ch, 8, (int) n).array(), size - 8 - n);
            Map<String, SafeTensor> tensors = new LinkedHashMap<>();
            for (Entry e : h.entries) {
                byte[] data = readFully(ch, 8 + n + e.begin, Math.toIntExact(e.end - e.begin)).array();
                tensors.put(e.name, new SafeTensor(e.name, e.dtype, e.shape, data));
            }
            return new SafetensorsContent(source, h.metadata, tensors);
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) throw new IOException("unexpected end of file at " + (position + b.position()));
        }
        return b.flip();
    }

    /** Parses and validates a whole file held in memory; {@code source} names it in errors. */
    public static SafetensorsContent decode(byte[] bytes, String source) throws SafetensorsFormatException {
        if (bytes.length < 8) {
            throw new SafetensorsFormatException(source, "file is " + bytes.length + " bytes, shorter than the 8-byte header length");
        }
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        checkHeaderLength(source, n, bytes.length);
        int headerEnd = 8 + (int) n;
        Header h = parseHeader(source, Arrays.copyOfRange(bytes, 8, headerEnd), bytes.length - (long) headerEnd);
        Map<String, SafeTensor> tensors = new LinkedHashMap<>();
        for (Entry e : h.entries) {
            byte[] data = Arrays.copyOfRange(bytes, headerEnd + (int) e.begin, headerEnd + (int) e.end);
            tensors.put(e.name, new SafeTensor(e.name, e.dtype, e.shape, data));
        }
        return new SafetensorsContent(source, h.metadata, tensors);
    }

    private static void checkHeaderLength(String source, long n, long fileSize) throws SafetensorsFormatException {
        if (n < 2 || n > MAX_HEADER_BYTES || n > fileSize - 8) {
            throw new SafetensorsFormatException(source, "header length " + n + " is outside the file (" + fileSize
                    + " bytes) or the " + MAX_HEADER_BYTES + "-byte limit");
        }
    }

    private record Header(Map<String, String> metadata, List<Entry> entries) {}

    /** Validates the header against a data section of {@code dataLength} bytes: every byte claimed exactly once. */
    private static Header parseHeader(String source, byte[] headerBytes, long dataLength) throws SafetensorsFormatException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsFormatException(source, "header is not valid UTF-8");
        }
        if (!text.startsWith("{")) throw new SafetensorsFormatException(source, "header does not start with '{'");
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new SafetensorsFormatException(source, "header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw new SafetensorsFormatException(source, "header is not a JSON object");

        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                readMetadata(source, e.getValue(), metadata);
            } else {
                entries.add(readEntry(source, e.getKey(), e.getValue()));
            }
        }

        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        for (Entry e : byOffset) {
            if (e.begin < expected) {
                throw new SafetensorsFormatException(source, "tensor '" + e.name + "': data_offsets [" + e.begin + ", " + e.end
                        + "] overlap the previous tensor, which ends at " + expected);
            }
            if (e.begin > expected) {
                throw new SafetensorsFormatException(source, "tensor '" + e.name + "': data_offsets start at " + e.begin
                        + " but the previous tensor ends at " + expected + " (a gap of unclaimed bytes)");
            }
            if (e.end > dataLength) {
                throw new SafetensorsFormatException(source, "tensor '" + e.name + "': data_offsets [" + e.begin + ", " + e.end
                        + "] run past the end of the data section (" + dataLength + " bytes; the file may be truncated)");
            }
            if (e.end - e.begin > Integer.MAX_VALUE - 16) {
                throw new SafetensorsFormatException(source, "tensor '" + e.name + "' is larger than 2 GiB, which this reader does not support");
            }
            expected = e.end;
        }
        if (expected != dataLength) {
            throw new SafetensorsFormatException(source, "data section is " + dataLength + " bytes but the tensors cover "
                    + expected + " (trailing bytes)");
        }
        return new Header(metadata, entries);
    }

    private record Entry(String name, SafeDType dtype, long[] shape, long begin, long end) {}

    private static void readMetadata(String source, JsonNode m, Map<String, String> out) throws SafetensorsFormatException {
        if (!m.isObject()) throw new SafetensorsFormatException(source, METADATA_KEY + " must be an object of strings");
        for (Map.Entry<String, JsonNode> e : m.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsFormatException(source, METADATA_KEY + "." + e.getKey() + " must be a string, got " + e.getValue());
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static Entry readEntry(String source, String name, JsonNode v) throws SafetensorsFormatException {
        String where = "tensor '" + name + "'";
        if (!v.isObject()) throw new SafetensorsFormatException(source, where + ": entry must be an object");
        for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets")) {
                throw new SafetensorsFormatException(source, where + ": unknown key '" + k + "'");
            }
        }
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) throw new SafetensorsFormatException(source, where + ": dtype missing or not a string");
        SafeDType dtype = SafeDType.ofHeader(dt.textValue());
        if (dtype == null) {
            throw new SafetensorsFormatException(source, where + ": unsupported dtype '" + dt.textValue() + "' (supported: "
                    + Arrays.toString(SafeDType.values()) + ")");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) throw new SafetensorsFormatException(source, where + ": shape missing or not an array");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new SafetensorsFormatException(source, where + ": shape[" + i + "] must be a non-negative integer, got " + d);
            }
            shape[i] = d.longValue();
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new SafetensorsFormatException(source, where + ": data_offsets must be [begin, end] integers, got " + off);
        }
        long begin = off.get(0).longValue(), end = off.get(1).longValue();
        if (begin < 0 || end < begin) {
            throw new SafetensorsFormatException(source, where + ": data_offsets [" + begin + ", " + end + "] are not 0 <= begin <= end");
        }
        long bytesNeeded;
        try {
            bytesNeeded = Math.multiplyExact(SafeTensor.elementCount(name, shape), dtype.bytes());
        } catch (ArithmeticException e) {
            throw new SafetensorsFormatException(source, where + ": shape " + Arrays.toString(shape) + " overflows");
        }
        if (end - begin != bytesNeeded) {
            throw new SafetensorsFormatException(source, where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + bytesNeeded);
        }
        return new Entry(name, dtype, shape, begin, end);
    }
}
