package org.hsajava.model.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code configs/*.json} file: the model fields at the top level (authors' names, so the file
 * reads like their config.json), a {@code "train"} section, an optional {@code "description"} and an
 * optional {@code "curriculum"}: stages trained before the file's own training ({@link CurriculumStage}).
 */
public record ConfigFile(String description, ModelConfig model, TrainConfig train, List<CurriculumStage> curriculum) {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    public ConfigFile {
        if (description == null) description = "";
        if (model == null) throw new ConfigException("(root)", "model fields missing");
        if (train == null) throw new ConfigException("train", "is required");
        curriculum = curriculum == null ? List.of() : List.copyOf(curriculum);
        if (model.hsa() != null && train.seqLen() % model.hsa().chunkSize() != 0) {
            throw new ConfigException("train.seq_len", train.seqLen() + " is not a multiple of chunk_size "
                    + model.hsa().chunkSize());
        }
    }

    /** A file without a curriculum. */
    public ConfigFile(String description, ModelConfig model, TrainConfig train) {
        this(description, model, train, List.of());
    }

    /** This file's model and training alone (its final stage), without the stages before it. */
    public ConfigFile withoutCurriculum() {
        return curriculum.isEmpty() ? this : new ConfigFile(description, model, train);
    }

    /** Reads and validates a config file; errors name the file and the field. */
    public static ConfigFile read(Path file) throws IOException {
        String text = Files.readString(file);
        try {
            return parse(text);
        } catch (ConfigException e) {
            throw new ConfigException(e.field(), e.problem() + " (in " + file + ")");
        }
    }

    public static ConfigFile parse(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ConfigException("(root)", "not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr()));
        }
        return fromJson(root);
    }

    public static ConfigFile fromJson(JsonNode root) {
        if (root == null || !root.isObject()) throw new ConfigException("(root)", "must be a JSON object");
        JsonNode d = root.get("description");
        if (d != null && !d.isTextual()) throw new ConfigException("description", "must be a string, got " + d);
        ModelConfig model = ModelConfig.fromJson(root);
        TrainConfig train = TrainConfig.fromJson(root.get("train"));
        return new ConfigFile(d == null ? "" : d.textValue(), model, train, CurriculumStage.readAll(root, model));
    }

    /**
     * Legal but questionable choices, one sentence each, naming the field: selection that is
     * nearly dense at the training length (the HSA papers need C_train >= 8K to extrapolate), and
     * shapes the authors' PyTorch/Triton code cannot run (their checkpoints still load there).
     */
    public List<String> warnings() {
        List<String> w = new ArrayList<>();
        HsaConfig h = model.hsa();
        if (h == null) return w;
        int chunks = train.seqLen() / h.chunkSize();
        if (chunks < 8 * h.chunkTopk()) {
            w.add("train.seq_len: " + chunks + " chunks per sequence < 8 * chunk_topk = " + 8 * h.chunkTopk()
                    + ": selection is nearly dense in training and may not extrapolate");
        }
        if (h.chunkSize() % 64 != 0) w.add("chunk_size: " + h.chunkSize() + " is not a multiple of 64, which the authors' code asserts");
        if (h.retrievalDim() % 64 != 0) w.add("retrieval_dim: " + h.retrievalDim() + " is not a multiple of 64, which the authors' code asserts");
        int g = model.numAttentionHeads() / h.numKvHeads();
        if (g < 16) w.add("num_kv_heads: " + g + " query heads per HSA KV head; the authors' Triton kernel needs at least 16");
        return w;
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (!description.isEmpty()) o.put("description", description);
        o.setAll(model.toJson());
        o.set("train", train.toJson());
        if (!curriculum.isEmpty()) {
            var stages = o.putArray("curriculum");
            curriculum.forEach(s -> stages.add(s.toJson(this)));
        }
        return o;
    }

    public String toPrettyString() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
