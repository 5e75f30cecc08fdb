package org.hsajava.model.stream;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The streaming pass gives the full forward pass's logits (the same weights, the same tokens) at
 * every position, with sequences of one block and of many, lengths that are not multiples of the
 * block or the chunk, and the first chunk only just complete; and its device memory, apart from
 * the chunk memory, does not depend on the length.
 */
class StreamingPassTest {

    static Stream<Arguments> cases() {
        // config, length, block
        return Stream.of(
                Arguments.of("tiny-cpu", 17, 16),     // just above one chunk: one token retrieves
                Arguments.of("tiny-cpu", 100, 512),   // one block, shorter than the window
                Arguments.of("tiny-cpu", 333, 32),    // many blocks (context 256 > block), L not a multiple of anything
                Arguments.of("tiny-cpu", 700, 144),   // windows that start past 0
                Arguments.of("variant", 250, 48),     // two groups, softmax, norms, no encoder, biases, W = 21
                Arguments.of("swa-only", 90, 7));     // no memory: block of any size
    }

    static ModelConfig config(String name) {
        return switch (name) {
            case "tiny-cpu" -> StreamFixture.tinyCpu();
            case "variant" -> StreamFixture.variant();
            case "swa-only" -> StreamFixture.swaOnly();
            default -> throw new AssertionError(name);
        };
    }

    @ParameterizedTest
    @MethodSource("cases")
    void everyPositionMatchesTheFullForwardPass(String name, int length, int block) {
        ModelConfig c = config(name);
        ModelParameters p = StreamFixture.params(c, 3);
        int[] tokens = StreamFixture.tokens(c, length, length);
        int[] rows = IntStream.range(0, length).toArray();
        for (Device dev : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            float[] full = StreamFixture.fullLogits(c, p, dev, tokens);
            float[] streamed;
            try (StreamingPass pass = new StreamingPass(c, p, dev, length, block)) {
                streamed = StreamFixture.concat(pass.logits(tokens, rows));
            }
            assertClose(name + " L=" + length + " block=" + block + " on " + dev, full, streamed, 2e-5);
        }
    }

    @Test
    void scoredRowsInAnyOrderComeBackInThatOrder() {
        ModelConfig c = StreamFixture.tinyCpu();
        ModelParameters p = StreamFixture.params(c, 5);
        int length = 300, vocab = c.vocabSize();
        int[] tokens = StreamFixture.tokens(c, length, 9);
        int[] rows = {299, 3, 150, 151, 3, 64};   // unsorted, one repeated, spread over blocks
        Device dev = TestDevices.java();
        float[] full = StreamFixture.fullLogits(c, p, dev, tokens);
        try (StreamingPass pass = new StreamingPass(c, p, dev, 4096, 64)) {
            float[][] got = pass.logits(tokens, rows);
            for (int i = 0; i < rows.length; i++) assertClose("row " + rows[i], StreamFixture.row(full, vocab, rows[i]), got[i], 2e-5);
            // a second, shorter sequence through the same pass: the memory is rebuilt, not reused
            int[] other = StreamFixture.tokens(c, 120, 10);
            float[] full2 = StreamFixture.fullLogits(c, p, dev, other);
            assertClose("second sequence", StreamFixture.row(full2, vocab, 119), pass.logits(other, new int[] {119})[0], 2e-5);
        }
    }

    /**
     * Device bytes of the pass minus its chunk memory are the same at every capacity: activations
     * are sized by the window, not the sequence, and the memory is exactly what grows.
     */
    @Test
    void deviceMemoryIsFlatInTheLengthApartFromTheChunkMemory() {
        ModelConfig c = StreamFixture.tinyCpu();
        ModelParameters p = StreamFixture.params(c, 1);
        Device dev = TestDevices.opencl();
        long[] rest = new long[2], memory = new long[2];
        int[] lengths = {1024, 16384};
        for (int i = 0; i < 2; i++) {
            int[] tokens = StreamFixture.tokens(c, lengths[i], i);
            try (StreamingPass pass = new StreamingPass(c, p, dev, lengths[i], 256)) {
                pass.logits(tokens, new int[] {lengths[i] - 1});
                memory[i] = pass.memoryBytes();
                assertEquals(pass.plannedBytes(), pass.peakDeviceBytes(), "planned vs allocated device bytes");
                rest[i] = pass.peakDeviceBytes() - memory[i];
            }
        }
        // K and V of S·Hk·hd floats per token, a landmark of R floats per chunk: 16x the tokens, 16x the memory
        long perToken = 2L * c.hsa().numKvHeads() * c.headDim() * 4 + (long) c.hsa().retrievalDim() * 4 / c.hsa().chunkSize();
        assertEquals(perToken * lengths[0], memory[0]);
        assertEquals(perToken * lengths[1], memory[1]);
        assertEquals(rest[0], rest[1], "device bytes besides the chunk memory at " + lengths[0] + " vs " + lengths[1] + " tokens");
        assertTrue(rest[0] > 0);
    }

    /** Every shipped config builds a streaming pass and a decoder (the kernels support its shapes); nothing runs. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-cpu", "tiny-swa", "small-gpu"})
    void everyLocalShippedConfigBuilds(String name) throws Exception {
        ModelConfig c = ConfigFile.read(Path.of("..", "configs", name + ".json")).model();
        ModelParameters p = ModelParameters.of(ParameterLayout.of(c));
        try (StreamingPass pass = new StreamingPass(c, p, TestDevices.java(), 1 << 20, StreamingPass.defaultBlock(c));
             IncrementalDecoder dec = new IncrementalDecoder(c, p, TestDevices.java(), 4096)) {
            assertTrue(pass.plannedBytes() > pass.memoryBytes());
            assertEquals(0, dec.position());
        }
    }

    @Test
    void badRequestsAreNamed() {
        ModelConfig c = StreamFixture.tinyCpu();
        ModelParameters p = StreamFixture.params(c, 1);
        try (StreamingPass pass = new StreamingPass(c, p, TestDevices.java(), 100, 32)) {
            assertEquals(128, pass.capacityTokens());
            var e = assertThrows(IllegalArgumentException.class, () -> pass.logits(new int[200], new int[] {150}));
            assertTrue(e.getMessage().contains("capacity"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pass.logits(new int[20], new int[] {20}));
            assertTrue(e.getMessage().contains("rows[0]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pass.logits(new int[] {1, 2, 999}, new int[] {2}));
            assertTrue(e.getMessage().contains("position 2"), e.getMessage());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> new StreamingPass(c, p, TestDevices.java(), 100, 24));
        assertTrue(e.getMessage().contains("multiple of chunk_size"), e.getMessage());
        ModelConfig full = ModelConfig.parse("""
                {"attention_kind": "full_causal", "vocab_size": 40, "hidden_size": 32, "intermediate_size": 48,
                 "num_attention_heads": 2, "num_key_value_heads": 1, "num_lower_layers": 1, "sliding_window": 9}
                """);
        e = assertThrows(IllegalArgumentException.class, () -> new StreamingPass(full, StreamFixture.params(full, 1), TestDevices.java(), 100, 8));
        assertTrue(e.getMessage().contains("full_causal"), e.getMessage());
    }
}
