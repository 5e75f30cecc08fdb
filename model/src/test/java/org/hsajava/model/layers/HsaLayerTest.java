package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.hsajava.model.layers.HsaFixture.HSA;
import static org.hsajava.model.layers.HsaFixture.HSA_PREFIX;
import static org.hsajava.model.layers.HsaFixture.RETRIEVAL;
import static org.hsajava.model.layers.HsaFixture.RETRIEVAL_PREFIX;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.HsaCsr;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.layers.HsaFixture.Case;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.HsaRef;
import org.hsajava.model.reference.RefOps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The HSA layer alone (random selection), and the pair retrieval → HSA layer (random chunk memory). */
class HsaLayerTest {
    private static final int SAMPLES = 40;

    static Stream<Arguments> alone() {
        return withDevices(List.of(
                new Case(1, 1, 64, false, 0, true, false, false),
                new Case(2, 2, 72, false, 1, false, true, false),
                new Case(2, 1, 72, false, 0, true, true, false),
                new Case(1, 2, 72, false, 1, true, false, false)));
    }

    static Stream<Arguments> pairs() {
        return withDevices(List.of(
                new Case(1, 2, 72, false, 0, true, false, false),
                new Case(2, 1, 64, true, 1, false, true, true),
                new Case(2, 2, 72, true, 0, true, false, true),
                new Case(1, 1, 72, false, 1, false, true, false)));
    }

    private static Stream<Arguments> withDevices(List<Case> cs) {
        List<Arguments> out = new ArrayList<>();
        for (String dev : new String[] {"java", "opencl"}) for (Case c : cs) out.add(Arguments.of(dev, c));
        return out.stream();
    }

    static Device device(String which) { return which.equals("java") ? TestDevices.java() : TestDevices.opencl(); }

