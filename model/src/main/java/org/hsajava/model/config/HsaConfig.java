package org.hsajava.model.config;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The HSA part of a {@link ModelConfig}: chunk memory, retrieval and HSA layers. JSON names are the
 * authors' (docs/authors-model.md §1.2); they sit flat in the model section of the config file.
 *
 * @param numKvHeads      {@code num_kv_heads}: KV heads of the chunk memory = retrieval heads (Hk)
 * @param numUpperGroups  {@code num_upper_groups}: groups of [retrieval, HSA layer, M SWA layers]
 * @param numUpperLayers  {@code num_upper_layers}: SWA layers above the memory in total (M per group)
 * @param chunkSize       {@code chunk_size}: S tokens per chunk
 * @param chunkTopk       {@code chunk_topk}: K chunks retrieved per token and KV head
 * @param weightMode      {@code enable_softmax}: true = softmax, false = stick-breaking
 * @param softmaxOffByOne {@code enable_softmax1}: add 1 to each per-chunk softmax denominator
 * @param encoderLayers   {@code encoder_layers}: chunk-encoder depth; 0 = mean-pooled landmark, no CLS
 * @param retrievalDim    {@code retrieval_dim}: R, retrieval query/landmark size over all Hk heads
 * @param bypassResidual  {@code reset_hsa_residual} negated: true = HSA output reaches the stream only through the MLP
 * @param hsaOnly         {@code hsa_only}: true = the HSA layer has no SWA sublayer of its own
 * @param qkNorm          {@code enable_qk_norm}: per-head RMSNorm on HSA queries and memory keys
 * @param lmkNorm         {@code enable_lmk_norm}: per-head RMSNorm on retrieval queries and landmarks
 * @param encPrenorm      {@code enc_prenorm}: extra RMSNorm on the chunk-encoder input
 */
public record HsaConfig(
        int numKvHeads,
        int numUpperGroups,
        int numUpperLayers,
        int chunkSize,
        int chunkTopk,
        ChunkWeightMode weightMode,
        boolean softmaxOffByOne,
        int encoderLayers,
        int retrievalDim,
        boolean bypassResidual,
        boolean hsaOnly,
        boolean qkNorm,
        boolean lmkNorm,
        boolean encPrenorm,
        boolean maskSlideWindow) {

    /** Chunk sizes the kernels are built for (powers of two, one warp-friendly tile each). */
    public static final int[] CHUNK_SIZES = {16, 32, 64, 128};

    /** JSON names of every HSA field, so baseline configs can refuse them by name. */
    static final String[] JSON_NAMES = {
        "num_kv_heads", "num_upper_groups", "num_upper_layers", "chunk_size", "chunk_topk", "enable_softmax",
        "enable_softmax1", "encoder_layers", "retrieval_dim", "reset_hsa_residual", "hsa_only", "enable_qk_norm",
        "enable_lmk_norm", "enc_prenorm", "mask_slide_window"
    };

    public HsaConfig {
        if (weightMode == null) throw new ConfigException("enable_softmax", "weight mode must be given");
        check("num_kv_heads", numKvHeads, 1, 1024);
        check("num_upper_groups", numUpperGroups, 1, 1024);
        check("num_upper_layers", numUpperLayers, 0, 4096);
        boolean sizeOk = false;
        for (int s : CHUNK_SIZES) sizeOk |= s == chunkSize;
        if (!sizeOk) throw new ConfigException("chunk_size", "must be one of 16, 32, 64, 128, got " + chunkSize);
        check("chunk_topk", chunkTopk, 1, 1024);
        check("encoder_layers", encoderLayers, 0, 64);
        check("retrieval_dim", retrievalDim, 1, 1 << 20);
        if (numUpperLayers % numUpperGroups != 0) {
            throw new ConfigException("num_upper_layers", numUpperLayers + " is not divisible by num_upper_groups " + numUpperGroups);
        }
        if (retrievalDim % numKvHeads != 0) {
            throw new ConfigException("retrieval_dim", retrievalDim + " is not divisible by num_kv_heads " + numKvHeads);
        }
    }

    private static void check(String field, int v, int min, int max) {
        if (v < min || v > max) throw new ConfigException(field, "must be in [" + min + ", " + max + "], got " + v);
    }

    /** M: SWA layers after the HSA layer in each group. */
    public int swaLayersPerGroup() { return numUpperLayers / numUpperGroups; }

    /** Retrieval dimension per retrieval head (R / Hk), the score scale is 1/sqrt of it. */
    public int retrievalHeadDim() { return retrievalDim / numKvHeads; }

    /** Whether chunks get a learned CLS token whose encoding becomes the landmark. */
    public boolean encoderCls() { return encoderLayers > 0; }

    static HsaConfig read(JsonFields f) {
        return new HsaConfig(
                f.intIn("num_kv_heads", 1, 1024),
                f.intIn("num_upper_groups", 1, 1024),
                f.intIn("num_upper_layers", 0, 4096),
                f.oneOfInts("chunk_size", CHUNK_SIZES),
                f.intIn("chunk_topk", 1, 1024),
                f.bool("enable_softmax", false) ? ChunkWeightMode.SOFTMAX : ChunkWeightMode.STICK_BREAKING,
                f.bool("enable_softmax1", false),
                f.intIn("encoder_layers", 0, 64),
                f.intIn("retrieval_dim", 1, 1 << 20),
                !f.bool("reset_hsa_residual", false),
                f.bool("hsa_only", true),
                f.bool("enable_qk_norm", false),
                f.bool("enable_lmk_norm", false),
                f.bool("enc_prenorm", false),
                f.bool("mask_slide_window", false));
    }

    void write(ObjectNode o) {
        o.put("num_kv_heads", numKvHeads);
        o.put("num_upper_groups", numUpperGroups);
        o.put("num_upper_layers", numUpperLayers);
        o.put("chunk_size", chunkSize);
        o.put("chunk_topk", chunkTopk);
        o.put("enable_softmax", weightMode == ChunkWeightMode.SOFTMAX);
        o.put("enable_softmax1", softmaxOffByOne);
        o.put("encoder_layers", encoderLayers);
        o.put("retrieval_dim", retrievalDim);
        o.put("reset_hsa_residual", !bypassResidual);
        o.put("hsa_only", hsaOnly);
        o.put("enable_qk_norm", qkNorm);
        o.put("enable_lmk_norm", lmkNorm);
        o.put("enc_prenorm", encPrenorm);
        o.put("mask_slide_window", maskSlideWindow);
    }

    /**
     * How many tokens a chunk must lie behind the query, beyond being wholly in the past, to be
     * eligible: 0, or with {@code mask_slide_window} the authors' {@code W − S}, so that chunk c is
     * eligible for position t iff {@code c·S ≤ t − W} (only chunks wholly outside the sliding window,
     * which the local attention already covers). The selection kernels take it as a shift of the
     * position: they are called with {@code t0 − lag}.
     */
    public int eligibilityLag(int slidingWindow) { return maskSlideWindow ? slidingWindow - chunkSize : 0; }
}
