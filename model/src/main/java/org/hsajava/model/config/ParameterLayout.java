package org.hsajava.model.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every parameter tensor of a model, named and shaped as in the authors' {@code DRTForCausalLM}
 * state dict (docs/authors-model.md §2, tables in their order, layers in {@code backbone.layers}
 * index order), each at an offset in ONE flat float buffer. Offsets are multiples of
 * {@link #ALIGN} elements (1 KiB of fp32) so OpenCL sub-buffers can view each tensor
 * (CL_DEVICE_MEM_BASE_ADDR_ALIGN is at most 1024 bits on the GPUs we target; 1 KiB leaves room).
 *
 * <p>With tied embeddings {@code lm_head.weight} is not a separate tensor: {@link #resolve} maps it
 * to {@code backbone.embeddings.weight}, and checkpoints store only the embedding (the authors'
 * loader re-ties it).
 */
public final class ParameterLayout {
    /** Alignment of every tensor's offset, in elements. */
    public static final int ALIGN = 256;

    public static final String EMBEDDINGS = "backbone.embeddings.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private final ModelConfig config;
    private final List<ParameterSpec> specs;
    private final Map<String, ParameterSpec> byName;
    private final long totalSize;

    private ParameterLayout(ModelConfig config, List<ParameterSpec> specs, long totalSize) {
        this.config = config;
        this.specs = Collections.unmodifiableList(specs);
        Map<String, ParameterSpec> m = new LinkedHashMap<>();
        for (ParameterSpec s : specs) m.put(s.name(), s);
        this.byName = Collections.unmodifiableMap(m);
        this.totalSize = totalSize;
    }

    public static ParameterLayout of(ModelConfig config) {
        Builder b = new Builder(config.initializerRange());
        int d = config.hiddenSize();
        b.normal(EMBEDDINGS, config.vocabSize(), d);
        int i = 0;
        for (int l = 0; l < config.numLowerLayers(); l++) swaLayer(b, config, "backbone.layers." + i++ + ".");
        HsaConfig h = config.hsa();
        if (h != null) {
            chunkingLayer(b, config, h, "backbone.layers." + i++ + ".");
            for (int g = 0; g < h.numUpperGroups(); g++) {
                retrievalLayer(b, config, h, "backbone.layers." + i++ + ".");
                hsaLayer(b, config, h, "backbone.layers." + i++ + ".");
                for (int m = 0; m < h.swaLayersPerGroup(); m++) swaLayer(b, config, "backbone.layers." + i++ + ".");
            }
        }
        b.ones("backbone.norm_f.weight", d);
        if (!config.tieWordEmbeddings()) b.normal(LM_HEAD, config.vocabSize(), d);
        return new ParameterLayout(config, b.specs, b.next);
    }

    /** SWA attention (q/k/v/o with optional biases, per-head q/k norms), shared by SWA layers and non-hsa_only HSA layers. */
    private static void swaAttention(Builder b, ModelConfig c, String p) {
        int d = c.hiddenSize(), hd = c.headDim(), q = c.numAttentionHeads() * hd, kv = c.numKeyValueHeads() * hd;
        b.linear(p + "q_proj", q, d, c.attentionBias());
        b.linear(p + "k_proj", kv, d, c.attentionBias());
        b.linear(p + "v_proj", kv, d, c.attentionBias());
        b.linear(p + "o_proj", d, q, c.attentionBias());
        b.ones(p + "q_norm.weight", hd);
        b.ones(p + "k_norm.weight", hd);
    }

    private static void swiglu(Builder b, String p, int d, int width) {
        b.normal(p + "gate_proj.weight", width, d);
        b.normal(p + "up_proj.weight", width, d);
        b.normal(p + "down_proj.weight", d, width);
    }

    private static void swaLayer(Builder b, ModelConfig c, String p) {
        swaAttention(b, c, p + "self_attn.");
        swiglu(b, p + "mlp.", c.hiddenSize(), c.intermediateSize());
        b.ones(p + "input_layernorm.weight", c.hiddenSize());
        b.ones(p + "post_attention_layernorm.weight", c.hiddenSize());
    }

    private static void chunkingLayer(Builder b, ModelConfig c, HsaConfig h, String p) {
        int d = c.hiddenSize(), hd = c.headDim();
        if (h.encoderLayers() > 0) {
            b.normal(p + "cls_emb", 1, 1, d);
            int q = c.numAttentionHeads() * hd, kv = c.numKeyValueHeads() * hd, ie = c.encoderIntermediateSize();
            for (int j = 0; j < h.encoderLayers(); j++) {
                String e = p + "encoder.layers." + j + ".";
                b.linear(e + "self_attn.q_proj", q, d, true);
                b.linear(e + "self_attn.k_proj", kv, d, true);
                b.linear(e + "self_attn.v_proj", kv, d, true);
                b.linear(e + "self_attn.o_proj", d, q, false);
                b.ones(e + "self_attn.q_norm.weight", hd);
                b.ones(e + "self_attn.k_norm.weight", hd);
                swiglu(b, e + "mlp.", d, ie);
                b.ones(e + "input_layernorm.weight", d);
                b.ones(e + "post_attention_layernorm.weight", d);
            }
            b.ones(p + "encoder.norm.weight", d);
        } else {
            b.ones(p + "norm.weight", d);
        }
        if (h.encPrenorm()) b.ones(p + "enc_prenorm.weight", d);
        b.normal(p + "proj_k.weight", h.numKvHeads() * hd, d);
        b.normal(p + "proj_v.weight", h.numKvHeads() * hd, d);
        if (h.qkNorm()) b.ones(p + "k_rmsnorm.weight", hd);
        b.normal(p + "lmk_ln.weight", h.retrievalDim(), d);
    }

    private static void retrievalLayer(Builder b, ModelConfig c, HsaConfig h, String p) {
        b.ones(p + "pre_norm.weight", c.hiddenSize());
        b.normal(p + "ln.weight", h.retrievalDim(), c.hiddenSize());
        if (h.lmkNorm()) {
            b.ones(p + "lmk_q_norm.weight", h.retrievalHeadDim());
            b.ones(p + "lmk_k_norm.weight", h.retrievalHeadDim());
        }
    }

    private static void hsaLayer(Builder b, ModelConfig c, HsaConfig h, String p) {
        int d = c.hiddenSize();
        b.ones(p + "pre_norm.weight", d);
        if (!h.hsaOnly()) {
            b.ones(p + "swa_prenorm.weight", d);
            swaAttention(b, c, p + "attn.");
        }
        if (h.qkNorm()) b.ones(p + "q_norm.weight", c.headDim());
        b.ones(p + "_mlp_norm.weight", d);
        swiglu(b, p + "_mlp.", d, c.intermediateSize());
        b.normal(p + "q_proj.weight", d, d);
        b.normal(p + "o_proj.weight", d, d);
    }

    /** Appends specs at aligned offsets. */
    private static final class Builder {
        final double std;
        final List<ParameterSpec> specs = new ArrayList<>();
        long next;

        Builder(double std) { this.std = std; }

        void add(String name, InitRule init, int... shape) {
            ParameterSpec s = new ParameterSpec(name, shape, next, init, init == InitRule.NORMAL ? std : 0);
            specs.add(s);
            next = align(s.end());
        }

        void normal(String name, int... shape) { add(name, InitRule.NORMAL, shape); }

        void ones(String name, int... shape) { add(name, InitRule.ONES, shape); }

        void linear(String prefix, int out, int in, boolean bias) {
            normal(prefix + ".weight", out, in);
            if (bias) add(prefix + ".bias", InitRule.ZEROS, out);
        }
    }

    /** Rounds up to the next multiple of {@link #ALIGN}. */
    public static long align(long n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

    public ModelConfig config() { return config; }

    /** Every parameter tensor in state-dict order. */
    public List<ParameterSpec> specs() { return specs; }

    /** Elements of the flat buffer (including alignment padding). */
    public long totalSize() { return totalSize; }

    /** Number of trainable scalars (excluding padding). */
    public long parameterCount() {
        long n = 0;
        for (ParameterSpec s : specs) n += s.size();
        return n;
    }

    /**
     * Where two layouts first differ: the tensor of each at that index (name and shape), or
     * "nothing" where one has no more tensors.
     */
    public record Difference(String theirs, String mine) {}

    /**
     * The first tensor where {@code other} ("theirs") differs from this layout ("mine") in name, shape
     * or place in the flat buffer; empty when weights can move between the two as one buffer
     * (curriculum stages, --init-from).
     */
    public java.util.Optional<Difference> firstDifference(ParameterLayout other) {
        List<ParameterSpec> mine = specs, theirs = other.specs;
        for (int i = 0; i < Math.max(mine.size(), theirs.size()); i++) {
            ParameterSpec a = i < mine.size() ? mine.get(i) : null, b = i < theirs.size() ? theirs.get(i) : null;
            if (a == null || b == null || !a.name().equals(b.name()) || !java.util.Arrays.equals(a.shape(), b.shape()) || a.offset() != b.offset()) {
                return java.util.Optional.of(new Difference(describe(b), describe(a)));
            }
        }
        return java.util.Optional.empty();
    }

    private static String describe(ParameterSpec s) {
        return s == null ? "nothing" : s.name() + " " + java.util.Arrays.toString(s.shape());
    }

    public boolean contains(String name) { return byName.containsKey(name); }

    /** The tensor stored under this name; throws naming the unknown key. */
    public ParameterSpec get(String name) {
        ParameterSpec s = byName.get(name);
        if (s == null) throw new IllegalArgumentException("no parameter named '" + name + "' in this model");
        return s;
    }

    /** Like {@link #get}, but also answers {@code lm_head.weight} of a tied model with the embedding. */
    public ParameterSpec resolve(String name) {
        if (LM_HEAD.equals(name) && config.tieWordEmbeddings()) return get(EMBEDDINGS);
        return get(name);
    }
}
