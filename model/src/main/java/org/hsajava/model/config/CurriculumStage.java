package org.hsajava.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One stage of a config file's {@code "curriculum"}: training that runs before the file's own, each
 * stage starting from the previous stage's weights with fresh optimizer state (the last stage hands
 * its weights to the file's own training, which is the final stage).
 *
 * <p>A stage is written as the changes it makes to the file: model fields at its top level (only
 * those that leave the parameters alone, e.g. {@code sliding_window}), a partial {@code "train"}
 * section, a {@code "name"} and an optional {@code "until_loss"} (the stage ends early once the mean
 * training loss of its last 50 steps is below it). Why stages: a long-range copy is learnt far
 * faster in short rows with a full window, and retrieval far faster once the copy exists
 * (docs/experiments.md, 2026-12-05).
 *
 * @param name      a short name ({@code [A-Za-z0-9_-]}, unique in the file): the stage's run folder
 * @param config    the file with the stage's changes applied (its own curriculum empty)
 * @param untilLoss {@code until_loss}, or null to run all of the stage's steps
 */
public record CurriculumStage(String name, ConfigFile config, Double untilLoss) {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,40}");

    public CurriculumStage {
        if (name == null || !NAME.matcher(name).matches()) throw new ConfigException("curriculum.name", "must match [A-Za-z0-9_-]{1,40}, got " + name);
        if (!config.curriculum().isEmpty()) throw new ConfigException("curriculum", "a stage cannot have a curriculum of its own");
        if (untilLoss != null && !(untilLoss > 0 && Double.isFinite(untilLoss))) {
            throw new ConfigException("curriculum.until_loss", "must be a finite number > 0, got " + untilLoss);
        }
    }

    /**
     * The stages of {@code root}'s {@code "curriculum"} array (empty when absent), each checked as a
     * whole config and against {@code model}: errors name the stage, e.g. {@code curriculum[1].train.lr}.
     */
    static List<CurriculumStage> readAll(JsonNode root, ModelConfig model) {
        JsonNode list = root.get("curriculum");
        if (list == null || list.isNull()) return List.of();
        if (!list.isArray() || list.isEmpty()) throw new ConfigException("curriculum", "must be a non-empty array of stages, got " + list);
        List<CurriculumStage> stages = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = "curriculum[" + i + "]";
            CurriculumStage s = read(root, list.get(i), at);
            requireSameParameters(model, s.config().model(), at);
            for (CurriculumStage earlier : stages) {
                if (earlier.name().equals(s.name())) throw new ConfigException(at + ".name", "'" + s.name() + "' is used by an earlier stage");
            }
            stages.add(s);
        }
        return List.copyOf(stages);
    }

    private static CurriculumStage read(JsonNode root, JsonNode stage, String at) {
        if (stage == null || !stage.isObject()) throw new ConfigException(at, "must be an object, got " + stage);
        ObjectNode merged = root.deepCopy();
        merged.remove("curriculum");
        merged.remove("description");
        ObjectNode train = merged.get("train") instanceof ObjectNode t ? t : merged.putObject("train");
        String name = null;
        Double untilLoss = null;
        for (Map.Entry<String, JsonNode> e : stage.properties()) {
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "name" -> {
                    if (!v.isTextual()) throw new ConfigException(at + ".name", "must be a string, got " + v);
                    name = v.textValue();
                }
                case "until_loss" -> {
                    if (!v.isNumber()) throw new ConfigException(at + ".until_loss", "must be a number, got " + v);
                    untilLoss = v.doubleValue();
                }
                case "train" -> {
                    if (!v.isObject()) throw new ConfigException(at + ".train", "must be an object of train fields to change, got " + v);
                    v.properties().forEach(f -> train.set(f.getKey(), f.getValue()));
                }
                case "description", "curriculum" -> throw new ConfigException(at + "." + e.getKey(), "is not allowed in a stage");
                default -> merged.set(e.getKey(), v);  // a model field; ModelConfig rejects unknown names
            }
        }
        if (name == null) throw new ConfigException(at + ".name", "is required");
        try {
            return new CurriculumStage(name, ConfigFile.fromJson(merged), untilLoss);
        } catch (ConfigException e) {
            // the stage record's own checks name "curriculum.<field>"; inside a stage that is at + ".<field>"
            String field = e.field().startsWith("curriculum.") ? e.field().substring("curriculum.".length()) : e.field();
            throw new ConfigException(at + "." + field, e.problem());
        }
    }

    /** Stages hand weights on, so every stage's model must have the file's parameters, name for name and shape for shape. */
    private static void requireSameParameters(ModelConfig base, ModelConfig stage, String at) {
        ParameterLayout.of(base).firstDifference(ParameterLayout.of(stage)).ifPresent(d -> {
            throw new ConfigException(at, "changes the model's parameters (" + d.theirs() + " in the stage, " + d.mine()
                    + " in the file); a stage may change only settings that leave them alone, such as sliding_window");
        });
    }

    /** The stage as written in a config file: its name, until_loss, and every field where it differs from {@code file}. */
    ObjectNode toJson(ConfigFile file) {
        ObjectNode base = file.withoutCurriculum().toJson(), mine = config.toJson();
        ObjectNode o = mine.objectNode();
        o.put("name", name);
        if (untilLoss != null) o.put("until_loss", untilLoss);
        mine.properties().forEach(e -> {
            if (e.getKey().equals("train")) {
                ObjectNode t = o.objectNode();
                e.getValue().properties().forEach(f -> {
                    if (!f.getValue().equals(base.get("train").get(f.getKey()))) t.set(f.getKey(), f.getValue());
                });
                // a field the file sets and the stage leaves at its default (toJson omits defaults such as
                // answer_jitter 0): null, which reads back as the default rather than the file's value
                base.get("train").properties().forEach(f -> {
                    if (!e.getValue().has(f.getKey())) t.putNull(f.getKey());
                });
                if (!t.isEmpty()) o.set("train", t);
            } else if (!e.getValue().equals(base.get(e.getKey()))) {
                o.set(e.getKey(), e.getValue());
            }
        });
        return o;
    }
}
