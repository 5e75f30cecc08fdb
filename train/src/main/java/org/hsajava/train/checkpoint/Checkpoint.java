package org.hsajava.train.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.TrainConfig;

/**
 * One checkpoint folder:
 * <ul>
 *   <li>{@code model.safetensors}: parameters under the authors' state-dict names (F32);</li>
 *   <li>{@code optimizer.safetensors}: AdamW {@code exp_avg}/{@code exp_avg_sq} per parameter and {@code step};</li>
 *   <li>{@code config.json}: the authors' DRTForCausalLM config, so the folder loads in PyTorch;</li>
 *   <li>{@code manifest.json}: format version, our model and train configs, step, RNG state, data
 *       position, and the byte size and SHA-256 of each file above.</li>
 * </ul>
 * A <em>weights-only</em> checkpoint (a state without optimizer moments, {@link CheckpointState#weightsOnly};
 * {@code ./hsa export --format weights}) has no {@code optimizer.safetensors}, and its manifest says
 * {@code "weights_only": true}: a third of the size, for shipping a trained model; it can be evaluated
 * or started from ({@code --init-from}), not resumed. Only that flag makes the optimizer file optional.
 * Writing builds the folder under a temporary sibling name and renames it into place, so the
 * target is either absent, the previous version, or complete. Reading checks sizes and hashes and
 * parses everything before returning; any problem is a {@link CorruptCheckpointException} naming the file.
 */
public final class Checkpoint {
    public static final String MODEL_FILE = "model.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String CONFIG_FILE = "config.json";
    public static final String MANIFEST_FILE = "manifest.json";
    public static final String FORMAT = "hsa-java-checkpoint";
    public static final int FORMAT_VERSION = 1;
    /** Manifest flag of a checkpoint without optimizer state. */
    static final String WEIGHTS_ONLY = "weights_only";
    /** Prefix of folders being written; readers and listings skip them, the next save removes leftovers. */
    static final String TEMP_PREFIX = ".tmp-";
    static final String OLD_PREFIX = ".old-";

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** Test hook: called after each stage of a save ("model.safetensors", ..., "renamed"), so tests can fail midway. */
    @FunctionalInterface
    interface SaveProbe {
        SaveProbe NONE = stage -> {};

        void reached(String stage) throws IOException;
    }

    private Checkpoint() {}

    public static void write(Path target, CheckpointState state) throws IOException {
        write(target, state, SaveProbe.NONE);
    }

