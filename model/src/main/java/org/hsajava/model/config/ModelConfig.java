package org.hsajava.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The model's shape and numerics. JSON field names are the authors' {@code config.json} names
 * (docs/authors-model.md §1.2) wherever they have one; ours are {@code attention_kind}.
 * The HSA fields are grouped in {@link HsaConfig}, which is {@code null} for the baselines.
 *
 * @param attentionKind       {@code attention_kind}: hsa | swa_only | full_causal (default hsa)
 * @param vocabSize           {@code vocab_size}
 * @param hiddenSize          {@code hidden_size}: D
 * @param intermediateSize    {@code intermediate_size}: SwiGLU width of SWA layers and the HSA bypass MLP
 * @param numAttentionHeads   {@code num_attention_heads}: HQ (SWA, encoder and HSA query heads)
 * @param numKeyValueHeads    {@code num_key_value_heads}: Hs, KV heads of SWA layers and the chunk encoder
 * @param headDim             {@code head_dim}: must equal D / HQ (the authors' HSA code assumes it)
 * @param numLowerLayers      {@code num_lower_layers}: SWA layers below the memory (all layers for baselines)
 * @param slidingWindow       {@code sliding_window}: W; query t sees keys t-W..t (unused by full_causal)
 * @param ropeTheta           {@code rope_theta}: RoPE base of the decoder SWA layers
 * @param rmsNormEps          {@code rms_norm_eps}: eps of SWA-layer norms
 * @param layerNormEpsilon    {@code layer_norm_epsilon}: eps of the final norm only
 * @param initializerRange    {@code initializer_range}: std of every normal init
 * @param tieWordEmbeddings   {@code tie_word_embeddings}: LM head shares the embedding matrix
 * @param attentionBias       {@code attention_bias}: biases on SWA q/k/v/o projections
 * @param dtype               {@code torch_dtype}: weight/activation type (float32 for now)
 * @param padTokenId          {@code pad_token_id}: replaces negative input ids
 * @param maxPositionEmbeddings {@code max_position_embeddings}: only exported for the authors' RoPE module
 * @param hsa                 the HSA fields; non-null exactly when attentionKind is HSA
 */
public record ModelConfig(
        AttentionKind attentionKind,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int numLowerLayers,
        int slidingWindow,
        double ropeTheta,
        double rmsNormEps,
        double layerNormEpsilon,
        double initializerRange,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        WeightDType dtype,
        int padTokenId,
        int maxPositionEmbeddings,
        HsaConfig hsa) {

    public ModelConfig {
        if (attentionKind == null) throw new ConfigException("attention_kind", "must be given");
        if (dtype == null) throw new ConfigException("torch_dtype", "must be given");
        if (!dtype.supported()) throw new ConfigException("torch_dtype", "\"" + dtype.jsonName() + "\" is not supported yet");
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        positive("head_dim", headDim);
        positive("sliding_window", slidingWindow);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numLowerLayers < (attentionKind == AttentionKind.HSA ? 0 : 1)) {
            throw new ConfigException("num_lower_layers", "must be >= " + (attentionKind == AttentionKind.HSA ? 0 : 1)
                    + ", got " + numLowerLayers);
        }
        if (padTokenId < 0 || padTokenId >= vocabSize) {
            throw new ConfigException("pad_token_id", "must be in [0, " + (vocabSize - 1) + "], got " + padTokenId);
        }
        JsonFields.checkNumber("rope_theta", ropeTheta, 0, true, Double.POSITIVE_INFINITY, true);
        JsonFields.checkNumber("rms_norm_eps", rmsNormEps, 0, true, 1, true);
        JsonFields.checkNumber("layer_norm_epsilon", layerNormEpsilon, 0, true, 1, true);
        JsonFields.checkNumber("initializer_range", initializerRange, 0, true, 1, false);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new ConfigException("hidden_size", hiddenSize + " is not divisible by num_attention_heads " + numAttentionHeads);
        }
        if (headDim != hiddenSize / numAttentionHeads) {
            throw new ConfigException("head_dim", "must equal hidden_size / num_attention_heads = "
                    + hiddenSize / numAttentionHeads + " (the authors' HSA layers assume it), got " + headDim);
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new ConfigException("num_attention_heads", numAttentionHeads + " is not divisible by num_key_value_heads " + numKeyValueHeads);
        }
        if ((attentionKind == AttentionKind.HSA) != (hsa != null)) {
            throw new ConfigException("attention_kind", "HSA settings must be present exactly when attention_kind is hsa");
        }
        if (hsa != null) {
            if (numAttentionHeads % hsa.numKvHeads() != 0) {
                throw new ConfigException("num_attention_heads", numAttentionHeads + " is not divisible by num_kv_heads " + hsa.numKvHeads());
            }
            if (hsa.maskSlideWindow() && slidingWindow < hsa.chunkSize()) {
                throw new ConfigException("mask_slide_window", "needs sliding_window >= chunk_size (" + hsa.chunkSize() + "), got " + slidingWindow
                        + ": with a smaller window the rule c*S <= t - W would make chunks that end after t eligible");
            }
            if (hsa.encoderLayers() > 0 && encoderIntermediateSize(hiddenSize) == 0) {
                throw new ConfigException("hidden_size", "must be >= 24 when encoder_layers > 0 (the encoder MLP width "
                        + "int(D*8/3 // 64 * 64) would be 0), got " + hiddenSize);
            }
        }
    }

    private static void positive(String field, int v) {
        if (v < 1) throw new ConfigException(field, "must be >= 1, got " + v);
    }

    /** The authors' chunk-encoder MLP width, {@code int((D*8/3)//64*64)}; intermediate_size is not used there. */
    public static int encoderIntermediateSize(int hiddenSize) {
        return (int) (Math.floor(hiddenSize * 8.0 / 3.0 / 64.0) * 64);
    }

    public int encoderIntermediateSize() { return encoderIntermediateSize(hiddenSize); }

    public boolean hasHsa() { return hsa != null; }

    /** Total SWA decoder layers (lower + upper). */
    public int numSwaLayers() { return numLowerLayers + (hsa == null ? 0 : hsa.numUpperLayers()); }

    /** Entries of the authors' flat {@code backbone.layers} list: lower, chunking, per group retrieval+HSA+M SWA. */
    public int numAuthorsLayers() {
        return hsa == null ? numLowerLayers : numLowerLayers + 1 + hsa.numUpperGroups() * (hsa.swaLayersPerGroup() + 2);
    }

    /** Our model fields, by their JSON (= the authors') names. */
    private static final String[] MODEL_JSON_NAMES = {"vocab_size", "hidden_size", "intermediate_size", "num_attention_heads",
            "num_key_value_heads", "head_dim", "num_lower_layers", "sliding_window", "rope_theta", "rms_norm_eps",
            "layer_norm_epsilon", "initializer_range", "tie_word_embeddings", "attention_bias", "torch_dtype",
            "pad_token_id", "max_position_embeddings"};

    /**
     * Reads the authors' {@code config.json} (as {@link #toAuthorsConfigJson} writes it, or as their
     * training writes it). The attention kind follows from it: {@code num_upper_groups > 0} is HSA,
     * otherwise {@code sliding_window = -1} is full causal attention and any other window SWA only.
     * Options of theirs that we do not model are accepted only at their neutral values (an error
     * names the field otherwise); Hugging Face bookkeeping fields are ignored.
     */
    public static ModelConfig fromAuthorsConfigJson(JsonNode authors) {
        if (authors == null || !authors.isObject()) throw new ConfigException("config.json", "must be a JSON object");
        requireNeutral(authors, "rope_scaling", n -> n.isNull());
        requireNeutral(authors, "partial_rotary_factor", n -> n.asDouble() == 1.0);
        requireNeutral(authors, "slide_window", n -> n.asInt() <= authors.path("sliding_window").asInt(0)); // they use max(slide_window, sliding_window)
        requireNeutral(authors, "hidden_act", n -> n.asText().equals("silu") || n.asText().equals("swish"));
        for (String flag : new String[] {"singlehead_retrieval", "enable_pos_decay", "skip_hsa"}) {
            requireNeutral(authors, flag, n -> !n.asBoolean());
        }
        if (authors.path("encoder_layers").asInt(0) > 0 && authors.has("enable_enc_cls") && !authors.get("enable_enc_cls").asBoolean()) {
            throw new ConfigException("enable_enc_cls", "is false with an encoder; HSA-Java's chunk encoder always has the CLS landmark");
        }
        ObjectNode ours = JsonNodeFactory.instance.objectNode();
        boolean hsa = authors.path("num_upper_groups").asInt(0) > 0;
        int window = authors.path("sliding_window").asInt(1);
        AttentionKind kind = hsa ? AttentionKind.HSA : window < 0 ? AttentionKind.FULL_CAUSAL : AttentionKind.SWA_ONLY;
        ours.put("attention_kind", kind.jsonName());
        for (String name : MODEL_JSON_NAMES) if (authors.has(name)) ours.set(name, authors.get(name));
        if (kind == AttentionKind.FULL_CAUSAL) ours.put("sliding_window", authors.path("max_position_embeddings").asInt(4096));
        if (hsa) for (String name : HsaConfig.JSON_NAMES) if (authors.has(name)) ours.set(name, authors.get(name));
        return fromJson(ours);
    }

    private static void requireNeutral(JsonNode authors, String field, java.util.function.Predicate<JsonNode> neutral) {
        if (authors.has(field) && !neutral.test(authors.get(field))) {
            throw new ConfigException(field, "is " + authors.get(field) + "; HSA-Java does not model this option (only its default)");
        }
    }

    /** Reads the model section (the top level of a config file, minus {@code train}/{@code description}/{@code curriculum}). */
    public static ModelConfig fromJson(JsonNode node) {
        JsonFields f = new JsonFields(node, "");
        f.allow("train");
        f.allow("description");
        f.allow("curriculum");
        ModelConfig c = read(f);
        f.rejectUnknown();
        return c;
    }

    static ModelConfig read(JsonFields f) {
        AttentionKind kind = AttentionKind.ofJson(f.choice("attention_kind", AttentionKind.jsonNames(), "hsa"));
        int vocab = f.intIn("vocab_size", 1, Integer.MAX_VALUE);
        int d = f.intIn("hidden_size", 1, 1 << 20);
        int heads = f.intIn("num_attention_heads", 1, 4096);
        HsaConfig hsa = null;
        if (kind == AttentionKind.HSA) {
            hsa = HsaConfig.read(f);
        } else {
            for (String name : HsaConfig.JSON_NAMES) {
                if (f.has(name)) {
                    throw new ConfigException(name, "only allowed when attention_kind is hsa (this model is " + kind.jsonName() + ")");
                }
            }
        }
        return new ModelConfig(kind, vocab, d,
                f.intIn("intermediate_size", 1, 1 << 24),
                heads,
                f.intIn("num_key_value_heads", 1, 4096),
                f.intIn("head_dim", 1, 1 << 16, d % heads == 0 ? d / heads : 1),
                f.intIn("num_lower_layers", 0, 4096),
                f.intIn("sliding_window", 1, Integer.MAX_VALUE),
                f.number("rope_theta", 0, true, Double.POSITIVE_INFINITY, true, 10000.0),
                f.number("rms_norm_eps", 0, true, 1, true, 1e-6),
                f.number("layer_norm_epsilon", 0, true, 1, true, 1e-5),
                f.number("initializer_range", 0, true, 1, false, 0.02),
                f.bool("tie_word_embeddings", true),
                f.bool("attention_bias", false),
                WeightDType.parse("torch_dtype", f.text("torch_dtype", "float32")),
                f.intIn("pad_token_id", 0, Integer.MAX_VALUE, 0),
                f.intIn("max_position_embeddings", 1, Integer.MAX_VALUE, 4096),
                hsa);
    }

    /** Our own JSON form, every field explicit; {@link #fromJson} of it gives an equal record. */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("attention_kind", attentionKind.jsonName());
        o.put("vocab_size", vocabSize);
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_attention_heads", numAttentionHeads);
        o.put("num_key_value_heads", numKeyValueHeads);
        o.put("head_dim", headDim);
        o.put("num_lower_layers", numLowerLayers);
        o.put("sliding_window", slidingWindow);
        o.put("rope_theta", ropeTheta);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("layer_norm_epsilon", layerNormEpsilon);
        o.put("initializer_range", initializerRange);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("attention_bias", attentionBias);
        o.put("torch_dtype", dtype.jsonName());
        o.put("pad_token_id", padTokenId);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        if (hsa != null) hsa.write(o);
        return o;
    }

    /**
     * A {@code config.json} for the authors' {@code DRTForCausalLM} (docs/authors-model.md §4): every
     * key their code reads, ours copied under the same names, theirs that we do not model at the
     * values that match our computation. Baselines become {@code num_upper_groups = 0} (no chunk
     * memory), and full causal attention becomes {@code sliding_window = -1} (FlashAttention's
     * "unlimited" window).
     */
    public ObjectNode toAuthorsConfigJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("model_type", "llama");
        o.putArray("architectures").add("DRTForCausalLM");
        o.put("vocab_size", vocabSize);
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("hidden_act", "silu");
        o.put("num_attention_heads", numAttentionHeads);
        o.put("num_key_value_heads", numKeyValueHeads);
        o.put("head_dim", headDim);
        o.put("num_lower_layers", numLowerLayers);
        o.put("num_hidden_layers", numAuthorsLayers());
        if (hsa != null) {
            hsa.write(o);
        } else {
            // No chunk memory: the authors' DRTModel builds only the lower SWA layers when num_upper_groups == 0.
            new HsaConfig(1, 1, 0, 64, 8, ChunkWeightMode.STICK_BREAKING, false, 0, 64, true, true, false, false, false, false).write(o);
            o.put("num_upper_groups", 0);
        }
        o.put("enable_enc_cls", hsa != null && hsa.encoderCls());
        o.put("sliding_window", attentionKind == AttentionKind.FULL_CAUSAL ? -1 : slidingWindow);
        o.put("rope_theta", ropeTheta);
        o.putNull("rope_scaling");
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("layer_norm_epsilon", layerNormEpsilon);
        o.put("attention_bias", attentionBias);
        o.put("attention_dropout", 0.0);
        o.put("initializer_range", initializerRange);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("pad_token_id", padTokenId);
        o.put("bos_token_id", padTokenId);
        o.put("eos_token_id", padTokenId);
        o.put("lmk_token_id", vocabSize - 1); // stored only by their code (landmark tokens are dead code)
        o.put("skip_hsa", false);
        o.put("singlehead_retrieval", false);
        o.put("enable_pos_decay", false);
        o.put("enable_gumbel_noise", false);
        o.put("encoder_dropout", 0.0);
        o.put("inference_segment", -1);
        o.put("flash_inference", false);
        o.put("offloading_to_cpu", false);
        o.put("use_cache", false);
        o.put("torch_dtype", dtype.jsonName());
        return o;
    }

    /** Parses one model section from JSON text (for tests and tools). */
    public static ModelConfig parse(String json) {
        try {
            return fromJson(new ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION).readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException("(root)", "not valid JSON: " + e.getOriginalMessage());
        }
    }
}
