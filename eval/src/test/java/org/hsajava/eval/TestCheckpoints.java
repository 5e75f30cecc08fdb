package org.hsajava.eval;

import java.nio.file.Path;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;

/** Checkpoints of random-init models for the evaluation tests. */
public final class TestCheckpoints {
    private TestCheckpoints() {}

    /** A run folder {@code dir/config} holding one checkpoint (step 5) of {@code configs/config.json}, parameters seeded. */
    public static Path write(Path dir, String config) throws Exception {
        ConfigFile file = ConfigFile.read(Path.of("..", "configs", config + ".json"));
        ModelParameters p = ModelParameters.of(ParameterLayout.of(file.model())).initialize(3);
        int n = p.all().size();
        Path run = dir.resolve(config);
        new CheckpointStore(run.resolve("checkpoints"), 1)
                .save(new CheckpointState(file.model(), file.train(), 5, new long[] {1}, null, p.all().toF32Array(), new float[n], new float[n]));
        return run;
    }
}
