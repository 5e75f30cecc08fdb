package org.hsajava.train.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.toy.BigramModel;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The toy model's loss and gradients (through the trainer, 2 micro-batches) against the bigram math in double precision. */
class BigramGradientTest {
    @TempDir Path dir;

    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    @ParameterizedTest
    @MethodSource("devices")
    void lossAndGradientsMatchTheDoubleReference(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(2, 7, 3, 2, ToyRuns.corpus(dir), 1000);
        ParameterLayout layout = ParameterLayout.of(BigramModel.config(ToyRuns.VOCAB, ToyRuns.DIM, 0.02));
        // The rows the trainer will see: the same source, drawn the same way.
        MixedBatchSource probe = new MixedBatchSource(t, org.hsajava.train.text.Tokenizers.create("byte"), t.seqLen(), null);
        int rows = t.batchSize() * t.seqLen(), micro = t.gradAccumulation();
        int[] ids = new int[micro * rows], tg = new int[micro * rows];
        int valid = 0;
        for (int i = 0; i < micro; i++) {
            int[] a = new int[rows], b = new int[rows];
            valid += probe.next(a, b, t.batchSize(), t.seqLen());
            System.arraycopy(a, 0, ids, i * rows, rows);
            System.arraycopy(b, 0, tg, i * rows, rows);
        }
        tg[3] = CrossEntropy.IGNORE_INDEX; // an ignored position too
        valid--;
        // The same ignore in the trainer's data: wrap the source.
        int[] count = {0};
        BatchSource data = new BatchSource() {
            final MixedBatchSource inner = new MixedBatchSource(t, org.hsajava.train.text.Tokenizers.create("byte"), t.seqLen(), null);
            @Override public int next(int[] in, int[] targets, int batch, int length) {
                int v = inner.next(in, targets, batch, length);
                if (count[0]++ == 0) { targets[3] = CrossEntropy.IGNORE_INDEX; v--; }
                return v;
            }
            @Override public com.fasterxml.jackson.databind.JsonNode position() { return inner.position(); }
            @Override public void restore(com.fasterxml.jackson.databind.JsonNode p) { inner.restore(p); }
        };
        BigramModel m = BigramModel.create(layout.config(), d, t.batchSize(), t.seqLen(), t.seed());
        float[] p = m.parameters().all().f32().clone();
        double loss;
        float[] g;
        try (Trainer tr = new Trainer(m, t, data, null)) {
            loss = tr.accumulateGradients();
            g = tr.gradients();
        }
        int v = ToyRuns.VOCAB, dim = ToyRuns.DIM;
        ParameterSpec es = layout.get(ParameterLayout.EMBEDDINGS), hs = layout.get(ParameterLayout.LM_HEAD);
        int eo = (int) es.offset(), ho = (int) hs.offset();
        double[] dE = new double[v * dim], dH = new double[v * dim];
        double sum = 0;
        for (int r = 0; r < ids.length; r++) {
            if (tg[r] == CrossEntropy.IGNORE_INDEX) continue;
            double[] z = new double[v];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                for (int c = 0; c < dim; c++) z[j] += (double) p[ho + j * dim + c] * p[eo + ids[r] * dim + c];
                max = Math.max(max, z[j]);
            }
            double se = 0;
            for (int j = 0; j < v; j++) se += Math.exp(z[j] - max);
            sum += max + Math.log(se) - z[tg[r]];
            for (int j = 0; j < v; j++) {
                double dz = (Math.exp(z[j] - max) / se - (j == tg[r] ? 1 : 0)) / valid;
                for (int c = 0; c < dim; c++) {
                    dH[j * dim + c] += dz * p[eo + ids[r] * dim + c];
                    dE[ids[r] * dim + c] += dz * p[ho + j * dim + c];
                }
            }
        }
        assertEquals(sum / valid, loss, 1e-5 * sum / valid, "mean loss");
        double max = 0;
        for (int i = 0; i < v * dim; i++) max = Math.max(max, Math.max(Math.abs(dE[i]), Math.abs(dH[i])));
        for (int i = 0; i < v * dim; i++) {
            assertEquals(dE[i], g[eo + i], 1e-4 * max, "dE[" + i + "]");
            assertEquals(dH[i], g[ho + i], 1e-4 * max, "dHead[" + i + "]");
        }
        for (ParameterSpec s : layout.specs()) {
            if (s == es || s == hs) continue;
            for (long i = s.offset(); i < s.end(); i++) assertEquals(0f, g[(int) i], s.name() + " is unused");
        }
    }
}
