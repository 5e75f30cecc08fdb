package org.hsajava.model.config;

import java.util.Arrays;
import java.util.List;

/** Element type of the model's weights and activations ({@code torch_dtype} in the JSON). */
public enum WeightDType {
    FLOAT32("float32", true),
    /** Known so the error can say "not supported yet" instead of "unknown"; enabled once the bf16 kernels exist. */
    BFLOAT16("bfloat16", false);

    private final String jsonName;
    private final boolean supported;

    WeightDType(String jsonName, boolean supported) {
        this.jsonName = jsonName;
        this.supported = supported;
    }

    public String jsonName() { return jsonName; }

    public boolean supported() { return supported; }

    static List<String> supportedNames() {
        return Arrays.stream(values()).filter(WeightDType::supported).map(WeightDType::jsonName).toList();
    }

    static WeightDType parse(String field, String name) {
        for (WeightDType t : values()) {
            if (t.jsonName.equals(name)) {
                if (!t.supported) {
                    throw new ConfigException(field, "\"" + name + "\" is not supported yet; must be one of "
                            + String.join(", ", supportedNames()));
                }
                return t;
            }
        }
        throw new ConfigException(field, "must be one of " + String.join(", ", supportedNames()) + ", got \"" + name + "\"");
    }
}
