package org.hsajava.model.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class ParameterLayoutTest {

    /** D=24, HQ=2 (hd=12), Hs=1, Hk=1, one encoder layer (Ie = int(24*8/3//64*64) = 64), tied embeddings. */
    static ModelConfig withEncoder() {
        HsaConfig h = new HsaConfig(1, 1, 1, 16, 2, ChunkWeightMode.STICK_BREAKING, false, 1, 16,
                true, true, false, false, false, false);
        return new ModelConfig(AttentionKind.HSA, 10, 24, 40, 2, 1, 12, 1, 8, 10000, 1e-6, 1e-5, 0.02,
                true, false, WeightDType.FLOAT32, 0, 64, h);
    }

    /** No encoder, two groups with no SWA layers, untied, and every optional tensor switched on. */
    static ModelConfig everyOption() {
        HsaConfig h = new HsaConfig(2, 2, 0, 16, 2, ChunkWeightMode.SOFTMAX, true, 0, 16,
                false, false, true, true, true, false);
        return new ModelConfig(AttentionKind.HSA, 10, 24, 40, 2, 2, 12, 0, 8, 10000, 1e-6, 1e-5, 0.05,
                false, true, WeightDType.FLOAT32, 0, 64, h);
    }

    static List<String> swaLayer(int i, String kv) {
        String p = "backbone.layers." + i + ".";
        return List.of(p + "self_attn.q_proj.weight 24,24", p + "self_attn.k_proj.weight " + kv,
                p + "self_attn.v_proj.weight " + kv, p + "self_attn.o_proj.weight 24,24",
                p + "self_attn.q_norm.weight 12", p + "self_attn.k_norm.weight 12",
                p + "mlp.gate_proj.weight 40,24", p + "mlp.up_proj.weight 40,24", p + "mlp.down_proj.weight 24,40",
                p + "input_layernorm.weight 24", p + "post_attention_layernorm.weight 24");
    }

    static List<String> described(ParameterLayout l) {
        List<String> out = new ArrayList<>();
        for (ParameterSpec s : l.specs()) {
            out.add(s.name() + " " + String.join(",", Arrays.stream(s.shape()).mapToObj(Integer::toString).toList()));
        }
        return out;
    }

    @Test
    void namesAndShapesMatchTheAuthorsStateDictWithEncoder() {
        List<String> want = new ArrayList<>();
        want.add("backbone.embeddings.weight 10,24");
        want.addAll(swaLayer(0, "12,24"));
        String c = "backbone.layers.1.", e = c + "encoder.layers.0.";
        want.addAll(List.of(c + "cls_emb 1,1,24",
                e + "self_attn.q_proj.weight 24,24", e + "self_attn.q_proj.bias 24",
                e + "self_attn.k_proj.weight 12,24", e + "self_attn.k_proj.bias 12",
                e + "self_attn.v_proj.weight 12,24", e + "self_attn.v_proj.bias 12",
                e + "self_attn.o_proj.weight 24,24",
                e + "self_attn.q_norm.weight 12", e + "self_attn.k_norm.weight 12",
                e + "mlp.gate_proj.weight 64,24", e + "mlp.up_proj.weight 64,24", e + "mlp.down_proj.weight 24,64",
                e + "input_layernorm.weight 24", e + "post_attention_layernorm.weight 24",
                c + "encoder.norm.weight 24",
                c + "proj_k.weight 12,24", c + "proj_v.weight 12,24", c + "lmk_ln.weight 16,24",
                "backbone.layers.2.pre_norm.weight 24", "backbone.layers.2.ln.weight 16,24",
                "backbone.layers.3.pre_norm.weight 24", "backbone.layers.3._mlp_norm.weight 24",
                "backbone.layers.3._mlp.gate_proj.weight 40,24", "backbone.layers.3._mlp.up_proj.weight 40,24",
                "backbone.layers.3._mlp.down_proj.weight 24,40",
                "backbone.layers.3.q_proj.weight 24,24", "backbone.layers.3.o_proj.weight 24,24"));
        want.addAll(swaLayer(4, "12,24"));
        want.add("backbone.norm_f.weight 24");
        ParameterLayout l = ParameterLayout.of(withEncoder());
        assertEquals(want, described(l));
        assertEquals(5, withEncoder().numAuthorsLayers());
    }

    @Test
    void everyOptionalTensorAppearsWhereTheAuthorsPutIt() {
        List<String> want = new ArrayList<>();
        want.add("backbone.embeddings.weight 10,24");
        String c = "backbone.layers.0.";
        want.addAll(List.of(c + "norm.weight 24", c + "enc_prenorm.weight 24", c + "proj_k.weight 24,24",
                c + "proj_v.weight 24,24", c + "k_rmsnorm.weight 12", c + "lmk_ln.weight 16,24"));
        for (int g = 0; g < 2; g++) {
            String r = "backbone.layers." + (1 + 2 * g) + ".", h = "backbone.layers." + (2 + 2 * g) + ".";
            want.addAll(List.of(r + "pre_norm.weight 24", r + "ln.weight 16,24", r + "lmk_q_norm.weight 8",
                    r + "lmk_k_norm.weight 8",
                    h + "pre_norm.weight 24", h + "swa_prenorm.weight 24",
                    h + "attn.q_proj.weight 24,24", h + "attn.q_proj.bias 24",
                    h + "attn.k_proj.weight 24,24", h + "attn.k_proj.bias 24",
                    h + "attn.v_proj.weight 24,24", h + "attn.v_proj.bias 24",
                    h + "attn.o_proj.weight 24,24", h + "attn.o_proj.bias 24",
                    h + "attn.q_norm.weight 12", h + "attn.k_norm.weight 12", h + "q_norm.weight 12",
                    h + "_mlp_norm.weight 24", h + "_mlp.gate_proj.weight 40,24", h + "_mlp.up_proj.weight 40,24",
                    h + "_mlp.down_proj.weight 24,40", h + "q_proj.weight 24,24", h + "o_proj.weight 24,24"));
        }
        want.add("backbone.norm_f.weight 24");
        want.add("lm_head.weight 10,24");
        assertEquals(want, described(ParameterLayout.of(everyOption())));
    }

    @Test
    void baselinesAreOnlySwaLayers() throws IOException {
        ModelConfig m = ConfigFile.read(Path.of("..", "configs", "tiny-swa.json")).model();
        ParameterLayout l = ParameterLayout.of(m);
        assertEquals(1 + 11 * m.numLowerLayers() + 1, l.specs().size());
        assertTrue(l.specs().stream().noneMatch(s -> s.name().contains("lmk_ln") || s.name().contains("cls_emb")));
    }

    static Stream<ModelConfig> allConfigs() throws IOException {
        List<ModelConfig> l = new ArrayList<>(List.of(withEncoder(), everyOption()));
        try (Stream<Path> s = Files.list(Path.of("..", "configs"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".json")).toList()) l.add(ConfigFile.read(p).model());
        }
        return l.stream();
    }

    @Test
    void tensorsAreAlignedDisjointAndInsideTheBuffer() throws IOException {
        for (ModelConfig m : allConfigs().toList()) {
            ParameterLayout l = ParameterLayout.of(m);
            long prevEnd = 0;
            for (ParameterSpec s : l.specs()) {
                assertEquals(0, s.offset() % ParameterLayout.ALIGN, s.toString());
                assertTrue(s.offset() >= prevEnd, "overlap at " + s);
                assertTrue(s.size() > 0, s.toString());
                prevEnd = s.end();
            }
            assertTrue(prevEnd <= l.totalSize());
            assertEquals(ParameterLayout.align(prevEnd), l.totalSize());
            assertEquals(l.specs().size(), l.specs().stream().map(ParameterSpec::name).distinct().count(), "duplicate names");
        }
    }

    @Test
    void initRulesFollowTheAuthors() {
        ParameterLayout l = ParameterLayout.of(everyOption());
        for (ParameterSpec s : l.specs()) {
            String n = s.name();
            InitRule want = n.endsWith(".bias") ? InitRule.ZEROS
                    : (n.contains("norm") || n.contains("layernorm")) ? InitRule.ONES : InitRule.NORMAL;
            assertEquals(want, s.init(), n);
            assertEquals(want == InitRule.NORMAL ? 0.05 : 0.0, s.std(), n);
            assertEquals(want == InitRule.NORMAL && !n.endsWith(".cls_emb"), s.weightDecay(), n);
        }
        assertEquals(InitRule.NORMAL, ParameterLayout.of(withEncoder()).get("backbone.layers.1.cls_emb").init());
        assertFalse(ParameterLayout.of(withEncoder()).get("backbone.layers.1.cls_emb").weightDecay(), "no weight decay on the CLS vector");
    }

    @Test
    void lookupAndTying() {
        ParameterLayout tied = ParameterLayout.of(withEncoder());
        assertFalse(tied.contains(ParameterLayout.LM_HEAD));
        assertSame(tied.get(ParameterLayout.EMBEDDINGS), tied.resolve(ParameterLayout.LM_HEAD));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tied.get("backbone.nope"));
        assertTrue(e.getMessage().contains("backbone.nope"));
        ParameterLayout untied = ParameterLayout.of(everyOption());
        assertEquals("lm_head.weight", untied.resolve(ParameterLayout.LM_HEAD).name());
        ParameterSpec emb = untied.get(ParameterLayout.EMBEDDINGS);
        assertEquals(0, emb.offset());
        assertEquals(240, emb.size());
        assertEquals(256, untied.specs().get(1).offset());
    }
}
