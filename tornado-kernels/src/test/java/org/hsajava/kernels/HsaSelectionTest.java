package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Golden;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.HsaSelection.WeightMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HsaSelectionTest {

    /** Problem geometry: q_r [B,L,H,dr] (positions t0..t0+L-1), landmarks [B,C,H,dr], K slots. */
    record Shape(int B, int L, int H, int C, int S, int K, int dr, int t0) {
        static Shape training(int B, int L, int H, int S, int K, int dr) { return new Shape(B, L, H, L / S, S, K, dr, 0); }
        int rows() { return B * L * H; }
        int valid(int i) { return HsaSelection.validSlots(t0 + i, S, C, K); }
        @Override public String toString() { return "B=" + B + " L=" + L + " H=" + H + " C=" + C + " S=" + S + " K=" + K + " dr=" + dr + " t0=" + t0; }
    }

    /** Everything the selection computes, forward and backward. */
    record Result(int[] indices, float[] scores, float[] weights, float[] dscores, float[] dq, HsaCsr.Csr csr, float[] dlandmarks) {}

    /** Runs the whole selection path on one device: top-K, weights, their backward, dq_r, CSR, dlandmarks. */
    static Result pipeline(Device dev, Shape s, WeightMode mode, float[] qr, float[] lm, float[] dweights) {
        int nk = s.rows() * s.K;
        Tensor q = Tensor.of("q_r", qr.clone()), l = Tensor.of("landmarks", lm.clone());
        Tensor idx = Tensor.i32("indices", nk), sc = Tensor.f32("scores", nk);
        KernelRunner.run(dev, HsaSelection.topK(s.dr, s.K), q, l, idx, sc, s.B, s.L, s.H, s.C, s.S, s.t0);
        Tensor w = Tensor.f32("weights", nk);
        KernelRunner.run(dev, HsaSelection.weights(mode, s.K), sc, w, s.B, s.L, s.H, s.C, s.S, s.t0);
        Tensor dw = Tensor.of("dweights", dweights.clone()), ds = Tensor.f32("dscores", nk);
        KernelRunner.run(dev, HsaSelection.weightsBackward(mode, s.K), sc, w, dw, ds, s.B, s.L, s.H, s.C, s.S, s.t0);
        Tensor dq = Tensor.f32("dq_r", s.rows() * s.dr);
        KernelRunner.run(dev, HsaSelection.queryBackward(s.dr, s.K), ds, idx, l, dq, s.B, s.L, s.H, s.C, s.S, s.t0);
        HsaCsr.Csr csr = HsaCsr.build(dev, idx.toI32Array(), s.B, s.L, s.H, s.C, s.S, s.t0, s.K);
        Tensor dl = Tensor.f32("dlandmarks", s.B * s.C * s.H * s.dr);
        KernelRunner.run(dev, HsaSelection.landmarkBackward(s.dr, s.K), ds, q, Tensor.of("chunkStart", csr.chunkStart()),
                Tensor.of("entries", csr.entries()), dl, s.B, s.L, s.H, s.C);
        return new Result(idx.toI32Array(), sc.toF32Array(), w.toF32Array(), ds.toF32Array(), dq.toF32Array(), csr, dl.toF32Array());
    }

    /** Split top-K (slices of {@code per} chunks, then merge) through a task graph: {indices, scores}. */
    static Object[] splitTopK(Device dev, Shape s, float[] qr, float[] lm, int per) {
        Tensor q = Tensor.of("q_r", qr.clone()), l = Tensor.of("landmarks", lm.clone());
        Tensor idx = Tensor.i32("indices", s.rows() * s.K), sc = Tensor.f32("scores", s.rows() * s.K);
        TaskGraph g = new TaskGraph("split").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, l);
        HsaSelection.addSplitTopKTasks(g, "topk", s.dr, s.K, q, l, idx, sc, s.B, s.L, s.H, s.C, s.S, s.t0, per);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, idx, sc);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new Object[] {idx.toI32Array(), sc.toF32Array()};
    }

    static Device[] devices() { return new Device[] {TestDevices.java(), TestDevices.opencl()}; }

    // ------------------------------------------------------------------ golden vectors

    @ParameterizedTest
    @ValueSource(strings = {"hsa_e2e_stick", "hsa_e2e_softmax_n1", "hsa_e2e_s16_k8"})
    void matchesGoldenSelectionWeightsAndGradients(String name) {
        Golden g = Golden.load(name);
        int[] qs = g.shape("q_r"), ls = g.shape("landmarks"), is = g.shape("indices");
        Shape s = new Shape(qs[0], qs[1], qs[2], ls[1], g.metaInt("S"), is[3], qs[3], 0);
        WeightMode mode = g.meta("mode").equals("softmax") ? WeightMode.SOFTMAX : WeightMode.STICK;
        for (Device dev : devices()) {
            Result r = pipeline(dev, s, mode, g.f32("q_r"), g.f32("landmarks"), g.f32("grad_weights"));
            String where = name + " on " + dev;
            assertArrayEquals(g.i32("indices"), r.indices, where + ": indices");
            assertClose(where + ": weights", g.f32("weights"), r.weights, 1e-5);
            assertClose(where + ": grad_q_r", g.f32("grad_q_r"), r.dq, 1e-4);
            assertClose(where + ": grad_landmarks", g.f32("grad_landmarks"), r.dlandmarks, 1e-4);
        }
    }

    // ------------------------------------------------------------------ OpenCL vs Java, random inputs

    static Stream<Arguments> shapes() {
        boolean small = TestDevices.underOclgrind();
        Stream<Shape> all = Stream.of(
                Shape.training(1, 1, 1, 4, 2, 16),       // a single token: nothing eligible
                Shape.training(1, 13, 2, 16, 4, 32),     // L < S: no chunks at all
                Shape.training(1, 37, 1, 8, 8, 16),      // L not a multiple of S; K > eligible for every token
                Shape.training(3, 67, 2, 5, 3, 48),      // primes; B=3, H=2
                Shape.training(2, 131, 1, 3, 16, 64),    // K = 16, many chunks (43), more rows than one work-group
                Shape.training(1, 97, 2, 2, 5, 128),     // dr = 128, chunks (48) not a multiple of the landmark tile
                new Shape(2, 29, 2, 40, 7, 6, 32, 250),  // a window of positions (t0 > 0) against 40 chunks
                new Shape(2, 83, 1, 16, 5, 3, 32, -48)); // t0 < 0: an eligibility lag (mask_slide_window passes -(W - S))
        if (small) all = all.filter(s -> s.rows() * s.C <= 20000);
        return all.flatMap(s -> Stream.of(Arguments.of(s, WeightMode.SOFTMAX), Arguments.of(s, WeightMode.STICK)));
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void openClMatchesJavaOnRandomInputs(Shape s, WeightMode mode) {
        Rand r = new Rand(s.hashCode() + mode.ordinal());
        float[] qr = r.normal(s.rows() * s.dr, 1.5), lm = r.normal(s.B * s.C * s.H * s.dr, 1.5), dw = r.normal(s.rows() * s.K, 1);
        Result j = pipeline(TestDevices.java(), s, mode, qr, lm, dw);
        Result c = pipeline(TestDevices.opencl(), s, mode, qr, lm, dw);
        String where = s + " " + mode;
        assertArrayEquals(j.indices, c.indices, where + ": indices");
        // Both backends do the same float operations (no FMA contraction), so PoCL matches bit for bit;
        // the tolerance only leaves room for a driver that ignores FP_CONTRACT OFF.
        assertClose(where + ": scores", j.scores, c.scores, 1e-6);
        assertClose(where + ": weights", j.weights, c.weights, 1e-5);
        assertClose(where + ": dscores", j.dscores, c.dscores, 1e-5);
        assertClose(where + ": dq_r", j.dq, c.dq, 1e-5);
        assertArrayEquals(j.csr.chunkStart(), c.csr.chunkStart(), where + ": chunkStart");
        assertArrayEquals(Arrays.copyOf(j.csr.entries(), j.csr.used()), Arrays.copyOf(c.csr.entries(), c.csr.used()), where + ": entries");
        assertClose(where + ": dlandmarks", j.dlandmarks, c.dlandmarks, 1e-5);

        // The fused forward (top-K and weights in one launch) gives exactly the two kernels' results.
        for (Device dev : devices()) {
            Result two = dev.isJava() ? j : c;
            Tensor idx = Tensor.i32("indices", s.rows() * s.K), sc = Tensor.f32("scores", s.rows() * s.K), w = Tensor.f32("weights", s.rows() * s.K);
            KernelRunner.run(dev, HsaSelection.topKWeights(s.dr, s.K, mode), Tensor.of("q_r", qr.clone()), Tensor.of("landmarks", lm.clone()),
                    idx, sc, w, s.B, s.L, s.H, s.C, s.S, s.t0);
            assertArrayEquals(two.indices, idx.toI32Array(), where + ": fused indices on " + dev);
            assertArrayEquals(two.scores, sc.toF32Array(), where + ": fused scores on " + dev);
            assertArrayEquals(two.weights, w.toF32Array(), where + ": fused weights on " + dev);
        }

        // Slicing the chunks (odd slice size) and merging gives exactly the one-pass selection.
        for (Device dev : devices()) {
            Object[] split = splitTopK(dev, s, qr, lm, 5);
            assertArrayEquals(j.indices, (int[]) split[0], where + ": split top-K indices on " + dev);
            assertArrayEquals(j.scores, (float[]) split[1], where + ": split top-K scores on " + dev);
        }

        // Independent checks of the Java oracle itself.
        assertSelectionIsTopK(s, qr, lm, j);
        HsaCsr.Csr ref = HsaCsr.reference(j.indices, s.B, s.L, s.H, s.C, s.S, s.t0, s.K);
        assertArrayEquals(ref.chunkStart(), j.csr.chunkStart(), where + ": chunkStart vs reference");
        assertArrayEquals(Arrays.copyOf(ref.entries(), ref.used()), Arrays.copyOf(j.csr.entries(), j.csr.used()), where + ": entries vs reference");
        assertWeightsMatchDouble(s, mode, j);
    }

    /**
     * The selected chunks are the top-K eligible ones by a double-precision score (up to float
     * rounding), ordered most recent first, with exactly min(K, eligible) valid slots.
     */
    static void assertSelectionIsTopK(Shape s, float[] qr, float[] lm, Result r) {
        for (int row = 0; row < s.rows(); row++) {
            int h = row % s.H, i = (row / s.H) % s.L, b = row / (s.H * s.L);
            int e = HsaSelection.eligible(s.t0 + i, s.S, s.C), n = s.valid(i);
            int wholly = 0; // independently: chunks that end at or before position t0 + i
            for (int c = 0; c < s.C; c++) if ((c + 1) * s.S <= s.t0 + i) wholly++;
            assertEquals(wholly, e, "row " + row + ": eligible chunks at position " + (s.t0 + i));
            double[] all = new double[e];
            for (int c = 0; c < e; c++) all[c] = score(s, qr, lm, b, i, h, c);
            boolean[] chosen = new boolean[e];
            double worstChosen = Double.POSITIVE_INFINITY;
            for (int k = 0; k < s.K; k++) {
                int at = row * s.K + k, c = r.indices[at];
                if (k >= n) {
                    assertEquals(0, c, "row " + row + " slot " + k + ": invalid slot index");
                    assertEquals(0f, r.scores[at], "row " + row + " slot " + k + ": invalid slot score");
                    continue;
                }
                assertTrue(c >= 0 && c < e, "row " + row + " slot " + k + ": chunk " + c + " not eligible (" + e + ")");
                if (k > 0) assertTrue(c < r.indices[at - 1], "row " + row + ": slots not most recent first");
                assertEquals(all[c], r.scores[at], 1e-5 * (1 + Math.abs(all[c])), "row " + row + " slot " + k + ": score");
                chosen[c] = true;
                worstChosen = Math.min(worstChosen, all[c]);
            }
            for (int c = 0; c < e; c++) {
                if (!chosen[c] && all[c] > worstChosen + 1e-5 * (1 + Math.abs(all[c]))) {
                    fail("row " + row + ": chunk " + c + " (score " + all[c] + ") left out while a chunk of score " + worstChosen + " was kept");
                }
            }
        }
    }

    static double score(Shape s, float[] qr, float[] lm, int b, int i, int h, int c) {
        double acc = 0;
        for (int d = 0; d < s.dr; d++) acc += (double) qr[((b * s.L + i) * s.H + h) * s.dr + d] * lm[((b * s.C + c) * s.H + h) * s.dr + d];
        return acc / Math.sqrt(s.dr);
    }

    static void assertWeightsMatchDouble(Shape s, WeightMode mode, Result r) {
        float[] expected = new float[r.weights.length];
        for (int row = 0; row < s.rows(); row++) {
            double[] sc = new double[s.valid((row / s.H) % s.L)];
            for (int k = 0; k < sc.length; k++) sc[k] = r.scores[row * s.K + k];
            double[] w = weightsDouble(mode, sc);
            for (int k = 0; k < w.length; k++) expected[row * s.K + k] = (float) w[k];
        }
        assertClose(s + " " + mode + ": weights vs double formula", expected, r.weights, 1e-5);
    }

    // ------------------------------------------------------------------ double-precision forward and finite differences

    /** Weights of the valid slots' scores, straight from DESIGN.md section 2, in double. */
    static double[] weightsDouble(WeightMode mode, double[] s) {
        double[] w = new double[s.length];
        if (s.length == 0) return w;
        if (mode == WeightMode.SOFTMAX) {
            double m = Arrays.stream(s).max().orElseThrow(), sum = 0;
            for (double x : s) sum += Math.exp(x - m);
            for (int k = 0; k < s.length; k++) w[k] = Math.exp(s[k] - m) / sum;
        } else {
            double acc = 0;
            for (int k = 0; k < s.length; k++) {
                acc += s[k] > 15 ? s[k] : Math.log1p(Math.exp(s[k]));
                w[k] = Math.exp(s[k] - acc);
            }
        }
        return w;
    }

    @ParameterizedTest
    @ValueSource(strings = {"SOFTMAX", "STICK"})
    void weightsBackwardMatchesFiniteDifferences(String modeName) {
        WeightMode mode = WeightMode.valueOf(modeName);
        // L=40, S=4, K=6: positions 0..3 have no slot, 4..27 fewer than K, the rest all K.
        Shape s = Shape.training(2, 40, 2, 4, 6, 16);
        Rand r = new Rand(7 + mode.ordinal());
        float[] scores = r.normal(s.rows() * s.K, 3);
        for (int i = 0; i < scores.length; i += 11) scores[i] = 16f + i % 5;   // the linear branch of softplus
        float[] g = r.normal(s.rows() * s.K, 1);
        for (Device dev : devices()) {
            Tensor sc = Tensor.of("scores", scores.clone()), w = Tensor.f32("weights", scores.length);
            KernelRunner.run(dev, HsaSelection.weights(mode, s.K), sc, w, s.B, s.L, s.H, s.C, s.S, s.t0);
            Tensor ds = Tensor.f32("dscores", scores.length);
            KernelRunner.run(dev, HsaSelection.weightsBackward(mode, s.K), sc, w, Tensor.of("dweights", g.clone()), ds, s.B, s.L, s.H, s.C, s.S, s.t0);
            float[] expected = new float[scores.length];
            double h = 1e-6;
            for (int row = 0; row < s.rows(); row++) {
                int n = s.valid((row / s.H) % s.L);
                for (int j = 0; j < n; j++) {
                    double[] plus = new double[n], minus = new double[n];
                    for (int k = 0; k < n; k++) plus[k] = minus[k] = scores[row * s.K + k];
                    plus[j] += h;
                    minus[j] -= h;
                    double[] wp = weightsDouble(mode, plus), wm = weightsDouble(mode, minus);
                    double d = 0;
                    for (int k = 0; k < n; k++) d += g[row * s.K + k] * (wp[k] - wm[k]) / (2 * h);
                    expected[row * s.K + j] = (float) d;
                }
            }
            assertClose(mode + " dscores vs finite differences on " + dev, expected, ds.toF32Array(), 1e-5);
        }
    }

    /**
     * dq_r and dlandmarks against central differences of the double-precision loss
     * {@code Σ g·w(s(q_r, landmarks))} with the selected indices held fixed.
     */
    @ParameterizedTest
    @ValueSource(strings = {"SOFTMAX", "STICK"})
    void scoreBackwardMatchesFiniteDifferences(String modeName) {
        WeightMode mode = WeightMode.valueOf(modeName);
        Shape s = Shape.training(2, 23, 2, 4, 3, 16);
        Rand r = new Rand(11 + mode.ordinal());
        float[] qr = r.normal(s.rows() * s.dr, 1), lm = r.normal(s.B * s.C * s.H * s.dr, 1), g = r.normal(s.rows() * s.K, 1);
        for (Device dev : devices()) {
            Result res = pipeline(dev, s, mode, qr, lm, g);
            double[] q = toDouble(qr), l = toDouble(lm);
            double h = 1e-6;
            float[] expectedQ = new float[qr.length], expectedL = new float[lm.length];
            for (int i = 0; i < q.length; i++) {
                double keep = q[i];
                q[i] = keep + h;
                double up = lossDouble(s, mode, q, l, res.indices, g);
                q[i] = keep - h;
                double down = lossDouble(s, mode, q, l, res.indices, g);
                q[i] = keep;
                expectedQ[i] = (float) ((up - down) / (2 * h));
            }
            for (int i = 0; i < l.length; i++) {
                double keep = l[i];
                l[i] = keep + h;
                double up = lossDouble(s, mode, q, l, res.indices, g);
                l[i] = keep - h;
                double down = lossDouble(s, mode, q, l, res.indices, g);
                l[i] = keep;
                expectedL[i] = (float) ((up - down) / (2 * h));
            }
            assertClose(mode + " dq_r vs finite differences on " + dev, expectedQ, res.dq, 1e-4);
            assertClose(mode + " dlandmarks vs finite differences on " + dev, expectedL, res.dlandmarks, 1e-4);
        }
    }

    static double lossDouble(Shape s, WeightMode mode, double[] q, double[] l, int[] indices, float[] g) {
        double loss = 0;
        for (int row = 0; row < s.rows(); row++) {
            int h = row % s.H, i = (row / s.H) % s.L, b = row / (s.H * s.L);
            double[] sc = new double[s.valid(i)];
            for (int k = 0; k < sc.length; k++) {
                int c = indices[row * s.K + k];
                double acc = 0;
                for (int d = 0; d < s.dr; d++) acc += q[row * s.dr + d] * l[((b * s.C + c) * s.H + h) * s.dr + d];
                sc[k] = acc / Math.sqrt(s.dr);
            }
            double[] w = weightsDouble(mode, sc);
            for (int k = 0; k < w.length; k++) loss += g[row * s.K + k] * w[k];
        }
        return loss;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    // ------------------------------------------------------------------ ties and streaming

    /** With equal scores the more recent chunk wins: identical landmarks select the K latest eligible chunks. */
    @Test
    void equalScoresPreferTheMoreRecentChunk() {
        Shape s = Shape.training(1, 50, 2, 3, 4, 16);
        Rand r = new Rand(3);
        float[] qr = r.normal(s.rows() * s.dr, 1), lm = new float[s.B * s.C * s.H * s.dr];
        float[] one = r.normal(s.dr, 1);
        for (int c = 0; c < s.C; c++) for (int h = 0; h < s.H; h++) System.arraycopy(one, 0, lm, (c * s.H + h) * s.dr, s.dr);
        // Head 1: chunks 2 and 5 score higher than the rest (and tie with each other).
        for (int c : new int[] {2, 5}) for (int d = 0; d < s.dr; d++) lm[(c * s.H + 1) * s.dr + d] = 3 * one[d];
        for (int d = 0; d < s.dr; d++) qr[(40 * s.H + 1) * s.dr + d] = one[d];  // row t=40, head 1: q = one, positive scores
        for (Device dev : devices()) {
            Tensor idx = Tensor.i32("indices", s.rows() * s.K), sc = Tensor.f32("scores", s.rows() * s.K);
            KernelRunner.run(dev, HsaSelection.topK(s.dr, s.K), Tensor.of("q_r", qr.clone()), Tensor.of("landmarks", lm.clone()), idx, sc,
                    s.B, s.L, s.H, s.C, s.S, s.t0);
            int[] got = idx.toI32Array();
            for (int t = 0; t < s.L; t++) {
                int e = HsaSelection.eligible(t, s.S, s.C), n = s.valid(t);
                int[] expect = new int[s.K];
                for (int k = 0; k < n; k++) expect[k] = e - 1 - k;
                assertArrayEquals(expect, Arrays.copyOfRange(got, (t * s.H) * s.K, (t * s.H + 1) * s.K), "t=" + t + " head 0 on " + dev);
            }
            // t=40 sees chunks 0..12; head 1 keeps 5 and 2 (the tied high pair) plus the two latest of the rest, 12 and 11.
            assertArrayEquals(new int[] {12, 11, 5, 2}, Arrays.copyOfRange(got, (40 * s.H + 1) * s.K, (40 * s.H + 2) * s.K), "t=40 head 1 on " + dev);
        }
    }

    /**
     * Streaming top-K over 2^18 chunks (16M tokens at S=64; here S=1) for a handful of positions at
     * the end of the context: the winners are planted, the rest are small random landmarks.
     */
    @Test
    void streamingTopKOverTwoToTheEighteenChunks() {
        int chunks = TestDevices.underOclgrind() ? 1 << 10 : 1 << 18;
        int dr = 16, K = 8, rows = 5;
        Shape s = new Shape(1, rows, 1, chunks, 1, K, dr, chunks);  // positions chunks..chunks+4: every chunk eligible
        Rand r = new Rand(18);
        float[] qr = new float[rows * dr];
        for (int i = 0; i < rows; i++) qr[i * dr + (i % dr)] = 1f;      // row i reads dimension i
        float[] lm = r.uniform(chunks * dr, -0.01, 0.01);
        int[][] planted = new int[rows][];
        for (int i = 0; i < rows; i++) {
            int[] winners = {0, chunks - 1, 3 + 7 * i, chunks / 2 + i, chunks / 3, 12345 % chunks + i, chunks - 17 - i, 77 + i};
            for (int w = 0; w < winners.length; w++) lm[winners[w] * dr + (i % dr)] = 5f + w;
            planted[i] = Arrays.stream(winners).boxed().sorted((x, y) -> y - x).mapToInt(Integer::intValue).toArray();
        }
        for (Device dev : devices()) {
            Tensor idx = Tensor.i32("indices", rows * K), sc = Tensor.f32("scores", rows * K);
            KernelRunner.run(dev, HsaSelection.topK(dr, K), Tensor.of("q_r", qr), Tensor.of("landmarks", lm), idx, sc,
                    s.B, s.L, s.H, s.C, s.S, s.t0);
            for (int i = 0; i < rows; i++) {
                assertArrayEquals(planted[i], Arrays.copyOfRange(idx.toI32Array(), i * K, (i + 1) * K), "row " + i + " on " + dev);
            }
            // The same selection with the chunks spread over 64 work-groups, then merged.
            Object[] split = splitTopK(dev, s, qr, lm, chunks / 64);
            assertArrayEquals(idx.toI32Array(), (int[]) split[0], "split top-K on " + dev);
            assertArrayEquals(sc.toF32Array(), (float[]) split[1], "split top-K scores on " + dev);
        }
    }

    /**
     * The device-built index equals the reference on random valid selections big enough for many
     * radix tiles and an odd number of passes (3 passes here; 1 and 2 occur in the tests above).
     */
    @Test
    void csrBuildMatchesReferenceOnManyTilesAndPasses() {
        boolean small = TestDevices.underOclgrind();
        int B = 2, H = 3, L = small ? 300 : 700, S = 2, K = 5, C = L / S;
        Rand r = new Rand(5);
        int[] indices = new int[B * L * H * K];
        for (int row = 0; row < B * L * H; row++) {
            int t = (row / H) % L, e = HsaSelection.eligible(t, S, C), n = Math.min(K, e);
            int[] pick = r.ints(e, 1 << 30);  // K distinct chunks: the n largest random keys, then most recent first
            Integer[] order = new Integer[e];
            for (int c = 0; c < e; c++) order[c] = c;
            Arrays.sort(order, (x, y) -> Integer.compare(pick[y], pick[x]));
            int[] chosen = Arrays.stream(order, 0, n).mapToInt(Integer::intValue).sorted().toArray();
            for (int k = 0; k < n; k++) indices[row * K + k] = chosen[n - 1 - k];
        }
        assertEquals(3, HsaCsr.passes(B * H * C));
        HsaCsr.Csr ref = HsaCsr.reference(indices, B, L, H, C, S, 0, K);
        for (Device dev : devices()) {
            HsaCsr.Csr got = HsaCsr.build(dev, indices, B, L, H, C, S, 0, K);
            assertArrayEquals(ref.chunkStart(), got.chunkStart(), "chunkStart on " + dev);
            assertEquals(ref.used(), got.used(), "used entries on " + dev);
            assertArrayEquals(Arrays.copyOf(ref.entries(), ref.used()), Arrays.copyOf(got.entries(), got.used()), "entries on " + dev);
        }
        // Format invariants, checked on the reference itself.
        assertEquals(0, ref.chunkStart()[0]);
        for (int bh = 0; bh < B * H; bh++) {
            for (int c = 0; c < C; c++) {
                for (int e = ref.chunkStart()[bh * (C + 1) + c]; e < ref.chunkStart()[bh * (C + 1) + c + 1]; e++) {
                    int v = ref.entries()[e], t = v / K, k = v % K;
                    assertEquals(c, indices[((bh / H * L + t) * H + bh % H) * K + k], "entry " + e + " is in chunk " + c);
                    assertTrue(k < HsaSelection.validSlots(t, S, C, K), "entry " + e + " is a valid slot");
                    if (e > ref.chunkStart()[bh * (C + 1) + c]) assertTrue(v > ref.entries()[e - 1], "entries ascending in chunk " + c);
                }
            }
            if (bh + 1 < B * H) assertEquals(ref.chunkStart()[bh * (C + 1) + C], ref.chunkStart()[(bh + 1) * (C + 1)], "consecutive bh follow each other");
        }
    }

    @Test
    void rejectsMismatchedArguments() {
        Tensor q = Tensor.f32("q_r", 2 * 10 * 16), l = Tensor.f32("landmarks", 2 * 16);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () ->
                KernelRunner.run(TestDevices.java(), HsaSelection.topK(16, 4), q, l, Tensor.i32("indices", 2 * 10 * 4), Tensor.f32("scores", 2 * 10 * 4),
                        1, 10, 2, 2, 4, 0));
        assertTrue(e.getMessage().contains("landmarks") || e.getMessage().contains("q_r"), e.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> HsaSelection.topK(16, 17));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> HsaSelection.topK(24, 4));
    }
}
