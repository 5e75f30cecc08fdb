package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.RefOps;
import org.hsajava.model.reference.SwaReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SwaDecoderLayerTest {

    record Case(String what, AttentionKind kind, int batch, int length, int heads, int kvHeads, int window, boolean bias, int index) {
        @Override
        public String toString() { return what; }
    }

    static List<Case> cases() {
        return List.of(
                new Case("swa B2 L13 W5 GQA 4/2", AttentionKind.SWA_ONLY, 2, 13, 4, 2, 5, false, 1),
                new Case("swa B1 L7 W3 biases GQA 4/1", AttentionKind.SWA_ONLY, 1, 7, 4, 1, 3, true, 0),
                new Case("swa B1 L70 W9 (crosses 64-row tiles)", AttentionKind.SWA_ONLY, 1, 70, 2, 2, 9, false, 0),
                new Case("swa B2 L6 W20 (window beyond the sequence)", AttentionKind.SWA_ONLY, 2, 6, 4, 2, 20, false, 1),
                new Case("full_causal B2 L11 MHA 2/2", AttentionKind.FULL_CAUSAL, 2, 11, 2, 2, 3, true, 1));
    }

    static List<Arguments> devicesAndCases() {
        List<Arguments> out = new ArrayList<>();
        LayerTests.devices().forEach(d -> cases().forEach(c -> out.add(Arguments.of(d, c))));
        return out;
    }

    @ParameterizedTest(name = "{1} on {0}")
    @MethodSource("devicesAndCases")
    void forwardAndBackwardMatchTheDoubleReference(Device device, Case k) {
        int d = 32, inter = 48;
        ModelConfig c = LayerTests.swaConfig(k.kind(), 37, d, inter, k.heads(), k.kvHeads(), 2, k.window(), true, k.bias());
        ModelParameters p = LayerTests.randomParams(c, 11);
        float[] prefill = LayerTests.prefillGrads(p, 12);
        int rows = k.batch() * k.length();
        Rand r = new Rand(13);
        float[] h = r.normal(rows * d, 1), dOut = r.normal(rows * d, 1), dhPrefill = r.normal(rows * d, 0.1);
        Tensor th = Tensor.of("h", h), tout = Tensor.f32("out", rows * d), tdh = Tensor.of("dh", dhPrefill.clone()), tdOut = Tensor.of("dOut", dOut);

        LayerContext ctx = new LayerContext(c, p, device, k.batch(), k.length());
        SwaDecoderLayer layer = new SwaDecoderLayer(ctx, k.index(), th, tout, tdh, tdOut);
        TaskGraph g = new TaskGraph("swa").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), p.allGrads(), th, tdh, tdOut);
        layer.forward(g);
        layer.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tout, tdh, p.allGrads());
        LayerTests.run(device, g);

        SwaReference ref = new SwaReference(p, k.batch(), k.length());
        double[] hd = RefOps.toDouble(h), dOutD = RefOps.toDouble(dOut);
        assertClose("out", ref.decoderLayer(hd, k.index()), tout.toF32Array(), 1e-4);
        GradCheck.check("dh", v -> RefOps.dot(ref.decoderLayer(v, k.index()), dOutD), hd, LayerTests.minus(tdh.toF32Array(), dhPrefill), 60, 1e-3, 1);
        LayerTests.checkParameterGradients(p, ref, "backbone.layers." + k.index() + ".", prefill,
                () -> RefOps.dot(ref.decoderLayer(hd, k.index()), dOutD), 40, 1e-3);
        // the other layer's gradients are untouched
        String other = "backbone.layers." + (1 - k.index()) + ".mlp.up_proj.weight";
        float[] untouched = LayerTests.added(p, other, prefill);
        for (float v : untouched) assertTrue(v == 0, other + " changed");
    }

    /**
     * Mixed precision on Hopper (emulated here): with the context's bf16 copies (weights refreshed by
     * {@link ModelParameters#appendBf16Refresh}, norm and SwiGLU outputs written in bf16 by their
     * kernels) and the MLP's fp32 activations kept ({@code -Dhsa.mlp.bf16=off}), the layer computes bit
     * for bit what it computes when every GEMM casts its own operands, also after the weights change
     * between two executions of the plan (a stale copy would show), and its forward GEMMs cast nothing.
     */
    @ParameterizedTest
    @MethodSource("org.hsajava.model.layers.LayerTests#devices")
    void bf16CopiesComputeWhatPerGemmCastsCompute(Device device) {
        assertSameExecutions(device, runTwiceOnTheBf16Path(device, false, false), runTwiceOnTheBf16Path(device, true, false), 0);
    }

    /** The 6 arrays of two {@link #runTwiceOnTheBf16Path} runs: bit for bit (tol 0), else within tol of the largest value. */
    private static void assertSameExecutions(Device device, float[][] want, float[][] got, double tol) {
        String[] what = {"out", "dh", "parameter gradients"};
        for (int i = 0; i < want.length; i++) {
            String at = what[i % 3] + " of execution " + (1 + i / 3) + " on " + device;
            if (tol == 0) org.junit.jupiter.api.Assertions.assertArrayEquals(want[i], got[i], at);
            else assertClose(at, want[i], got[i], tol);
        }
    }

    /**
     * With bf16 copies the MLP keeps its activations in bf16 only (the default), and with bf16 attention
     * ({@code -Dhsa.swa.bf16=on} here: emulated) so do q, k, v, v_proj writing v16 itself: the results
     * change by bf16's accuracy (2e-2 of the largest value) from the fp32 activations', in both
     * executions (the weights change in between).
     */
    @ParameterizedTest
    @MethodSource("org.hsajava.model.layers.LayerTests#devices")
    void bf16OnlyActivationsTrackTheFp32Ones(Device device) {
        float[][] fp32 = runTwiceOnTheBf16Path(device, true, false), bf16 = runTwiceOnTheBf16Path(device, true, true);
        assertSameExecutions(device, fp32, bf16, 2e-2);
        assertTrue(!java.util.Arrays.equals(fp32[0], bf16[0]), "the bf16 activations gave the fp32 bits");
    }

    /**
     * bf16 attention ({@code -Dhsa.swa.bf16=on}; emulated without tensor cores, with the bf16 copies of
     * emulated wgmma that it needs) computes what the layer computes with the TF32/fp32 attention to
     * bf16's accuracy (q, k, v, o, dO and the probabilities rounded: 2e-2 of the largest value), on a
     * length that crosses the kernels' 16-row tiles, and runs the four bf16 kernels.
     */
    @ParameterizedTest
    @MethodSource("org.hsajava.model.layers.LayerTests#devices")
    void bf16AttentionTracksTheFp32Layer(Device device) {
        float[][] fp32 = runWithAttentionIn(device, false), bf16 = runWithAttentionIn(device, true);
        String[] what = {"out", "dh", "parameter gradients"};
        for (int i = 0; i < 3; i++) {
            assertClose(what[i] + " on " + device, fp32[i], bf16[i], 2e-2);
            assertTrue(!java.util.Arrays.equals(fp32[i], bf16[i]), what[i] + ": the bf16 path gave the fp32 bits");
        }
    }

    /**
     * SwiGLU in the up projection's epilogue ({@code -Dhsa.mlp.swiglu.epilogue=on}) computes bit for bit
     * what the separate kernel computes, in the whole layer with bf16 activations, and launches no SwiGLU.
     */
    @ParameterizedTest
    @MethodSource("org.hsajava.model.layers.LayerTests#devices")
    void swigluEpilogueComputesWhatTheSeparateKernelComputes(Device device) {
        float[][][] out = new float[2][][];
        for (int e = 0; e < 2; e++) {
            LayerRun run = runOnTheBf16Path(device, 2, 16, 1, 64, 41, java.util.Map.of(SwiGluMlp.EPILOGUE_PROPERTY, e == 1 ? "on" : "off"),
                    l -> l.name().equals("layers.0.mlp.swiglu"));
            assertEquals(e == 1 ? 0 : 1, run.launches(), "SwiGLU launches with the epilogue " + (e == 1 ? "on" : "off"));
            out[e] = run.results();
        }
        for (int i = 0; i < 3; i++) org.junit.jupiter.api.Assertions.assertArrayEquals(out[0][i], out[1][i], "output " + i + " on " + device);
    }

    /**
     * Layer 0's forward and backward (after the refresh of the bf16 weight copies) with bf16 GEMMs on
     * emulated wgmma and {@code properties} set while the layer and the graph are built (the paths are
     * chosen then), the previous values restored after.
     */
    private static TaskGraph graphOnTheBf16Path(LayerContext ctx, Tensor th, Tensor tout, Tensor tdh, Tensor tdOut, java.util.Map<String, String> properties) {
        ModelParameters p = ctx.params();
        java.util.Map<String, String> before = new java.util.HashMap<>();
        properties.forEach((k, v) -> before.put(k, System.setProperty(k, v)));
        try {
            return org.hsajava.compute.testing.EmulatedWgmma.with(() -> {
                SwaDecoderLayer layer = new SwaDecoderLayer(ctx, 0, th, tout, tdh, tdOut);
                TaskGraph graph = new TaskGraph("swa").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), p.allGrads(), th, tdh, tdOut);
                p.appendBf16Refresh(graph);
                layer.forward(graph);
                layer.backward(graph);
                return graph.transferToHost(DataTransferMode.EVERY_EXECUTION, tout, tdh, p.allGrads());
            });
        } finally {
            before.forEach((k, v) -> {
                if (v == null) System.clearProperty(k);
                else System.setProperty(k, v);
            });
        }
    }

    /** out, dh and the parameter gradients of one forward + backward (2 sequences of 96, window 9, head dim 16). */
    private static float[][] runWithAttentionIn(Device device, boolean bf16) {
        LayerRun run = runOnTheBf16Path(device, 4, 9, 2, 96, 31, java.util.Map.of(SwaAttention.BF16_PROPERTY, bf16 ? "on" : "off"),
                l -> "1".equals(l.kernel().defines().get("SWA_BF16")));
        org.junit.jupiter.api.Assertions.assertEquals(bf16 ? 4 : 0, run.launches(), "bf16 attention kernels launched");
        return run.results();
    }

    /** One run of {@link #runOnTheBf16Path}: how many launches matched, and out, dh and the parameter gradients. */
    private record LayerRun(long launches, float[][] results) {}

    /**
     * Layer 0 of an SWA-only model (d 64, MLP 128, {@code heads} query and KV heads, every GEMM on the
     * emulated wgmma tiles) through {@link #graphOnTheBf16Path} with {@code properties}, on random
     * weights ({@code seed}) and inputs ({@code seed + 1}); counts the launches {@code counted} accepts.
     */
    private static LayerRun runOnTheBf16Path(Device device, int heads, int window, int batch, int length, long seed,
                                             java.util.Map<String, String> properties, java.util.function.Predicate<org.hsajava.compute.Task.Launch> counted) {
        int d = 64, inter = 128, rows = batch * length;
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, 37, d, inter, heads, heads, 1, window, true, false);
        ModelParameters p = LayerTests.randomParams(c, seed);
        Rand r = new Rand(seed + 1);
        Tensor th = Tensor.of("h", r.normal(rows * d, 1)), tout = Tensor.f32("out", rows * d), tdh = Tensor.f32("dh", rows * d);
        Tensor tdOut = Tensor.of("dOut", r.normal(rows * d, 1));
        TaskGraph g = graphOnTheBf16Path(new LayerContext(c, p, device, batch, length, null, true), th, tout, tdh, tdOut, properties);
        long launches = g.snapshot().tasks().stream().filter(t -> t instanceof org.hsajava.compute.Task.Launch l && counted.test(l)).count();
        LayerTests.run(device, g);
        return new LayerRun(launches, new float[][] {tout.toF32Array(), tdh.toF32Array(), p.allGrads().toF32Array()});
    }

    /**
     * out, dh and the gradients of two executions, the parameters scaled by 0.9 in between (6 arrays);
     * {@code bf16Only}: the MLP's and the attention's activations in bf16 only ({@code -Dhsa.mlp.bf16=auto},
     * {@code -Dhsa.swa.bf16=on}; else both off).
     */
    private static float[][] runTwiceOnTheBf16Path(Device device, boolean bf16Copies, boolean bf16Only) {
        int d = 64, inter = 128, batch = 1, length = 64, rows = batch * length;  // every GEMM fits the emulated wgmma tiles
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, 37, d, inter, 2, 2, 1, 16, true, false);
        ModelParameters p = LayerTests.randomParams(c, 21);
        float[] prefill = LayerTests.prefillGrads(p, 22);
        Rand r = new Rand(23);
        float[] h = r.normal(rows * d, 1), dOut = r.normal(rows * d, 1);
        Tensor th = Tensor.of("h", h), tout = Tensor.f32("out", rows * d), tdh = Tensor.f32("dh", rows * d), tdOut = Tensor.of("dOut", dOut);
        TaskGraph g = graphOnTheBf16Path(new LayerContext(c, p, device, batch, length, null, bf16Copies), th, tout, tdh, tdOut,
                java.util.Map.of(SwiGluMlp.BF16_PROPERTY, bf16Only ? "auto" : "off", SwaAttention.BF16_PROPERTY, bf16Only ? "on" : "off"));
        var tasks = g.snapshot().tasks().stream().map(t -> t instanceof org.hsajava.compute.Task.Launch l ? l.name() + " " + l.kernel().entryPoint() : "").toList();
        assertTrue(tasks.stream().filter(t -> t.endsWith("gemm_bf16_wgmma")).count() >= 11, "the layer's GEMMs run on wgmma: " + tasks);
        // Only the attention output (o_proj's input) is still cast in the forward; no weight is cast per GEMM.
        if (bf16Copies) assertTrue(tasks.stream().noneMatch(t -> t.matches(".*_proj\\.fwd\\.a16 .*") && !t.contains("o_proj") || t.contains(".b16 ")),
                "the norms' and SwiGLU's consumers and the weights are not cast per GEMM: " + tasks);
        // dy·W of o_proj and down_proj leaves its bf16 copy of dy for the weight gradient right after it
        assertTrue(tasks.stream().noneMatch(t -> t.contains(".dw.dy16 ")), "no gradient is copied twice: " + tasks);
        // bf16 MLP activations: SwiGLU reads and writes bf16 only; bf16 attention: v_proj writes v16, nothing casts v
        if (bf16Copies) assertTrue(tasks.contains("layers.0.mlp.swiglu " + (bf16Only ? "swiglu_forward_16" : "swiglu_forward_bf16")), "the MLP's SwiGLU: " + tasks);
        if (bf16Only) assertTrue(tasks.stream().noneMatch(t -> t.contains(".v16 ")) && tasks.stream().anyMatch(t -> t.contains(".q_rope rope_contiguous")),
                "v is not cast: " + tasks);
        float[][] out = new float[6][];
        try (org.hsajava.compute.ExecutionPlan plan = new org.hsajava.compute.ExecutionPlan(g.snapshot()).withDevice(device)) {
            for (int run = 0; run < 2; run++) {
                if (run == 1) {
                    float[] w = p.all().f32();
                    for (int i = 0; i < w.length; i++) w[i] *= 0.9f;
                }
                System.arraycopy(prefill, 0, p.allGrads().f32(), 0, prefill.length);
                java.util.Arrays.fill(tdh.f32(), 0f);
                plan.execute();
                out[3 * run] = tout.toF32Array();
                out[3 * run + 1] = tdh.toF32Array();
                out[3 * run + 2] = p.allGrads().toF32Array();
            }
        }
        return out;
    }

    @Test
    void rejectsWrongSizesAndMissingLayersByName() {
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, 37, 32, 48, 4, 2, 2, 5, true, false);
        ModelParameters p = ModelParameters.of(org.hsajava.model.config.ParameterLayout.of(c));
        LayerContext ctx = new LayerContext(c, p, org.hsajava.compute.testing.TestDevices.java(), 2, 13);
        Tensor ok = Tensor.f32("h", 26 * 32), ok2 = Tensor.f32("o", 26 * 32), ok3 = Tensor.f32("dh", 26 * 32), ok4 = Tensor.f32("dout", 26 * 32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SwaDecoderLayer(ctx, 0, Tensor.f32("h", 25 * 32), ok2, ok3, ok4));
        assertTrue(e.getMessage().contains("'h'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SwaDecoderLayer(ctx, 2, ok, ok2, ok3, ok4));
        assertTrue(e.getMessage().contains("backbone.layers.2."), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SwaDecoderLayer(ctx, 0, ok, ok, ok3, ok4));
        assertTrue(e.getMessage().contains("other than the input"), e.getMessage());
    }
}
