package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EmbeddingTest {

    @ParameterizedTest
    @CsvSource({"1, 1, 1", "7, 17, 5", "130, 65, 31", "1000, 128, 997"})
    void forwardCopiesRows(int rows, int d, int vocab) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || rows <= 130);
        Rand r = new Rand(rows * 31L + d);
        int[] ids = r.ints(rows, vocab);
        float[] table = r.normal(vocab * d, 1);
        float[] expected = new float[rows * d];
        for (int n = 0; n < rows; n++) System.arraycopy(table, ids[n] * d, expected, n * d, d);
        for (Device dev : CentralDifference.devices()) {
            Tensor out = Tensor.f32("out", rows, d);
            KernelRunner.run(dev, Embedding.FORWARD, Tensor.of("ids", ids), Tensor.of("table", table, vocab, d), out, rows, d, vocab);
            assertArrayEquals(expected, out.toF32Array(), "embedding forward on " + dev);
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1", "9, 3, 2", "131, 67, 13", "600, 96, 50"})
    void backwardAccumulatesEveryOccurrenceDeterministically(int rows, int d, int vocab) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || rows <= 131);
        Rand r = new Rand(rows * 7L + vocab);
        int[] ids = r.ints(rows, vocab);
        float[] dout = r.normal(rows * d, 1), start = r.normal(vocab * d, 1);
        double[] expected = CentralDifference.toDouble(start);
        for (int n = 0; n < rows; n++) for (int c = 0; c < d; c++) expected[ids[n] * d + c] += dout[n * d + c];
        Embedding.InvertedIds inv = Embedding.invertIds(ids, vocab);
        float[] first = null;
        for (Device dev : CentralDifference.devices()) {
            for (int repeat = 0; repeat < 2; repeat++) {
                float[] got = backward(dev, inv, dout, start, rows, d, vocab);
                assertClose("embedding backward on " + dev, expected, got, 1e-6);
                // Both backends add the same terms in the same CSR order: results are bit-identical.
                if (first == null) first = got;
                else assertArrayEquals(first, got, "embedding backward is not deterministic on " + dev);
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesOfDoubleForward() {
        int rows = 11, d = 5, vocab = 7;
        Rand r = new Rand(3);
        int[] ids = r.ints(rows, vocab);
        ids[4] = ids[9] = ids[2]; // a repeated id
        float[] dout = r.normal(rows * d, 1);
        double[] table = CentralDifference.toDouble(r.normal(vocab * d, 1));
        // L(table) = sum_{n,c} dout[n, c] * table[ids[n], c], evaluated in double.
        double[] fd = CentralDifference.gradient(table, t -> {
            double s = 0;
            for (int n = 0; n < rows; n++) for (int c = 0; c < d; c++) s += dout[n * d + c] * t[ids[n] * d + c];
            return s;
        }, 1e-3);
        Embedding.InvertedIds inv = Embedding.invertIds(ids, vocab);
        for (Device dev : CentralDifference.devices()) {
            assertClose("embedding dtable vs finite differences on " + dev, fd, backward(dev, inv, dout, new float[vocab * d], rows, d, vocab), 1e-6);
        }
    }

    @Test
    void indexBuffersSizedForTheWorstCaseServeEveryBatch() {
        int rows = 20, d = 3, vocab = 40;
        Rand r = new Rand(5);
        int[] ids = r.ints(rows, 4); // few distinct ids: used << capacity
        float[] dout = r.normal(rows * d, 1);
        Embedding.InvertedIds inv = Embedding.invertIds(ids, vocab);
        int cap = Math.min(rows, vocab);
        int[] rowIds = new int[cap], offsets = new int[rows + 1];
        System.arraycopy(inv.rowIds(), 0, rowIds, 0, inv.used());
        System.arraycopy(inv.offsets(), 0, offsets, 0, inv.used() + 1);
        Scalar used = Scalar.of("used", inv.used());
        double[] expected = new double[vocab * d];
        for (int n = 0; n < rows; n++) for (int c = 0; c < d; c++) expected[ids[n] * d + c] += dout[n * d + c];
        for (Device dev : CentralDifference.devices()) {
            Tensor dtable = Tensor.f32("dtable", vocab, d);
            KernelRunner.run(dev, Embedding.BACKWARD, Tensor.of("dout", dout), Tensor.of("rowIds", rowIds), Tensor.of("offsets", offsets),
                    Tensor.of("positions", inv.positions()), dtable, used, rows, d, vocab);
            assertClose("embedding backward with capacity buffers on " + dev, expected, dtable.toF32Array(), 1e-6);
        }
    }

    @Test
    void invertIdsListsSortedPositionsPerUsedId() {
        Embedding.InvertedIds inv = Embedding.invertIds(new int[] {3, 0, 3, 5, 0, 3}, 6);
        assertArrayEquals(new int[] {0, 3, 5}, inv.rowIds());
        assertArrayEquals(new int[] {0, 2, 5, 6}, inv.offsets());
        assertArrayEquals(new int[] {1, 4, 0, 2, 5, 3}, inv.positions());
        Embedding.InvertedIds empty = Embedding.invertIds(new int[0], 4);
        assertArrayEquals(new int[] {0}, empty.offsets());
    }

    @Test
    void outOfRangeIdsAreReportedWithTheirPosition() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Embedding.invertIds(new int[] {1, 2, 9, 0}, 5));
        assertTrue(e.getMessage().contains("position 2") && e.getMessage().contains("9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Embedding.checkIds(new int[] {0, -1}, 5));
        assertTrue(e.getMessage().contains("position 1"), e.getMessage());
        // The kernel's argument check scans the host copy of the ids, on every backend.
        for (Device dev : CentralDifference.devices()) {
            e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(dev, Embedding.FORWARD,
                    Tensor.of("ids", new int[] {0, 1, 5}), Tensor.f32("table", 2, 2), Tensor.f32("out", 3, 2), 3, 2, 2));
            assertTrue(e.getMessage().contains("position 2"), e.getMessage());
        }
    }

    @Test
    void idsOnlyTheDeviceHoldsGiveZeroRowsOnOpenClAndAnErrorInJava() {
        for (Device dev : CentralDifference.devices()) {
            Tensor ids = Tensor.of("ids", new int[] {1, 0}), table = Tensor.of("table", new float[] {1, 2, 3, 4}, 2, 2), out = Tensor.of("out", new float[] {9, 9, 9, 9}, 2, 2);
            TaskGraph g = new TaskGraph("emb").task("fwd", Embedding.FORWARD, ids, table, out, 2, 2, 2).transferToHost(DataTransferMode.EVERY_EXECUTION, out);
            try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
                plan.transferToDevice(table);
                ids.set(new int[] {1, 7});
                plan.transferToDevice(ids);
                ids.set(new int[] {1, 0}); // the host check now sees valid ids; the device holds id 7
                if (dev.isJava()) {
                    assertThrows(RuntimeException.class, plan::execute);
                } else {
                    plan.execute();
                    assertArrayEquals(new float[] {3, 4, 0, 0}, out.toF32Array());
                }
            }
        }
    }

    @Test
    void checkNamesTheShortArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), Embedding.FORWARD,
                Tensor.of("ids", new int[] {0, 1}), Tensor.f32("table", 3, 4), Tensor.f32("out", 2, 3), 2, 4, 3));
        assertTrue(e.getMessage().contains("'out'"), e.getMessage());
    }

    private static float[] backward(Device dev, Embedding.InvertedIds inv, float[] dout, float[] start, int rows, int d, int vocab) {
        Tensor dtable = Tensor.of("dtable", start.clone(), vocab, d);
        KernelRunner.run(dev, Embedding.BACKWARD, Tensor.of("dout", dout), Tensor.of("rowIds", inv.rowIds().length == 0 ? new int[1] : inv.rowIds()),
                Tensor.of("offsets", inv.offsets()), Tensor.of("positions", inv.positions()), dtable, inv.used(), rows, d, vocab);
        return dtable.toF32Array();
    }
}
