package org.hsajava.model.layers;

import org.hsajava.compute.Tensor;

/**
 * What a {@link RetrievalLayer} hands to the HSA layer of its group: per token and KV head, the
 * selected chunks and their weights, the gradient of those weights (which the HSA layer ADDS
 * into, and which the retrieval backward reads), and the inverted index (chunk → (token, slot))
 * that the per-chunk backward passes need.
 *
 * @param indices    int {@code [B, L, Hk, slots]}: chunk indices, most recent first; invalid slots hold 0
 * @param weights    {@code [B, L, Hk, slots]}: chunk weights; invalid slots hold 0
 * @param dweights   {@code [B, L, Hk, slots]}: ∂loss/∂weights, zeroed by the retrieval forward, accumulated by HSA backward
 * @param chunkStart int {@code [B·Hk·(C+1)]}: CSR offsets ({@link org.hsajava.kernels.HsaCsr} format)
 * @param entries    int {@code [B·Hk·L·slots]}: CSR entries {@code t·slots + k}
 * @param slots      K' = slots per token and KV head
 * @param chunks     C = complete chunks in the sequence, {@code floor(L / S)}
 */
public record ChunkSelection(Tensor indices, Tensor weights, Tensor dweights, Tensor chunkStart, Tensor entries, int slots, int chunks) {}
