package org.hsajava.model.config;

import java.util.List;

/** Which attention the model uses: the HSA model, or one of the two baselines it is compared with. */
public enum AttentionKind {
    /** SWA layers below and above a chunk memory, with HSA layers retrieving from it. */
    HSA("hsa"),
    /** Only sliding-window attention layers (HSA off). */
    SWA_ONLY("swa_only"),
    /** Only full causal attention layers (the dense baseline). */
    FULL_CAUSAL("full_causal");

    private final String jsonName;

    AttentionKind(String jsonName) { this.jsonName = jsonName; }

    public String jsonName() { return jsonName; }

    static List<String> jsonNames() {
        return java.util.Arrays.stream(values()).map(AttentionKind::jsonName).toList();
    }

    static AttentionKind ofJson(String name) {
        for (AttentionKind k : values()) if (k.jsonName.equals(name)) return k;
        throw new IllegalArgumentException(name);
    }
}