    static void write(Path target, CheckpointState state, SaveProbe probe) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        String suffix = target.getFileName() + "-" + Long.toHexString(System.nanoTime());
        Path tmp = parent.resolve(TEMP_PREFIX + suffix);
        Files.createDirectory(tmp);
        try {
            ParameterLayout layout = state.layout();
            Map<String, DurableFiles.Body> files = new LinkedHashMap<>();
            files.put(MODEL_FILE, out -> Safetensors.write(out,
                    ModelWeights.tensors(layout, state.parameters(), SafeDType.F32), ModelWeights.METADATA));
            if (state.hasOptimizerState()) {
                files.put(OPTIMIZER_FILE, out -> Safetensors.write(out,
                        OptimizerStateFile.tensors(layout, state.adamM(), state.adamV(), state.step()), OptimizerStateFile.METADATA));
            }
            files.put(CONFIG_FILE, out -> out.write(pretty(state.model().toAuthorsConfigJson())));
            ObjectNode listed = JsonNodeFactory.instance.objectNode();
            for (Map.Entry<String, DurableFiles.Body> f : files.entrySet()) {
                DurableFiles.Summary written = DurableFiles.write(tmp.resolve(f.getKey()), f.getValue());
                ObjectNode e = listed.putObject(f.getKey());
                e.put("bytes", written.bytes());
                e.put("sha256", written.sha256());
                probe.reached(f.getKey());
            }
            DurableFiles.write(tmp.resolve(MANIFEST_FILE), pretty(manifest(state, listed)));
            probe.reached(MANIFEST_FILE);
            DurableFiles.syncDirectory(tmp);
            Path target2 = parent.resolve(target.getFileName());
            if (Files.exists(target2)) {
                // Re-saving a step: move the old folder aside first (rename cannot replace a non-empty directory).
                Path old = parent.resolve(OLD_PREFIX + suffix);
                DurableFiles.moveAtomically(target2, old);
                DurableFiles.moveAtomically(tmp, target2);
                DurableFiles.deleteRecursively(old);
            } else {
                DurableFiles.moveAtomically(tmp, target2);
            }
            DurableFiles.syncDirectory(parent);
            probe.reached("renamed");
        } catch (IOException | RuntimeException | Error e) {
            try {
                DurableFiles.deleteRecursively(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private static ObjectNode manifest(CheckpointState s, ObjectNode files) {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("format", FORMAT);
        m.put("format_version", FORMAT_VERSION);
        m.put("step", s.step());
        if (!s.hasOptimizerState()) m.put(WEIGHTS_ONLY, true);
        m.set("model_config", s.model().toJson());
        m.set("train_config", s.train().toJson());
        ArrayNode rng = m.putArray("rng_state");
        for (long r : s.rngState()) rng.add(r);
        m.set("data_position", s.dataPosition().deepCopy());
        m.set("files", files);
        return m;
    }

    /** Reads and verifies a checkpoint folder; nothing is returned unless every file checks out. */
    public static CheckpointState read(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new CorruptCheckpointException(dir, "checkpoint folder does not exist");
        Path manifestPath = dir.resolve(MANIFEST_FILE);
        JsonNode m = parseJson(manifestPath, readFile(manifestPath));
        if (!m.isObject()) throw new CorruptCheckpointException(manifestPath, "not a JSON object");
        if (!FORMAT.equals(m.path("format").asText(null))) {
            throw new CorruptCheckpointException(manifestPath, "format is not \"" + FORMAT + "\"");
        }
        if (m.path("format_version").asInt(-1) != FORMAT_VERSION) {
            throw new CorruptCheckpointException(manifestPath, "format_version " + m.get("format_version")
                    + " is not supported (this reader knows " + FORMAT_VERSION + ")");
        }

        JsonNode flag = m.get(WEIGHTS_ONLY);
        if (flag != null && !flag.isBoolean()) throw new CorruptCheckpointException(manifestPath, "\"" + WEIGHTS_ONLY + "\" must be true or false, got " + flag);
        boolean weightsOnly = flag != null && flag.booleanValue();
        JsonNode listed = m.get("files");
        if (listed == null || !listed.isObject()) throw new CorruptCheckpointException(manifestPath, "\"files\" missing");
        if (weightsOnly && listed.has(OPTIMIZER_FILE)) {
            // a flag flipped by hand on a full checkpoint: which of the two was meant is unknown
            throw new CorruptCheckpointException(manifestPath, "\"" + WEIGHTS_ONLY + "\" is true but \"files\" lists " + OPTIMIZER_FILE);
        }
        for (String name : weightsOnly ? List.of(MODEL_FILE, CONFIG_FILE) : List.of(MODEL_FILE, OPTIMIZER_FILE, CONFIG_FILE)) {
            JsonNode e = listed.get(name);
            if (e == null) throw new CorruptCheckpointException(manifestPath, "\"files\" does not list " + name);
            verify(dir.resolve(name), e, manifestPath);
        }

        ModelConfig model;
        TrainConfig train;
        try {
            model = ModelConfig.fromJson(m.get("model_config"));
            train = TrainConfig.fromJson(m.get("train_config"));
        } catch (ConfigException e) {
            throw new CorruptCheckpointException(manifestPath, "invalid config: " + e.getMessage(), e);
        }
        JsonNode stepNode = m.get("step");
        if (stepNode == null || !stepNode.isIntegralNumber() || stepNode.longValue() < 0) {
            throw new CorruptCheckpointException(manifestPath, "\"step\" must be a non-negative integer, got " + stepNode);
        }
        long step = stepNode.longValue();
        JsonNode rngNode = m.get("rng_state");
        if (rngNode == null || !rngNode.isArray()) throw new CorruptCheckpointException(manifestPath, "\"rng_state\" must be an array");
        long[] rng = new long[rngNode.size()];
        for (int i = 0; i < rng.length; i++) {
            JsonNode r = rngNode.get(i);
            if (!r.isIntegralNumber() || !r.canConvertToLong()) {
                throw new CorruptCheckpointException(manifestPath, "rng_state[" + i + "] must be a 64-bit integer, got " + r);
            }
            rng[i] = r.longValue();
        }
        JsonNode data = m.get("data_position");
        if (data == null || !data.isObject()) throw new CorruptCheckpointException(manifestPath, "\"data_position\" must be an object");

        ParameterLayout layout = ParameterLayout.of(model);
        if (layout.totalSize() > Integer.MAX_VALUE - 16) {
            throw new CorruptCheckpointException(manifestPath, "model of " + layout.totalSize() + " floats exceeds one Java array");
        }
        int n = (int) layout.totalSize();
        float[] params = new float[n], adamM = weightsOnly ? null : new float[n], adamV = weightsOnly ? null : new float[n];
        Path modelPath = dir.resolve(MODEL_FILE), optPath = dir.resolve(OPTIMIZER_FILE);
        try {
            ModelWeights.readInto(Safetensors.read(modelPath), layout, params);
        } catch (SafetensorsFormatException e) {
            throw new CorruptCheckpointException(modelPath, e.getMessage(), e);
        }
        if (!weightsOnly) {
            long optStep;
            try {
                optStep = OptimizerStateFile.readInto(Safetensors.read(optPath), layout, adamM, adamV);
            } catch (SafetensorsFormatException e) {
                throw new CorruptCheckpointException(optPath, e.getMessage(), e);
            }
            if (optStep != step) {
                throw new CorruptCheckpointException(optPath, "step " + optStep + " differs from the manifest's step " + step);
            }
        }
        parseJson(dir.resolve(CONFIG_FILE), readFile(dir.resolve(CONFIG_FILE)));
        return new CheckpointState(model, train, step, rng, data, params, adamM, adamV);
    }

    /** Size first (cheap, and tells truncation apart), then the streamed SHA-256. */
    private static void verify(Path file, JsonNode entry, Path manifestPath) throws IOException {
        JsonNode size = entry.get("bytes"), hash = entry.get("sha256");
        if (size == null || !size.isIntegralNumber() || hash == null || !hash.isTextual()) {
            throw new CorruptCheckpointException(manifestPath, "entry for " + file.getFileName() + " needs \"bytes\" and \"sha256\"");
        }
        long actualSize;
        try {
            actualSize = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new CorruptCheckpointException(file, "file is missing");
        }
        if (actualSize != size.longValue()) {
            throw new CorruptCheckpointException(file, "size is " + actualSize + " bytes, the manifest says " + size.longValue()
                    + (actualSize < size.longValue() ? " (truncated)" : ""));
        }
        String actual = DurableFiles.summarize(file).sha256();
        if (!actual.equalsIgnoreCase(hash.textValue())) {
            throw new CorruptCheckpointException(file, "SHA-256 is " + actual + ", the manifest says " + hash.textValue());
        }
    }

    private static byte[] readFile(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CorruptCheckpointException(file, "file is missing");
        }
    }

    private static JsonNode parseJson(Path file, byte[] bytes) throws CorruptCheckpointException {
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new CorruptCheckpointException(file, "not valid JSON: " + e.getMessage(), e);
        }
        if (n == null || n.isMissingNode()) throw new CorruptCheckpointException(file, "empty file");
        return n;
    }

    static byte[] pretty(JsonNode n) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(DurableFiles.sha256().digest(bytes));
    }
}
