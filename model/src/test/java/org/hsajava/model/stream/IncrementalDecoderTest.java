package org.hsajava.model.stream;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Decoding one token at a time gives the full forward pass's logits at every position (the ring
 * buffers wrap, the memory grows chunk by chunk), and greedy decoding follows the argmax chain of
 * full forward passes over the growing sequence.
 */
class IncrementalDecoderTest {

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("tiny-cpu", 150),   // W + 1 = 65: the rings wrap twice; 9 chunks
                Arguments.of("variant", 70),     // W + 1 = 22, two groups, lmk/qk norms
                Arguments.of("swa-only", 30));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsAtEveryStepMatchTheFullForwardPass(String name, int length) {
        ModelConfig c = StreamingPassTest.config(name);
        ModelParameters p = StreamFixture.params(c, 21);
        int[] tokens = StreamFixture.tokens(c, length, 4);
        int vocab = c.vocabSize();
        for (Device dev : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            float[] full = StreamFixture.fullLogits(c, p, dev, tokens);
            float[][] stepped = new float[length][];
            try (IncrementalDecoder dec = new IncrementalDecoder(c, p, dev, length)) {
                for (int t = 0; t < length; t++) stepped[t] = dec.step(tokens[t]);
                assertEquals(length, dec.position());
            }
            for (int t = 0; t < length; t++) assertClose(name + " position " + t + " on " + dev, StreamFixture.row(full, vocab, t), stepped[t], 2e-5);
        }
    }

    @Test
    void greedyDecodingFollowsTheFullForwardArgmaxChain() {
        ModelConfig c = StreamFixture.tinyCpu();
        ModelParameters p = StreamFixture.params(c, 8);
        int prompt = 37, generate = 60, vocab = c.vocabSize();
        int[] seq = Arrays.copyOf(StreamFixture.tokens(c, prompt, 12), prompt + generate);
        Device dev = TestDevices.opencl();
        try (IncrementalDecoder dec = new IncrementalDecoder(c, p, dev, prompt + generate)) {
            float[] last = null;
            for (int t = 0; t < prompt; t++) last = dec.step(seq[t]);
            for (int i = 0; i < generate; i++) {
                seq[prompt + i] = argmax(last);
                if (i + 1 < generate) last = dec.step(seq[prompt + i]);
            }
        }
        // one full pass over prompt + generated: the argmax at each predicting row is the token chosen
        float[] full = StreamFixture.fullLogits(c, p, dev, Arrays.copyOf(seq, prompt + generate - 1));
        for (int i = 0; i < generate; i++) {
            assertEquals(argmax(StreamFixture.row(full, vocab, prompt - 1 + i)), seq[prompt + i], "generated token " + i);
        }
        assertTrue(Arrays.stream(seq, prompt, prompt + generate).distinct().count() > 1, "a degenerate chain tests little");
    }

    @Test
    void aFullDecoderSaysSo() {
        ModelConfig c = StreamFixture.tinyCpu();
        try (IncrementalDecoder dec = new IncrementalDecoder(c, StreamFixture.params(c, 1), TestDevices.java(), 10)) {
            assertEquals(16, dec.capacityTokens());
            for (int t = 0; t < 16; t++) dec.step(t);
            var e = assertThrows(IllegalStateException.class, () -> dec.step(1));
            assertTrue(e.getMessage().contains("16 tokens"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new IncrementalDecoder(c, StreamFixture.params(c, 1), TestDevices.java(), 0));
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }
}