    /** A valid random selection: distinct eligible chunks, most recent first, invalid slots index 0 / weight 0. */
    private static void randomSelection(HsaRef.Dims d, Rand r, int[] idx, float[] w) {
        int K = d.K();
        for (int b = 0; b < d.B(); b++) {
            for (int t = 0; t < d.L(); t++) {
                int eligible = Math.min(d.C(), t / d.S()), nv = d.valid(t);
                for (int h = 0; h < d.Hk(); h++) {
                    int row = (b * d.L() + t) * d.Hk() + h;
                    List<Integer> pool = new ArrayList<>();
                    for (int c = 0; c < eligible; c++) pool.add(c);
                    List<Integer> kept = new ArrayList<>();
                    for (int k = 0; k < nv; k++) kept.add(pool.remove(r.nextInt(pool.size())));
                    kept.sort((x, y) -> y - x);
                    for (int k = 0; k < nv; k++) {
                        idx[row * K + k] = kept.get(k);
                        w[row * K + k] = (float) (0.1 + 0.4 * r.nextDouble());
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("alone")
    void hsaLayerMatchesTheDoubleReference(String dev, Case c) {
        Device device = device(dev);
        HsaRef.Dims d = c.dims();
        ModelConfig cfg = c.config();
        ModelParameters params = HsaFixture.params(cfg, 21 + c.hashCode());
        Map<String, float[]> grads0 = HsaFixture.grads(params);
        int rows = d.rows(), D = d.D(), sel = rows * d.Hk() * d.K(), mem = d.B() * d.C() * d.S() * d.Hk() * d.hd();
        Rand r = new Rand(7 + c.length());
        float[] h = r.normal(rows * D, 1), mk = r.normal(mem, 1), mv = r.normal(mem, 1), dOut = r.normal(rows * D, 1);
        float[] dh0 = r.normal(rows * D, 0.1), dmk0 = r.normal(mem, 0.1), dmv0 = r.normal(mem, 0.1), dw0 = r.normal(sel, 0.1);
        int[] idx = new int[sel];
        float[] w = new float[sel];
        randomSelection(d, r, idx, w);
        HsaCsr.Csr csr = HsaCsr.reference(idx, d.B(), d.L(), d.Hk(), d.C(), d.S(), 0, d.K());
        ChunkSelection selection = new ChunkSelection(Tensor.of("indices", idx.clone()), Tensor.of("weights", w.clone()), Tensor.of("dweights", dw0.clone()),
                Tensor.of("chunkStart", csr.chunkStart()), Tensor.of("entries", csr.entries()), d.K(), d.C());
        Tensor th = Tensor.of("h", h.clone()), tdh = Tensor.of("dh", dh0.clone()), tout = Tensor.f32("out", rows * D), tdOut = Tensor.of("dOut", dOut.clone());
        Tensor tk = Tensor.of("memK", mk.clone()), tv = Tensor.of("memV", mv.clone()), tdk = Tensor.of("dMemK", dmk0.clone()), tdv = Tensor.of("dMemV", dmv0.clone());

        HsaLayer layer = new HsaLayer(new LayerContext(cfg, params, device, c.batch(), c.length()), HSA, th, tdh, tout, tdOut, tk, tv, tdk, tdv, selection);
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, params.all(), params.allGrads(), th, tdh, tdOut, tk, tv, tdk, tdv,
                selection.indices(), selection.weights(), selection.dweights(), selection.chunkStart(), selection.entries());
        layer.forward(g);
        layer.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tout, tdh, tdk, tdv, selection.dweights(), params.allGrads());
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }

        Map<String, double[]> pd = HsaFixture.doubles(params);
        HsaRef ref = new HsaRef(d, pd, null, HSA_PREFIX);
        double[] hd = RefOps.toDouble(h), mkd = RefOps.toDouble(mk), mvd = RefOps.toDouble(mv), wd = RefOps.toDouble(w), dOutD = RefOps.toDouble(dOut);
        assertClose("out", ref.hsaLayer(hd, mkd, mvd, idx, wd), tout.toF32Array(), 1e-4);

        GradCheck.check("dh", v -> RefOps.dot(ref.hsaLayer(v, mkd, mvd, idx, wd), dOutD), hd, HsaFixture.minus(tdh.toF32Array(), dh0), SAMPLES, 1e-3, 1);
        GradCheck.check("dmem_k", v -> RefOps.dot(ref.hsaLayer(hd, v, mvd, idx, wd), dOutD), mkd, HsaFixture.minus(tdk.toF32Array(), dmk0), SAMPLES, 1e-3, 2);
        GradCheck.check("dmem_v", v -> RefOps.dot(ref.hsaLayer(hd, mkd, v, idx, wd), dOutD), mvd, HsaFixture.minus(tdv.toF32Array(), dmv0), SAMPLES, 1e-3, 3);
        GradCheck.check("dweights", v -> RefOps.dot(ref.hsaLayer(hd, mkd, mvd, idx, v), dOutD), wd, HsaFixture.minus(selection.dweights().toF32Array(), dw0), SAMPLES, 1e-3, 4);
        checkParams(hsaParams(c), HSA_PREFIX, v -> RefOps.dot(ref.hsaLayer(hd, mkd, mvd, idx, wd), dOutD), pd, params, grads0);
    }

    /**
     * The forward on bf16 K and V ({@code -Dhsa.attn.bf16=on}: on PoCL its tensor-core code runs
     * emulated) tracks the double reference to bf16's precision, and really is a different path.
     */
    @Test
    void bf16ForwardTracksTheDoubleReference() {
        Case c = new Case(1, 2, 72, false, 1, true, false, false);
        HsaRef.Dims d = c.dims();
        ModelConfig cfg = c.config();
        ModelParameters params = HsaFixture.params(cfg, 33);
        int rows = d.rows(), D = d.D(), sel = rows * d.Hk() * d.K(), mem = d.B() * d.C() * d.S() * d.Hk() * d.hd();
        Rand r = new Rand(17);
        float[] h = r.normal(rows * D, 1), mk = r.normal(mem, 1), mv = r.normal(mem, 1);
        int[] idx = new int[sel];
        float[] w = new float[sel];
        randomSelection(d, r, idx, w);
        float[] fp32 = forwardOut(TestDevices.opencl(), c, params, h, mk, mv, idx, w, "off");
        float[] bf16 = forwardOut(TestDevices.opencl(), c, params, h, mk, mv, idx, w, "on");
        double[] want = new HsaRef(d, HsaFixture.doubles(params), null, HSA_PREFIX)
                .hsaLayer(RefOps.toDouble(h), RefOps.toDouble(mk), RefOps.toDouble(mv), idx, RefOps.toDouble(w));
        // out - h: what the layer adds to the stream, where the attention's rounding shows
        double[] wantAdded = want.clone();
        float[] addedFp32 = fp32.clone(), addedBf16 = bf16.clone();
        for (int i = 0; i < want.length; i++) {
            wantAdded[i] -= h[i];
            addedFp32[i] -= h[i];
            addedBf16[i] -= h[i];
        }
        assertClose("out - h, fp32 forward", wantAdded, addedFp32, 1e-4);
        assertClose("out - h, bf16 forward", wantAdded, addedBf16, 5e-3);   // measured 6.2e-4
        assertTrue(!java.util.Arrays.equals(fp32, bf16), "the bf16 setting did not change the forward");
    }

    private static float[] forwardOut(Device device, Case c, ModelParameters params, float[] h, float[] mk, float[] mv, int[] idx, float[] w, String bf16) {
        HsaRef.Dims d = c.dims();
        int rows = d.rows(), D = d.D(), sel = rows * d.Hk() * d.K(), mem = mk.length;
        HsaCsr.Csr csr = HsaCsr.reference(idx, d.B(), d.L(), d.Hk(), d.C(), d.S(), 0, d.K());
        ChunkSelection selection = new ChunkSelection(Tensor.of("indices", idx.clone()), Tensor.of("weights", w.clone()), Tensor.f32("dweights", sel),
                Tensor.of("chunkStart", csr.chunkStart()), Tensor.of("entries", csr.entries()), d.K(), d.C());
        Tensor th = Tensor.of("h", h.clone()), tout = Tensor.f32("out", rows * D);
        Tensor tk = Tensor.of("memK", mk.clone()), tv = Tensor.of("memV", mv.clone());
        String before = System.setProperty(HsaLayer.BF16_PROPERTY, bf16);
        HsaLayer layer;
        try {
            layer = new HsaLayer(new LayerContext(c.config(), params, device, c.batch(), c.length()), HSA, th, Tensor.f32("dh", rows * D), tout,
                    Tensor.f32("dOut", rows * D), tk, tv, Tensor.f32("dMemK", mem), Tensor.f32("dMemV", mem), selection);
        } finally {
            if (before == null) System.clearProperty(HsaLayer.BF16_PROPERTY);
            else System.setProperty(HsaLayer.BF16_PROPERTY, before);
        }
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, params.all(), th, tk, tv, selection.indices(), selection.weights());
        layer.forward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tout);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }
        return tout.toF32Array();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("pairs")
    void retrievalThenHsaMatchesTheDoubleReference(String dev, Case c) {
        Device device = device(dev);
        HsaRef.Dims d = c.dims();
        ModelConfig cfg = c.config();
        ModelParameters params = HsaFixture.params(cfg, 31 + c.hashCode());
        Map<String, float[]> grads0 = HsaFixture.grads(params);
        int rows = d.rows(), D = d.D(), lmSize = d.B() * d.C() * d.Hk() * d.dr(), mem = d.B() * d.C() * d.S() * d.Hk() * d.hd();
        Rand r = new Rand(13 + c.length());
        float[] h = r.normal(rows * D, 1), lm = r.normal(lmSize, 1), mk = r.normal(mem, 1), mv = r.normal(mem, 1), dOut = r.normal(rows * D, 1);
        float[] dh0 = r.normal(rows * D, 0.1), dlm0 = r.normal(lmSize, 0.1), dmk0 = r.normal(mem, 0.1), dmv0 = r.normal(mem, 0.1);
        Tensor th = Tensor.of("h", h.clone()), tdh = Tensor.of("dh", dh0.clone()), tout = Tensor.f32("out", rows * D), tdOut = Tensor.of("dOut", dOut.clone());
        Tensor tlm = Tensor.of("landmarks", lm.clone()), tdlm = Tensor.of("dLandmarks", dlm0.clone());
        Tensor tk = Tensor.of("memK", mk.clone()), tv = Tensor.of("memV", mv.clone()), tdk = Tensor.of("dMemK", dmk0.clone()), tdv = Tensor.of("dMemV", dmv0.clone());

        LayerContext ctx = new LayerContext(cfg, params, device, c.batch(), c.length());
        RetrievalLayer retrieval = new RetrievalLayer(ctx, RETRIEVAL, th, tdh, tlm, tdlm);
        HsaLayer hsa = new HsaLayer(ctx, HSA, th, tdh, tout, tdOut, tk, tv, tdk, tdv, retrieval.selection());
        TaskGraph g = new TaskGraph("group").transferToDevice(DataTransferMode.EVERY_EXECUTION, params.all(), params.allGrads(), th, tdh, tdOut, tlm, tdlm, tk, tv, tdk, tdv);
        retrieval.forward(g);
        hsa.forward(g);
        hsa.backward(g);
        retrieval.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tout, tdh, tdlm, tdk, tdv, retrieval.selection().indices(), params.allGrads());
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }

        Map<String, double[]> pd = HsaFixture.doubles(params);
        HsaRef ref = new HsaRef(d, pd, RETRIEVAL_PREFIX, HSA_PREFIX);
        double[] hd = RefOps.toDouble(h), lmd = RefOps.toDouble(lm), mkd = RefOps.toDouble(mk), mvd = RefOps.toDouble(mv), dOutD = RefOps.toDouble(dOut);
        HsaRef.Selection s = ref.select(hd, lmd);
        assertTrue(s.minMargin() > 1e-3, "test data: scores too close to a tie for a stable selection (" + s.minMargin() + ")");
        int[] idx = s.indices();
        assertArrayEquals(idx, retrieval.selection().indices().toI32Array(), "indices");
        // The group as one function of everything, with the selection held fixed.
        interface Group { double[] out(double[] h, double[] lm, double[] k, double[] v); }
        Group f = (hh, ll, kk, vv) -> ref.hsaLayer(hh, kk, vv, idx, ref.weights(hh, ll, idx));
        assertClose("out", f.out(hd, lmd, mkd, mvd), tout.toF32Array(), 1e-4);

        GradCheck.check("dh", v -> RefOps.dot(f.out(v, lmd, mkd, mvd), dOutD), hd, HsaFixture.minus(tdh.toF32Array(), dh0), SAMPLES, 1e-3, 1);
        GradCheck.check("dlandmarks", v -> RefOps.dot(f.out(hd, v, mkd, mvd), dOutD), lmd, HsaFixture.minus(tdlm.toF32Array(), dlm0), SAMPLES, 1e-3, 2);
        GradCheck.check("dmem_k", v -> RefOps.dot(f.out(hd, lmd, v, mvd), dOutD), mkd, HsaFixture.minus(tdk.toF32Array(), dmk0), SAMPLES, 1e-3, 3);
        GradCheck.check("dmem_v", v -> RefOps.dot(f.out(hd, lmd, mkd, v), dOutD), mvd, HsaFixture.minus(tdv.toF32Array(), dmv0), SAMPLES, 1e-3, 4);
        ToDoubleFunction<double[]> loss = v -> RefOps.dot(f.out(hd, lmd, mkd, mvd), dOutD);
        checkParams(hsaParams(c), HSA_PREFIX, loss, pd, params, grads0);
        List<String> rp = new ArrayList<>(List.of("pre_norm.weight", "ln.weight"));
        if (c.lmkNorm()) rp.addAll(List.of("lmk_q_norm.weight", "lmk_k_norm.weight"));
        checkParams(rp, RETRIEVAL_PREFIX, loss, pd, params, grads0);
    }

    private static List<String> hsaParams(Case c) {
        List<String> names = new ArrayList<>(List.of("pre_norm.weight", "q_proj.weight", "o_proj.weight", "_mlp_norm.weight",
                "_mlp.gate_proj.weight", "_mlp.up_proj.weight", "_mlp.down_proj.weight"));
        if (c.qkNorm()) names.add("q_norm.weight");
        return names;
    }

    private static void checkParams(List<String> names, String prefix, ToDoubleFunction<double[]> loss, Map<String, double[]> pd,
                                    ModelParameters params, Map<String, float[]> grads0) {
        Map<String, float[]> grads = HsaFixture.grads(params);
        for (String n : names) {
            String key = prefix + n;
            GradCheck.check(key, loss, pd.get(key), HsaFixture.minus(grads.get(key), grads0.get(key)), SAMPLES, 1e-3, n.hashCode());
        }
    }

    /**
     * A second step of the same plan: forward outputs and dweights are recomputed from scratch (the
     * retrieval forward zeroes dweights), gradients accumulate (starting from the first step's).
     */
    @ParameterizedTest
    @MethodSource("devices")
    void aSecondStepRecomputesActivationsAndAccumulatesGradients(String dev) {
        Device device = device(dev);
        Case c = new Case(2, 2, 72, false, 1, false, true, true);
        HsaRef.Dims d = c.dims();
        ModelConfig cfg = c.config();
        ModelParameters params = HsaFixture.params(cfg, 5);
        params.allGrads().set(new float[params.allGrads().size()]);
        int rows = d.rows(), D = d.D(), lmSize = d.B() * d.C() * d.Hk() * d.dr(), mem = d.B() * d.C() * d.S() * d.Hk() * d.hd();
        Rand r = new Rand(99);
        Tensor th = Tensor.of("h", r.normal(rows * D, 1)), tdh = Tensor.f32("dh", rows * D), tout = Tensor.f32("out", rows * D), tdOut = Tensor.of("dOut", r.normal(rows * D, 1));
        Tensor tlm = Tensor.of("landmarks", r.normal(lmSize, 1)), tdlm = Tensor.f32("dLandmarks", lmSize);
        Tensor tk = Tensor.of("memK", r.normal(mem, 1)), tv = Tensor.of("memV", r.normal(mem, 1)), tdk = Tensor.f32("dMemK", mem), tdv = Tensor.f32("dMemV", mem);
        LayerContext ctx = new LayerContext(cfg, params, device, c.batch(), c.length());
        RetrievalLayer retrieval = new RetrievalLayer(ctx, RETRIEVAL, th, tdh, tlm, tdlm);
        HsaLayer hsa = new HsaLayer(ctx, HSA, th, tdh, tout, tdOut, tk, tv, tdk, tdv, retrieval.selection());
        TaskGraph g = new TaskGraph("steps").transferToDevice(DataTransferMode.FIRST_EXECUTION, params.all(), th, tdOut, tlm, tk, tv)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, params.allGrads(), tdh, tdlm, tdk, tdv);
        retrieval.forward(g);
        hsa.forward(g);
        hsa.backward(g);
        retrieval.backward(g);
        Tensor dweights = retrieval.selection().dweights();
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tout, dweights, tdh, tdlm, tdk, tdv, params.allGrads());
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
            float[][] first = {tout.toF32Array(), dweights.toF32Array()};
            float[][] grads1 = {tdh.toF32Array(), tdlm.toF32Array(), tdk.toF32Array(), tdv.toF32Array(), params.allGrads().toF32Array()};
            plan.execute();
            assertArrayEquals(first[0], tout.toF32Array(), "out of the second step");
            assertArrayEquals(first[1], dweights.toF32Array(), "dweights of the second step (not accumulated across steps)");
            float[][] grads2 = {tdh.toF32Array(), tdlm.toF32Array(), tdk.toF32Array(), tdv.toF32Array(), params.allGrads().toF32Array()};
            String[] what = {"dh", "dLandmarks", "dMemK", "dMemV", "parameter gradients"};
            for (int i = 0; i < what.length; i++) {
                float[] twice = grads1[i].clone();
                for (int j = 0; j < twice.length; j++) twice[j] *= 2;
                assertClose(what[i] + " after two steps", twice, grads2[i], 1e-6);
            }
        }
    }

    static Stream<String> devices() { return Stream.of("java", "opencl"); }

    @Test
    void rejectsHsaOnlyFalseNamingTheField() {
        Case c = new Case(1, 1, 64, false, 0, true, false, false);
        ModelConfig cfg = ModelConfig.parse(c.config().toJson().put("hsa_only", false).toString());
        ModelParameters p = HsaFixture.params(cfg, 1);
        Tensor x = Tensor.f32("x", 64 * 64);
        ConfigException e = assertThrows(ConfigException.class,
                () -> new HsaLayer(new LayerContext(cfg, p, TestDevices.java(), 1, 64), HSA, x, x, Tensor.f32("y", 64 * 64), x, x, x, x, x, null));
        assertTrue(e.field().equals("hsa_only"), e.getMessage());
    }
}
