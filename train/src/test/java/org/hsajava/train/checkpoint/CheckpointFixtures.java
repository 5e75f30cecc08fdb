package org.hsajava.train.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ParameterLayout;

/** A small HSA model (D=32, one encoder layer) and random training states for checkpoint tests. */
final class CheckpointFixtures {
    private CheckpointFixtures() {}

    static ConfigFile smallConfig() throws IOException {
        ObjectNode r = (ObjectNode) new ObjectMapper().readTree(Path.of("..", "configs", "tiny-cpu.json").toFile());
        r.put("vocab_size", 20);
        r.put("hidden_size", 32);
        r.put("intermediate_size", 48);
        r.put("num_attention_heads", 2);
        r.put("num_key_value_heads", 1);
        r.put("head_dim", 16);
        r.put("retrieval_dim", 32);
        r.put("num_lower_layers", 1);
        r.put("num_upper_layers", 1);
        return ConfigFile.fromJson(r);
    }

    /** Random values inside every tensor, zeros in the alignment padding (what a reader restores). */
    static float[] randomBuffer(ParameterLayout layout, Random rnd) {
        float[] a = new float[(int) layout.totalSize()];
        layout.specs().forEach(s -> {
            for (long i = s.offset(); i < s.end(); i++) a[(int) i] = (float) rnd.nextGaussian();
        });
        return a;
    }

    static CheckpointState state(long step, long seed) throws IOException {
        ConfigFile c = smallConfig();
        ParameterLayout l = ParameterLayout.of(c.model());
        Random rnd = new Random(seed);
        ObjectNode data = new ObjectMapper().createObjectNode();
        data.put("shard", 3).put("offset", 12_345L * step);
        data.putArray("files").add("a.txt").add("b.txt");
        return new CheckpointState(c.model(), c.train(), step, new long[] {seed, -2, Long.MAX_VALUE, Long.MIN_VALUE}, data,
                randomBuffer(l, rnd), randomBuffer(l, rnd), randomBuffer(l, rnd));
    }
}
