package org.hsajava.model.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ConfigFileTest {
    static final Path CONFIGS = Path.of("..", "configs");
    static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Path> shippedConfigs() throws IOException {
        try (Stream<Path> s = Files.list(CONFIGS)) {
            List<Path> l = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
            assertEquals(6, l.size(), "expected the six shipped configs, found " + l);
            return l.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("shippedConfigs")
    void shippedConfigsLoadAndRoundTrip(Path file) throws IOException {
        ConfigFile c = ConfigFile.read(file);
        ConfigFile again = ConfigFile.parse(c.toPrettyString());
        assertEquals(c, again);
        assertEquals(c.model(), ModelConfig.fromJson(c.model().toJson()));
        assertEquals(c.train(), TrainConfig.fromJson(c.train().toJson()));
    }

    /** The window curriculum's stages: stage 2 starts from stage 1's weights, so their parameters must match. */
    @Test
    void curriculumStagesShareTheirParameters() throws IOException {
        ModelConfig one = ConfigFile.read(CONFIGS.resolve("tiny-passkey-stage1.json")).model();
        ModelConfig two = ConfigFile.read(CONFIGS.resolve("tiny-passkey-stage2.json")).model();
        List<ParameterSpec> a = ParameterLayout.of(one).specs(), b = ParameterLayout.of(two).specs();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).name(), b.get(i).name());
            assertArrayEquals(a.get(i).shape(), b.get(i).shape(), a.get(i).name());
            assertEquals(a.get(i).offset(), b.get(i).offset(), a.get(i).name());
        }
        // Stage 1: the window covers the whole row, so mask_slide_window leaves no chunk eligible (HSA off).
        int len = ConfigFile.read(CONFIGS.resolve("tiny-passkey-stage1.json")).train().seqLen();
        assertTrue(one.hsa().maskSlideWindow() && one.hsa().eligibilityLag(one.slidingWindow()) + one.hsa().chunkSize() >= len);
        assertTrue(two.slidingWindow() < len / 2, "stage 2's window must leave most needles to retrieval");
    }

    @Test
    void shippedConfigsHaveTheIntendedShapes() throws IOException {
        ConfigFile tiny = ConfigFile.read(CONFIGS.resolve("tiny-cpu.json"));
        HsaConfig h = tiny.model().hsa();
        int chunks = tiny.train().seqLen() / h.chunkSize();
        assertTrue(chunks >= 8 * h.chunkTopk(), "tiny-cpu must train with sparse selection, C=" + chunks);
        assertEquals(1, h.numKvHeads());

        ConfigFile gpu = ConfigFile.read(CONFIGS.resolve("small-gpu.json"));
        assertEquals(4096, gpu.train().seqLen());
        assertEquals(64, gpu.model().hsa().chunkSize());
        assertEquals(8, gpu.model().hsa().chunkTopk());
        long params = ParameterLayout.of(gpu.model()).parameterCount();
        assertTrue(params >= 20_000_000 && params <= 50_000_000, "small-gpu has " + params + " parameters");

        ConfigFile swa = ConfigFile.read(CONFIGS.resolve("tiny-swa.json"));
        ConfigFile full = ConfigFile.read(CONFIGS.resolve("tiny-full.json"));
        assertEquals(AttentionKind.SWA_ONLY, swa.model().attentionKind());
        assertEquals(AttentionKind.FULL_CAUSAL, full.model().attentionKind());
        assertNull(swa.model().hsa());
        assertEquals(swa.train(), full.train(), "the two baselines share one recipe");
        assertEquals(tiny.model().hiddenSize(), swa.model().hiddenSize());
        assertFalse(tiny.curriculum().isEmpty(), "tiny-cpu trains through a curriculum");
    }

    /** The tiny config as a mutable tree, to break one field at a time: tiny-cpu.json without its curriculum (the tests below that want one add their own). */
    static ObjectNode tiny() throws IOException {
        ObjectNode r = (ObjectNode) JSON.readTree(CONFIGS.resolve("tiny-cpu.json").toFile());
        r.remove("curriculum");
        return r;
    }

    /** tiny() with two stages: a short full-window one and a retrieval one. */
    static ObjectNode withCurriculum() throws IOException {
        ObjectNode r = tiny();
        r.set("curriculum", JSON.readTree("""
                [{"name": "copy", "sliding_window": 128, "mask_slide_window": true, "until_loss": 0.1,
                  "train": {"seq_len": 128, "batch_size": 32, "lr": 0.002}},
                 {"name": "retrieve", "sliding_window": 32, "mask_slide_window": true, "train": {"seq_len": 256, "steps": 50}}]
                """));
        return r;
    }

    static ConfigException rejects(ObjectNode root) {
        return assertThrows(ConfigException.class, () -> ConfigFile.fromJson(root));
    }

    static void assertMessage(ConfigException e, String field, String... parts) {
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().startsWith(field + ": "), e.getMessage());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' missing in: " + e.getMessage());
    }

    @Test
    void unknownFieldsAreRejectedByName() throws IOException {
        ObjectNode r = tiny();
        r.put("chunk_top_k", 4);
        assertMessage(rejects(r), "chunk_top_k", "unknown field", "chunk_topk");
        ObjectNode t = tiny();
        ((ObjectNode) t.get("train")).put("learning_rate", 1e-3);
        assertMessage(rejects(t), "train.learning_rate", "unknown field", "lr");
    }

    /** The authors' mask_slide_window: read, written back to their config.json, and refused with a window below S. */
    @Test
    void maskSlideWindowNeedsAWindowOfAtLeastOneChunk() throws IOException {
        ObjectNode r = tiny();
        r.put("sliding_window", 64).put("mask_slide_window", true);
        ModelConfig m = ConfigFile.fromJson(r).model();
        assertTrue(m.hsa().maskSlideWindow());
        assertEquals(64 - 16, m.hsa().eligibilityLag(m.slidingWindow()));
        r.put("mask_slide_window", false);
        assertEquals(0, ConfigFile.fromJson(r).model().hsa().eligibilityLag(64));
        r.put("mask_slide_window", true);
        ObjectNode theirs = m.toAuthorsConfigJson();
        assertTrue(theirs.get("mask_slide_window").booleanValue());
        assertEquals(m, ModelConfig.fromAuthorsConfigJson(theirs));
        theirs.put("slide_window", 64); // theirs: max(slide_window, sliding_window)
        assertEquals(m, ModelConfig.fromAuthorsConfigJson(theirs));
        theirs.put("slide_window", 128);
        ConfigException e = assertThrows(ConfigException.class, () -> ModelConfig.fromAuthorsConfigJson(theirs));
        assertMessage(e, "slide_window", "does not model");
        r.put("sliding_window", 8);
        assertMessage(rejects(r), "mask_slide_window", "needs sliding_window >= chunk_size (16), got 8");
    }

    @Test
    void chunkSizeMustBeOneOfTheSupported() throws IOException {
        ObjectNode r = tiny();
        r.put("chunk_size", 48);
        assertMessage(rejects(r), "chunk_size", "must be one of 16, 32, 64, 128, got 48");
    }

    @Test
    void headCountsMustDivide() throws IOException {
        ObjectNode r = tiny();
        r.put("num_key_value_heads", 3);
        assertMessage(rejects(r), "num_attention_heads", "4 is not divisible by num_key_value_heads 3");
        r = tiny();
        r.put("num_kv_heads", 3);
        r.put("retrieval_dim", 96);
        assertMessage(rejects(r), "num_attention_heads", "4 is not divisible by num_kv_heads 3");
        r = tiny();
        r.put("hidden_size", 130);
        assertMessage(rejects(r), "hidden_size", "130 is not divisible by num_attention_heads 4");
        r = tiny();
        r.put("head_dim", 16);
        assertMessage(rejects(r), "head_dim", "must equal hidden_size / num_attention_heads = 32", "got 16");
        r = tiny();
        r.put("num_upper_layers", 3);
        r.put("num_upper_groups", 2);
        assertMessage(rejects(r), "num_upper_layers", "3 is not divisible by num_upper_groups 2");
        r = tiny();
        r.put("retrieval_dim", 101);
        r.put("num_kv_heads", 2);
        assertMessage(rejects(r), "retrieval_dim", "101 is not divisible by num_kv_heads 2");
    }

    @Test
    void rangesAndTypesNameTheField() throws IOException {
        ObjectNode r = tiny();
        r.put("chunk_topk", 0);
        assertMessage(rejects(r), "chunk_topk", "must be in [1, 1024], got 0");
        r = tiny();
        r.put("vocab_size", "260");
        assertMessage(rejects(r), "vocab_size", "must be an integer");
        r = tiny();
        r.put("rope_theta", -1.0);
        assertMessage(rejects(r), "rope_theta", "got -1.0");
        r = tiny();
        r.put("rms_norm_eps", 0.0);
        assertMessage(rejects(r), "rms_norm_eps", "(0, 1)");
        r = tiny();
        r.put("enable_softmax", "yes");
        assertMessage(rejects(r), "enable_softmax", "true or false");
        r = tiny();
        r.remove("vocab_size");
        assertMessage(rejects(r), "vocab_size", "is required");
        r = tiny();
        r.put("pad_token_id", 260);
        assertMessage(rejects(r), "pad_token_id", "[0, 259]");
        r = tiny();
        r.put("encoder_layers", 1);
        r.put("hidden_size", 20);
        r.put("head_dim", 5);
        r.put("intermediate_size", 40);
        assertMessage(rejects(r), "hidden_size", "encoder_layers > 0");
    }

    @Test
    void choicesAreListed() throws IOException {
        ObjectNode r = tiny();
        r.put("attention_kind", "dense");
        assertMessage(rejects(r), "attention_kind", "hsa, swa_only, full_causal", "\"dense\"");
        r = tiny();
        r.put("torch_dtype", "bfloat16");
        assertMessage(rejects(r), "torch_dtype", "not supported yet", "float32");
        r = tiny();
        r.put("torch_dtype", "float64");
        assertMessage(rejects(r), "torch_dtype", "must be one of float32", "float64");
        r = tiny();
        ((ObjectNode) r.get("train")).put("loss_on", "prompt");
        assertMessage(rejects(r), "train.loss_on", "all, answers");
    }

    @Test
    void baselinesRefuseHsaFields() throws IOException {
        ObjectNode r = tiny();
        r.put("attention_kind", "swa_only");
        ConfigException e = rejects(r);
        assertTrue(List.of(HsaConfig.JSON_NAMES).contains(e.field()), e.getMessage());
        assertTrue(e.getMessage().contains("only allowed when attention_kind is hsa"), e.getMessage());
    }

    @Test
    void trainSectionIsValidated() throws IOException {
        String[][] cases = {
            {"lr", "0", "train.lr", "(0, 1]"},
            {"warmup_steps", "151", "train.warmup_steps", "[0, 150]"},
            {"betas", "[0.9]", "train.betas", "array of 2"},
            {"betas", "[0.9, 1.0]", "train.betas[1]", "[0, 1)"},
            {"seq_len", "1000", "train.seq_len", "not a multiple of chunk_size 16"},
            {"grad_accumulation", "0", "train.grad_accumulation", ">= 1"},
            {"task_mix", "{}", "train.task_mix", "at least one"},
            {"task_mix", "{\"passkey\": -1}", "train.task_mix.passkey", "got -1.0"},
            {"task_mix", "{\"passkey\": 0}", "train.task_mix", "at least one weight must be > 0"},
            {"task_mix", "{\"corpus\": 1}", "train.corpus", "is empty"},
            {"checkpoint_interval", "0", "train.checkpoint_interval", ">= 1"},
            {"tokenizer", "7", "train.tokenizer", "must be a string"},
            {"needle_depth", "[0.5, 0.2]", "train.needle_depth", "0 <= min <= max <= 1", "[0.5, 0.2]"},
            {"needle_depth", "[0, 1.5]", "train.needle_depth", "0 <= min <= max <= 1"},
            {"needle_depth", "[0.1]", "train.needle_depth", "array of 2"},
            {"matmul_precision", "\"fp16\"", "train.matmul_precision", "fp32", "tf32", "bf16"},
        };
        for (String[] c : cases) {
            ObjectNode r = tiny();
            ((ObjectNode) r.get("train")).set(c[0], JSON.readTree(c[1]));
            assertMessage(rejects(r), c[2], java.util.Arrays.copyOfRange(c, 3, c.length));
        }
        ObjectNode r = tiny();
        r.remove("train");
        assertMessage(rejects(r), "train", "JSON object");
    }

    @Test
    void needleDepthDefaultsToEveryDepthAndRoundTrips() throws IOException {
        assertEquals(TrainConfig.DepthRange.ALL, ConfigFile.fromJson(tiny()).train().needleDepth());
        ObjectNode r = tiny();
        ((ObjectNode) r.get("train")).set("needle_depth", JSON.readTree("[0, 0.4]"));
        TrainConfig t = ConfigFile.fromJson(r).train();
        assertEquals(new TrainConfig.DepthRange(0, 0.4), t.needleDepth());
        assertEquals(t, TrainConfig.fromJson(t.toJson()));
        assertFalse(ConfigFile.fromJson(tiny()).train().toJson().has("needle_depth"), "the default is not written");
    }

    @Test
    void answerJitterDefaultsToZeroRoundTripsAndIsBoundedBySeqLen() throws IOException {
        ObjectNode absent = tiny();
        ((ObjectNode) absent.get("train")).remove("answer_jitter");
        TrainConfig plain = ConfigFile.fromJson(absent).train();
        assertEquals(0, plain.answerJitter());
        assertFalse(plain.toJson().has("answer_jitter"), "the default is not written");
        ObjectNode r = tiny();
        ((ObjectNode) r.get("train")).put("answer_jitter", 15);
        TrainConfig t = ConfigFile.fromJson(r).train();
        assertEquals(15, t.answerJitter());
        assertEquals(t, TrainConfig.fromJson(t.toJson()));
        for (String bad : new String[] {"-1", "512", "2.5", "\"x\""}) {
            ObjectNode b = tiny();
            ((ObjectNode) b.get("train")).set("answer_jitter", JSON.readTree(bad));
            assertMessage(rejects(b), "train.answer_jitter");
        }
    }

    @Test
    void matmulPrecisionIsOptionalAndRoundTrips() throws IOException {
        TrainConfig plain = ConfigFile.fromJson(tiny()).train();
        assertEquals(null, plain.matmulPrecision(), "absent: the process's default");
        assertEquals(org.hsajava.kernels.Gemm.precision(), plain.effectiveMatmulPrecision());
        assertFalse(plain.toJson().has("matmul_precision"), "the default is not written");
        ObjectNode r = tiny();
        ((ObjectNode) r.get("train")).put("matmul_precision", "bf16");
        TrainConfig t = ConfigFile.fromJson(r).train();
        assertEquals(org.hsajava.kernels.Gemm.Precision.BF16, t.effectiveMatmulPrecision());
        assertEquals(t, TrainConfig.fromJson(t.toJson()));
    }

    @Test
    void malformedJsonAndDuplicateKeysAreErrors() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigFile.parse("{\"vocab_size\": 1,"));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> ConfigFile.parse("{\"vocab_size\": 1, \"vocab_size\": 2}"));
        assertTrue(e.getMessage().contains("vocab_size"), e.getMessage());
    }

    @Test
    void fileErrorsNameTheFile(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        ObjectNode r = tiny();
        r.put("chunk_size", 48);
        Path f = dir.resolve("bad.json");
        Files.writeString(f, r.toString());
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigFile.read(f));
        assertTrue(e.getMessage().startsWith("chunk_size: "), e.getMessage());
        assertTrue(e.getMessage().contains("bad.json"), e.getMessage());
    }

    @Test
    void defaultsFollowTheAuthors() throws IOException {
        ObjectNode r = tiny();
        for (String k : List.of("rope_theta", "rms_norm_eps", "layer_norm_epsilon", "initializer_range",
                "tie_word_embeddings", "enable_softmax", "enable_softmax1", "hsa_only", "reset_hsa_residual", "head_dim")) {
            r.remove(k);
        }
        ModelConfig m = ConfigFile.fromJson(r).model();
        assertEquals(10000.0, m.ropeTheta());
        assertEquals(1e-6, m.rmsNormEps());
        assertEquals(1e-5, m.layerNormEpsilon());
        assertEquals(0.02, m.initializerRange());
        assertTrue(m.tieWordEmbeddings());
        assertEquals(ChunkWeightMode.STICK_BREAKING, m.hsa().weightMode());
        assertFalse(m.hsa().softmaxOffByOne());
        assertTrue(m.hsa().hsaOnly());
        assertTrue(m.hsa().bypassResidual());
        assertEquals(32, m.headDim());
    }

    @Test
    void warningsFlagDenseSelectionAndShapesTheAuthorsCannotRun() throws IOException {
        ConfigFile tiny = ConfigFile.read(CONFIGS.resolve("tiny-cpu.json"));
        List<String> w = tiny.warnings();
        assertTrue(w.stream().anyMatch(s -> s.startsWith("chunk_size: 16")), w.toString());
        assertTrue(w.stream().anyMatch(s -> s.startsWith("num_kv_heads: 4 query heads")), w.toString());
        assertTrue(w.stream().noneMatch(s -> s.startsWith("train.seq_len")), w.toString());
        assertEquals(List.of(), ConfigFile.read(CONFIGS.resolve("small-gpu.json")).warnings());
        ObjectNode r = tiny();
        ((ObjectNode) r.get("train")).put("seq_len", 256);
        w = ConfigFile.fromJson(r).warnings();
        assertTrue(w.stream().anyMatch(s -> s.startsWith("train.seq_len: 16 chunks per sequence < 8 * chunk_topk = 32")), w.toString());
    }

    @Test
    void authorsConfigCarriesEveryFieldTheirModelReads() throws IOException {
        ModelConfig m = ConfigFile.read(CONFIGS.resolve("tiny-cpu.json")).model();
        ObjectNode a = m.toAuthorsConfigJson();
        for (String k : List.of("model_type", "architectures", "vocab_size", "hidden_size", "intermediate_size", "hidden_act",
                "num_attention_heads", "num_key_value_heads", "head_dim", "num_kv_heads", "num_lower_layers",
                "num_upper_layers", "num_upper_groups", "num_hidden_layers", "encoder_layers", "chunk_size", "chunk_topk",
                "retrieval_dim", "sliding_window", "rope_theta", "rope_scaling", "max_position_embeddings", "rms_norm_eps",
                "layer_norm_epsilon", "attention_bias", "attention_dropout", "initializer_range", "tie_word_embeddings",
                "pad_token_id", "bos_token_id", "eos_token_id", "lmk_token_id", "enable_softmax", "enable_softmax1",
                "enable_qk_norm", "hsa_only", "skip_hsa", "reset_hsa_residual", "singlehead_retrieval", "enable_enc_cls",
                "enc_prenorm", "enable_lmk_norm", "enable_pos_decay", "enable_gumbel_noise", "mask_slide_window",
                "encoder_dropout", "inference_segment", "flash_inference", "offloading_to_cpu", "use_cache", "torch_dtype")) {
            assertTrue(a.has(k), "authors' config lacks " + k);
        }
        assertEquals(2 + 1 + 1 * (2 + 2), a.get("num_hidden_layers").intValue());
        assertEquals(16, a.get("chunk_size").intValue());
        assertTrue(a.get("enable_enc_cls").booleanValue());
        ModelConfig full = ConfigFile.read(CONFIGS.resolve("tiny-full.json")).model();
        ObjectNode af = full.toAuthorsConfigJson();
        assertEquals(0, af.get("num_upper_groups").intValue());
        assertEquals(-1, af.get("sliding_window").intValue());
        assertEquals(5, af.get("num_hidden_layers").intValue());
    }

    @Test
    void curriculumStagesApplyTheirChangesToTheFile() throws IOException {
        ConfigFile c = ConfigFile.fromJson(withCurriculum());
        ConfigFile base = ConfigFile.fromJson(tiny());
        assertEquals(base.model(), c.model());
        assertEquals(base.train(), c.train());
        assertEquals(2, c.curriculum().size());
        CurriculumStage copy = c.curriculum().get(0), retrieve = c.curriculum().get(1);
        assertEquals("copy", copy.name());
        assertEquals(0.1, copy.untilLoss());
        assertNull(retrieve.untilLoss());
        assertEquals(128, copy.config().model().slidingWindow());
        assertTrue(copy.config().model().hsa().maskSlideWindow());
        assertEquals(128, copy.config().train().seqLen());
        assertEquals(32, copy.config().train().batchSize());
        assertEquals(0.002, copy.config().train().lr());
        assertEquals(base.train().steps(), copy.config().train().steps(), "fields a stage leaves alone come from the file");
        assertEquals(base.train().seed(), copy.config().train().seed());
        assertEquals(50, retrieve.config().train().steps());
        assertEquals(base.train().batchSize(), retrieve.config().train().batchSize());
        assertTrue(copy.config().curriculum().isEmpty());
        assertEquals(c, ConfigFile.parse(c.toPrettyString()), "a curriculum survives a round trip");
        assertEquals(base, c.withoutCurriculum());
    }

    @Test
    void curriculumErrorsNameTheStageAndField() throws IOException {
        ObjectNode r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(1).get("train")).put("lr", 2.0);
        assertMessage(rejects(r), "curriculum[1].train.lr", "must be");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(0)).put("chunk_top_k", 4);
        assertMessage(rejects(r), "curriculum[0].chunk_top_k", "unknown field");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(0)).put("intermediate_size", 256);
        assertMessage(rejects(r), "curriculum[0]", "changes the model's parameters", "sliding_window");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(0).get("train")).put("seq_len", 100);
        assertMessage(rejects(r), "curriculum[0].train.seq_len", "not a multiple of chunk_size");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(1)).remove("name");
        assertMessage(rejects(r), "curriculum[1].name", "is required");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(1)).put("name", "copy");
        assertMessage(rejects(r), "curriculum[1].name", "earlier stage");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(1)).put("name", "a/b");
        assertMessage(rejects(r), "curriculum[1].name", "[A-Za-z0-9_-]");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(0)).put("until_loss", -1);
        assertMessage(rejects(r), "curriculum[0].until_loss", "> 0");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(0)).put("description", "x");
        assertMessage(rejects(r), "curriculum[0].description", "not allowed");
        r = withCurriculum();
        r.putArray("curriculum");
        assertMessage(rejects(r), "curriculum", "non-empty array");
        r = withCurriculum();
        ((ObjectNode) r.get("curriculum").get(0)).put("train", 3);
        assertMessage(rejects(r), "curriculum[0].train", "must be an object");
    }
}
