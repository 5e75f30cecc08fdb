package org.hsajava.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.eval.Checkpoints;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.stream.StreamingPass;
import org.hsajava.train.checkpoint.CheckpointState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa bench stream}: one streaming pass (docs/streaming.md) per length over random tokens,
 * scoring the last 8 positions as a passkey evaluation does; reports tokens per second and the
 * device memory (all of it, and the chunk memory's part).
 */
@Command(name = "stream", description = "Streaming pass (chunk memory built block by block, upper layers at the scored rows): tokens/s and device memory per length.")
final class StreamBenchCommand implements Callable<Integer> {
    @Mixin BenchCommand.Common common = new BenchCommand.Common();

    @Option(names = "--config", defaultValue = "configs/tiny-cpu.json", description = "model config with random weights (default ${DEFAULT-VALUE})")
    Path config;

    @Option(names = "--checkpoint", description = "use this checkpoint's model and weights instead of --config")
    Path checkpoint;

    @Option(names = "--length", defaultValue = "4K,16K,64K", split = ",", description = "context lengths (default ${DEFAULT-VALUE})")
    List<String> lengths;

    @Option(names = "--block", description = "new tokens per block (default: about four receptive fields, at least 1024)")
    Integer block;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the random weights and tokens (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws Exception {
        ModelConfig c;
        ModelParameters p;
        if (checkpoint != null) {
            CheckpointState state = Checkpoints.load(checkpoint);
            c = state.model();
            p = ModelParameters.of(ParameterLayout.of(c));
            p.all().set(state.parameters());
        } else {
            c = ConfigFile.read(config).model();
            p = ModelParameters.of(ParameterLayout.of(c)).initialize(seed);
        }
        Device d = common.device.device();
        int b = block != null ? block : StreamingPass.defaultBlock(c);
        int[] ls = BenchCommand.parseSizes(String.join(",", lengths));
        SplittableRandom rng = new SplittableRandom(seed);
        // compile every kernel before timing (the first launch of each builds its program)
        try (StreamingPass warm = new StreamingPass(c, p, d, b, b)) {
            warm.logits(new int[b], new int[] {b - 1});
            common.progress().printf(Locale.ROOT, "Streaming on %s: block %d, window %d (receptive field %d)%n", d, warm.block(), warm.window(), warm.context());
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int length : ls) {
            int[] tokens = new int[length];
            for (int i = 0; i < length; i++) tokens[i] = rng.nextInt(c.vocabSize());
            int[] scored = new int[Math.min(8, length)];
            for (int i = 0; i < scored.length; i++) scored[i] = length - scored.length + i;
            try (StreamingPass pass = new StreamingPass(c, p, d, length, b)) {
                long t0 = System.nanoTime();
                pass.logits(tokens, scored);
                double s = (System.nanoTime() - t0) / 1e9;
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("length", length);
                m.put("seconds", s);
                m.put("tokensPerSecond", length / s);
                m.put("peakDeviceBytes", pass.peakDeviceBytes());
                m.put("chunkMemoryBytes", pass.memoryBytes());
                m.put("block", pass.block());
                m.put("window", pass.window());
                rows.add(m);
                if (!common.json) {
                    common.progress().printf(Locale.ROOT, "L=%-9d %9.2f s %12.0f tokens/s   device %10s (chunk memory %s)%n", length, s, length / s,
                            DevicesCommand.bytes(pass.peakDeviceBytes()), DevicesCommand.bytes(pass.memoryBytes()));
                }
            }
        }
        if (common.json) common.printJson("stream", d, rows);
        ProfileOption.printIfEnabled(common.progress());
        return 0;
    }
}
