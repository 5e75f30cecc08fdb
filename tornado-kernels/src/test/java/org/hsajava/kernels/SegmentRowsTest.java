package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.kernels.SegmentRows.Layout;
import org.junit.jupiter.api.Test;

class SegmentRowsTest {

    private static void run(Device d, TaskGraph g) {
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
    }

    @Test
    void cutsAStreamIntoChunksWithAnAppendedRowAndBack() {
        // h [B=2, L=14, D=3], chunks of S=4 (C=3; rows 12, 13 of each batch are a partial chunk), T = S+1.
        int b = 2, l = 14, s = 4, c = 3, t = s + 1, cols = 3;
        Rand r = new Rand(1);
        float[] h = r.normal(b * l * cols, 1), cls = r.normal(cols, 1), dxInit = r.normal(b * c * t * cols, 1), dh0 = r.normal(b * l * cols, 1);
        for (Device dev : CentralDifference.devices()) {
            Tensor th = Tensor.of("h", h.clone()), tcls = Tensor.of("cls", cls.clone()), x = Tensor.f32("x", b * c * t * cols);
            Tensor dx = Tensor.of("dx", dxInit.clone()), dh = Tensor.of("dh", dh0.clone()), clsRows = Tensor.f32("clsRows", b * c * cols);
            TaskGraph g = new TaskGraph("rows").transferToDevice(DataTransferMode.EVERY_EXECUTION, th, tcls, dx, dh);
            SegmentRows.copy(g, "gather", th, new Layout(l, s, 0), x, new Layout(c * t, t, 0), b, c, s, cols, false);
            SegmentRows.copy(g, "cls", tcls, new Layout(0, 0, 0), x, new Layout(0, t, s), 1, b * c, 1, cols, false);
            SegmentRows.copy(g, "scatter", dx, new Layout(c * t, t, 0), dh, new Layout(l, s, 0), b, c, s, cols, true);
            SegmentRows.copy(g, "pickCls", dx, new Layout(0, t, s), clsRows, new Layout(0, 1, 0), 1, b * c, 1, cols, false);
            g.transferToHost(DataTransferMode.EVERY_EXECUTION, x, dh, clsRows);
            run(dev, g);

            float[] ex = new float[x.size()], edh = dh0.clone(), ecls = new float[clsRows.size()];
            for (int bi = 0; bi < b; bi++) {
                for (int ci = 0; ci < c; ci++) {
                    int n = bi * c + ci;
                    for (int ti = 0; ti < t; ti++) {
                        for (int k = 0; k < cols; k++) {
                            ex[(n * t + ti) * cols + k] = ti < s ? h[(bi * l + ci * s + ti) * cols + k] : cls[k];
                            if (ti < s) edh[(bi * l + ci * s + ti) * cols + k] += dxInit[(n * t + ti) * cols + k];
                            else ecls[n * cols + k] = dxInit[(n * t + ti) * cols + k];
                        }
                    }
                }
            }
            assertArrayEquals(ex, x.toF32Array(), "gather on " + dev);
            assertArrayEquals(edh, dh.toF32Array(), "scatter-add on " + dev + " (the partial chunk's rows keep their values)");
            assertArrayEquals(ecls, clsRows.toF32Array(), "CLS rows on " + dev);
        }
    }

    @Test
    void segmentMeanAndItsBackward() {
        int n = 5, s = 7, cols = 70;
        Rand r = new Rand(2);
        float[] in = r.normal(n * s * cols, 1), dm = r.normal(n * cols, 1), din0 = r.normal(n * s * cols, 1);
        float[] em = new float[n * cols], edin = din0.clone();
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < cols; k++) {
                double acc = 0;
                for (int t = 0; t < s; t++) acc += in[(i * s + t) * cols + k];
                em[i * cols + k] = (float) (acc / s);
                for (int t = 0; t < s; t++) edin[(i * s + t) * cols + k] += dm[i * cols + k] / s;
            }
        }
        for (Device dev : CentralDifference.devices()) {
            Tensor ti = Tensor.of("in", in.clone()), m = Tensor.f32("m", n * cols), tdm = Tensor.of("dm", dm.clone()), din = Tensor.of("din", din0.clone());
            TaskGraph g = new TaskGraph("mean").transferToDevice(DataTransferMode.EVERY_EXECUTION, ti, tdm, din)
                    .task("mean", SegmentRows.MEAN, ti, m, n, s, cols)
                    .task("back", SegmentRows.MEAN_BACKWARD, tdm, din, n, s, cols)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, m, din);
            run(dev, g);
            assertClose("mean on " + dev, em, m.toF32Array(), 1e-6);
            assertClose("mean backward on " + dev, edin, din.toF32Array(), 1e-6);
        }
    }

    @Test
    void checksNameTheWrongArgument() {
        Tensor src = Tensor.f32("src", 10), dst = Tensor.f32("dst", 9);
        var e = assertThrows(IllegalArgumentException.class, () -> SegmentRows.copy(new TaskGraph("g"), "c", src, new Layout(0, 5, 0), dst,
                new Layout(0, 5, 0), 1, 2, 5, 1, false));
        assertTrue(e.getMessage().contains("'dst'"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> SegmentRows.copy(new TaskGraph("g"), "c", src, new Layout(0, 5, 0), src,
                new Layout(0, 5, 0), 1, 2, 5, 1, false));
        assertTrue(e2.getMessage().contains("share storage"), e2.getMessage());
    }
}
