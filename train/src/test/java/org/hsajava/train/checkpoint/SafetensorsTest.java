package org.hsajava.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsTest {

    /** Values every float dtype represents exactly, so round trips must be bit-exact. */
    static final float[] EXACT = {0f, 1f, -2f, 0.5f, 1024f, -0.375f};

    @ParameterizedTest
    @EnumSource(value = SafeDType.class, names = {"F32", "BF16", "F16"})
    void floatTypesRoundTrip(SafeDType dtype, @TempDir Path dir) throws Exception {
        SafeTensor t = SafeTensor.ofFloats("w", dtype, new long[] {2, 3}, EXACT);
        Path f = dir.resolve("x.safetensors");
        Safetensors.write(f, List.of(t), Map.of("format", "pt"));
        SafetensorsContent c = Safetensors.read(f);
        assertEquals(Map.of("format", "pt"), c.metadata());
        SafeTensor back = c.get("w");
        assertEquals(dtype, back.dtype());
        assertArrayEquals(new long[] {2, 3}, back.shape());
        assertArrayEquals(EXACT, back.toFloats());
    }

    @Test
    void metadataIsWrittenInSortedKeyOrderWhateverTheMapsOrder() {
        // Map.of iterates in an order that changes from one JVM run to the next; the file's bytes must not
        List<SafeTensor> t = List.of(SafeTensor.ofFloats("w", SafeDType.F32, new long[] {2}, new float[] {1, 2}));
        java.util.LinkedHashMap<String, String> zyx = new java.util.LinkedHashMap<>(), xyz = new java.util.LinkedHashMap<>();
        for (String k : List.of("z", "y", "x")) zyx.put(k, k + "1");
        for (String k : List.of("x", "y", "z")) xyz.put(k, k + "1");
        byte[] a = Safetensors.encode(t, zyx), b = Safetensors.encode(t, xyz);
        assertArrayEquals(a, b);
        String header = new String(a, 8, a.length - 8 - 8, StandardCharsets.UTF_8);
        assertTrue(header.indexOf("\"x\"") < header.indexOf("\"y\"") && header.indexOf("\"y\"") < header.indexOf("\"z\""), header);
    }

    @Test
    void integerTypesScalarsAndEmptyTensorsRoundTrip() throws Exception {
        int[] ints = {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE};
        long[] longs = {Long.MIN_VALUE, 42, Long.MAX_VALUE};
        byte[] bytes = Safetensors.encode(List.of(
                SafeTensor.ofInts("i", new long[] {2, 2}, ints),
                SafeTensor.ofLongs("l", new long[] {3}, longs),
                SafeTensor.ofLongs("scalar", new long[0], new long[] {7}),
                SafeTensor.ofFloats("empty", SafeDType.F32, new long[] {0, 5}, new float[0])), null);
        SafetensorsContent c = Safetensors.decode(bytes, "mem");
        assertArrayEquals(ints, c.get("i").toInts());
        assertArrayEquals(longs, c.get("l").toLongs());
        assertArrayEquals(new long[] {7}, c.get("scalar").toLongs());
        assertEquals(0, c.get("scalar").shape().length);
        assertEquals(0, c.get("empty").toFloats().length);
        assertEquals(List.of("i", "l", "scalar", "empty"), List.copyOf(c.tensors().keySet()));
        assertTrue(c.metadata().isEmpty());
    }

    @Test
    void bf16RoundsToNearestEven() {
        // Exactly halfway between two bf16 values: ties go to the even mantissa.
        assertEquals((short) 0x3F80, SafeTensor.toBf16(Float.intBitsToFloat(0x3F808000)));
        assertEquals((short) 0x3F82, SafeTensor.toBf16(Float.intBitsToFloat(0x3F818000)));
        // Above halfway rounds up, below rounds down.
        assertEquals((short) 0x3F81, SafeTensor.toBf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0x3F80, SafeTensor.toBf16(Float.intBitsToFloat(0x3F807FFF)));
        assertTrue(Float.isNaN(SafeTensor.fromBf16(SafeTensor.toBf16(Float.NaN))));
        assertEquals(Float.POSITIVE_INFINITY, SafeTensor.fromBf16(SafeTensor.toBf16(Float.POSITIVE_INFINITY)));
    }

    @Test
    void goldenBytesOfATinyFile() {
        byte[] bytes = Safetensors.encode(List.of(
                SafeTensor.ofFloats("a", SafeDType.F32, new long[] {2}, new float[] {1f, -2f}),
                SafeTensor.ofLongs("b", new long[0], new long[] {3})), Map.of("format", "pt"));
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}"
                + "      "; // 138 bytes of JSON padded with spaces to 144
        byte[] want = new byte[8 + 144 + 16];
        want[0] = (byte) 144; // little-endian u64 header length
        System.arraycopy(header.getBytes(StandardCharsets.US_ASCII), 0, want, 8, 144);
        int d = 8 + 144;
        // 1.0f = 0x3F800000, -2.0f = 0xC0000000, little-endian; then the int64 3
        byte[] data = {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0, 3, 0, 0, 0, 0, 0, 0, 0};
        System.arraycopy(data, 0, want, d, 16);
        assertArrayEquals(want, bytes, () -> "got header: " + new String(bytes, 8, bytes.length - 8 - 16, StandardCharsets.UTF_8));
    }

    /**
     * torch-written.safetensors was produced by {@code safetensors.torch.save_file} (safetensors
     * 0.8, torch 2.11) from: f32 = arange(6) - 2.5 as [2,3]; bf16 = [1.5, -3, 0.0078125, 65280];
     * f16 = [[0.5], [-65504], [2^-14]]; i32 = [7, -7, 2^31-1]; i64 = scalar -(2^53 + 1);
     * metadata {"format": "pt"}. The library orders tensors by alignment, not by name or insertion.
     */
    @Test
    void readsAFileWrittenByPyTorch() throws Exception {
        byte[] bytes;
        try (var in = SafetensorsTest.class.getResourceAsStream("/safetensors/torch-written.safetensors")) {
            bytes = in.readAllBytes();
        }
        SafetensorsContent c = Safetensors.decode(bytes, "torch-written.safetensors");
        assertEquals(Map.of("format", "pt"), c.metadata());
        assertEquals(List.of("i64", "f32", "i32", "bf16", "f16"), List.copyOf(c.tensors().keySet()));
        assertArrayEquals(new float[] {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f}, c.get("f32").toFloats());
        assertArrayEquals(new long[] {2, 3}, c.get("f32").shape());
        assertArrayEquals(new float[] {1.5f, -3f, 0.0078125f, 65280f}, c.get("bf16").toFloats());
        assertEquals(SafeDType.BF16, c.get("bf16").dtype());
        assertArrayEquals(new float[] {0.5f, -65504f, 6.103515625e-05f}, c.get("f16").toFloats());
        assertArrayEquals(new long[] {3, 1}, c.get("f16").shape());
        assertArrayEquals(new int[] {7, -7, Integer.MAX_VALUE}, c.get("i32").toInts());
        assertArrayEquals(new long[] {-9007199254740993L}, c.get("i64").toLongs());
        assertEquals(0, c.get("i64").shape().length);
        // Our writer, given the same tensors in the same order, produces the same bytes.
        assertArrayEquals(bytes, Safetensors.encode(List.copyOf(c.tensors().values()), c.metadata()));
    }

    /** A valid two-tensor file to break in the tests below. */
    static byte[] sample() {
        return Safetensors.encode(List.of(
                SafeTensor.ofFloats("a", SafeDType.F32, new long[] {2}, new float[] {1f, 2f}),
                SafeTensor.ofFloats("b", SafeDType.F32, new long[] {1}, new float[] {3f})), null);
    }

    /** A file with the given header JSON (padded) and data bytes. */
    static byte[] withHeader(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    /** Rejected both in memory and from a file (the two read paths must agree); returns the message. */
    static String rejected(byte[] bytes) {
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> Safetensors.decode(bytes, "w.safetensors"));
        assertTrue(e.getMessage().startsWith("w.safetensors: "), e.getMessage());
        try {
            Path dir = java.nio.file.Files.createTempDirectory("st");
            Path f = dir.resolve("w.safetensors");
            java.nio.file.Files.write(f, bytes);
            SafetensorsFormatException fromFile = assertThrows(SafetensorsFormatException.class, () -> Safetensors.read(f));
            assertEquals(e.getMessage(), fromFile.getMessage());
            java.nio.file.Files.delete(f);
            java.nio.file.Files.delete(dir);
        } catch (java.io.IOException io) {
            throw new java.io.UncheckedIOException(io);
        }
        return e.getMessage();
    }

    static void assertContains(String message, String part) {
        assertTrue(message.contains(part), "'" + part + "' missing in: " + message);
    }

    @Test
    void truncatedFilesAreRejected() {
        byte[] ok = sample();
        assertContains(rejected(Arrays.copyOf(ok, ok.length - 1)), "truncated");
        assertContains(rejected(Arrays.copyOf(ok, 5)), "shorter than the 8-byte header length");
        assertContains(rejected(Arrays.copyOf(ok, 20)), "header length");
        byte[] longer = Arrays.copyOf(ok, ok.length + 4);
        assertContains(rejected(longer), "trailing bytes");
    }

    @Test
    void headerLengthBeyondTheFileIsRejected() {
        byte[] b = sample();
        b[6] = 1; // header length now ~2^48
        assertContains(rejected(b), "header length");
    }

    @Test
    void offsetsMustBeConsistent() {
        String f32 = "\"dtype\":\"F32\",\"shape\":[2]";
        assertContains(rejected(withHeader("{\"a\":{" + f32 + ",\"data_offsets\":[0,8]},\"b\":{" + f32 + ",\"data_offsets\":[4,12]}}", 12)),
                "overlap");
        assertContains(rejected(withHeader("{\"a\":{" + f32 + ",\"data_offsets\":[0,8]},\"b\":{" + f32 + ",\"data_offsets\":[12,20]}}", 20)),
                "gap");
        assertContains(rejected(withHeader("{\"a\":{" + f32 + ",\"data_offsets\":[0,12]}}", 12)),
                "hold 12 bytes but shape [2] of F32 needs 8");
        assertContains(rejected(withHeader("{\"a\":{" + f32 + ",\"data_offsets\":[8,0]}}", 8)), "0 <= begin <= end");
        assertContains(rejected(withHeader("{\"a\":{" + f32 + ",\"data_offsets\":[0,8]}}", 4)), "past the end");
        assertContains(rejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8)), "shape[0]");
        assertContains(rejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8)), "data_offsets");
    }

    @Test
    void headerContentIsValidated() {
        assertContains(rejected(withHeader("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8)),
                "unsupported dtype 'F64'");
        assertContains(rejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4)),
                "unknown key 'x'");
        assertContains(rejected(withHeader("{\"__metadata__\":{\"step\":3}}", 0)), "__metadata__.step must be a string");
        assertContains(rejected(withHeader("{\"a\": [1, 2", 0)), "not valid JSON");
        assertContains(rejected(withHeader("[1]     ", 0)), "does not start with '{'");
        assertContains(rejected(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)), "not valid JSON");
        byte[] bad = withHeader("{\"\u00e9\":1}", 0);
        bad[10] = (byte) 0xFF; // invalid UTF-8 lead byte
        assertContains(rejected(bad), "UTF-8");
    }

    @Test
    void writerRefusesDuplicateNamesAndWrongSizes() {
        SafeTensor a = SafeTensor.ofFloats("a", SafeDType.F32, new long[] {1}, new float[] {1f});
        assertThrows(IllegalArgumentException.class, () -> Safetensors.encode(List.of(a, a), null));
        assertThrows(IllegalArgumentException.class, () -> new SafeTensor("x", SafeDType.F32, new long[] {3}, new byte[8]));
        assertThrows(IllegalArgumentException.class, () -> new SafeTensor("__metadata__", SafeDType.F32, new long[] {0}, new byte[0]));
    }
}
