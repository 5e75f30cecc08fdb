package org.hsajava.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.checkpoint.ModelWeights;
import org.hsajava.train.checkpoint.Safetensors;
import org.hsajava.train.loop.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa import --hf DIR2 --out DIR}: reads the authors' layout ({@code config.json} +
 * {@code model.safetensors}, any float dtype) into a run folder of ours holding one checkpoint at
 * step 0 with fresh optimizer state, which {@code ./hsa eval} reads and {@code ./hsa train --resume}
 * continues. The training section comes from {@code --config} (default: configs/tiny-cpu.json's).
 */
@Command(name = "import", description = "Read the authors' PyTorch layout (config.json + model.safetensors) into a checkpoint.")
public final class ImportCommand implements Callable<Integer> {
    @Option(names = "--hf", required = true, description = "folder with config.json and model.safetensors")
    Path hf;

    @Option(names = "--out", required = true, description = "run folder to create (its checkpoints/step-000000)")
    Path out;

    @Option(names = "--config", description = "a config file whose \"train\" section the checkpoint carries (default configs/tiny-cpu.json)")
    Path config;

    @Override
    public Integer call() throws Exception {
        Path configJson = hf.resolve("config.json"), weights = hf.resolve("model.safetensors");
        if (!Files.isRegularFile(configJson) || !Files.isRegularFile(weights)) {
            throw new IllegalArgumentException(hf + " must hold config.json and model.safetensors (a PyTorch .bin must be converted with safetensors first)");
        }
        JsonNode authors = new ObjectMapper().readTree(configJson.toFile());
        ModelConfig model = ModelConfig.fromAuthorsConfigJson(authors);
        ParameterLayout layout = ParameterLayout.of(model);
        float[] params = new float[Math.toIntExact(layout.totalSize())];
        ModelWeights.readInto(Safetensors.read(weights), layout, params);
        TrainConfig train = ConfigFile.read(config != null ? config : Path.of("configs", "tiny-cpu.json")).train();
        CheckpointStore store = new CheckpointStore(out.resolve(Trainer.CHECKPOINTS), train.keepCheckpoints());
        if (!store.steps().isEmpty()) throw new IllegalStateException(out + " already holds checkpoints; choose another --out");
        Path saved = store.save(new CheckpointState(model, train, 0, new long[0], null, params, new float[params.length], new float[params.length]));
        System.out.printf("Imported %s (%s model, %,d parameters) into %s%n", hf, model.attentionKind().jsonName(), layout.parameterCount(), saved);
        return 0;
    }
}
