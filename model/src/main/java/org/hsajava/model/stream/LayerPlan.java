package org.hsajava.model.stream;

import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;

/**
 * Where each layer of the authors' {@code backbone.layers} list sits (docs/authors-model.md §2.1),
 * and how far back each part of the network sees: the receptive fields that make streaming exact.
 * <pre>
 *   0 .. lower-1                  SWA layers below the memory (all layers of an swa_only model)
 *   lower                         the chunk memory (ChunkingLayer)
 *   per group g, b = lower+1+g·(M+2):  b retrieval, b+1 HSA layer, b+2 .. b+1+M SWA layers
 * </pre>
 * An SWA layer's output at position t depends on its input at t-W .. t; retrieval and HSA layers
 * are per token (the memory is fixed once built), and the memory holds only chunks wholly in a
 * token's past. So the lower stack's output at t is exact given its input from t - lower·W, and the
 * upper stack's output at t given its input from t - upperSwa·W.
 */
record LayerPlan(ModelConfig config, int lower, int groups, int perGroup, int window) {

    static LayerPlan of(ModelConfig c) {
        if (c.attentionKind() == AttentionKind.FULL_CAUSAL) {
            throw new IllegalArgumentException("streaming needs local attention: a full_causal model's every token sees the whole context");
        }
        HsaConfig h = c.hsa();
        return h == null ? new LayerPlan(c, c.numSwaLayers(), 0, 0, c.slidingWindow())
                : new LayerPlan(c, c.numLowerLayers(), h.numUpperGroups(), h.swaLayersPerGroup(), c.slidingWindow());
    }

    boolean hasMemory() { return config.hsa() != null; }

    int retrievalIndex(int group) { return lower + 1 + group * (perGroup + 2); }

    int hsaIndex(int group) { return retrievalIndex(group) + 1; }

    int upperSwaIndex(int group, int m) { return retrievalIndex(group) + 2 + m; }

    int[] retrievalIndices() {
        int[] r = new int[groups];
        for (int g = 0; g < groups; g++) r[g] = retrievalIndex(g);
        return r;
    }

    /** Tokens of context the lower stack needs before a position: lower·W. */
    long lowerContext() { return (long) lower * window; }

    /** Tokens of context the upper stack needs before a position: (SWA layers above the memory)·W. */
    long upperContext() { return (long) groups * perGroup * window; }
}
