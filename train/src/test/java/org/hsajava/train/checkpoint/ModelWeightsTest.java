package org.hsajava.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.junit.jupiter.api.Test;

class ModelWeightsTest {

    static ParameterLayout layout() throws IOException {
        return ParameterLayout.of(CheckpointFixtures.smallConfig().model());
    }

    @Test
    void bf16WeightsLoadRoundedToBf16() throws IOException {
        ParameterLayout l = layout();
        float[] p = CheckpointFixtures.randomBuffer(l, new Random(3));
        byte[] file = ModelWeights.encode(l, p, SafeDType.BF16);
        float[] back = new float[p.length];
        ModelWeights.readInto(Safetensors.decode(file, "m.safetensors"), l, back);
        for (ParameterSpec s : l.specs()) {
            for (long i = s.offset(); i < s.end(); i++) {
                float want = SafeTensor.fromBf16(SafeTensor.toBf16(p[(int) i]));
                assertEquals(want, back[(int) i], s.name());
                assertEquals(p[(int) i], back[(int) i], Math.abs(p[(int) i]) / 128, s.name());
            }
        }
    }

    @Test
    void tiedLmHeadIsAcceptedOnlyAsTheEmbeddingAndOtherTensorsAreNot() throws IOException {
        ParameterLayout l = layout();
        assertTrue(l.config().tieWordEmbeddings());
        float[] p = CheckpointFixtures.randomBuffer(l, new Random(4));
        List<SafeTensor> tensors = new ArrayList<>(ModelWeights.tensors(l, p, SafeDType.F32));
        ParameterSpec emb = l.get(ParameterLayout.EMBEDDINGS);
        // PyTorch's state_dict of a tied model holds lm_head.weight too.
        tensors.add(SafeTensor.ofFloats(ParameterLayout.LM_HEAD, SafeDType.F32, ModelWeights.toLongs(emb.shape()), p, Math.toIntExact(emb.offset())));
        float[] back = new float[p.length];
        ModelWeights.readInto(Safetensors.decode(Safetensors.encode(tensors, null), "m"), l, back);

        // A head that is not the embedding would be silently replaced by it: refused.
        List<SafeTensor> untied = new ArrayList<>(tensors);
        float[] other = p.clone();
        other[Math.toIntExact(emb.offset()) + 5] += 0.5f;
        untied.set(untied.size() - 1, SafeTensor.ofFloats(ParameterLayout.LM_HEAD, SafeDType.F32, ModelWeights.toLongs(emb.shape()), other, Math.toIntExact(emb.offset())));
        SafetensorsFormatException d = assertThrows(SafetensorsFormatException.class,
                () -> ModelWeights.readInto(Safetensors.decode(Safetensors.encode(untied, null), "m"), l, back));
        assertTrue(d.getMessage().contains("differs from 'backbone.embeddings.weight' (first at element 5"), d.getMessage());

        tensors.add(SafeTensor.ofFloats("backbone.extra", SafeDType.F32, new long[] {1}, new float[] {1}));
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class,
                () -> ModelWeights.readInto(Safetensors.decode(Safetensors.encode(tensors, null), "m"), l, back));
        assertTrue(e.getMessage().contains("backbone.extra"), e.getMessage());
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        ParameterLayout l = layout();
        float[] p = new float[(int) l.totalSize()];
        List<SafeTensor> tensors = new ArrayList<>(ModelWeights.tensors(l, p, SafeDType.F32));
        SafeTensor removed = tensors.remove(3);
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class,
                () -> ModelWeights.readInto(Safetensors.decode(Safetensors.encode(tensors, null), "m"), l, p));
        assertTrue(e.getMessage().contains(removed.name()), e.getMessage());
    }
}
