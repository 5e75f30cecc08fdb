package org.hsajava.model.config;

/** Which positions contribute to the training loss ({@code train.loss_on}). */
public enum LossTokens {
    /** Every next-token prediction (plain language modelling). */
    ALL("all"),
    /** Only answer tokens of synthetic tasks (prompt and filler are context). */
    ANSWERS("answers");

    private final String jsonName;

    LossTokens(String jsonName) { this.jsonName = jsonName; }

    public String jsonName() { return jsonName; }

    static LossTokens ofJson(String s) {
        for (LossTokens t : values()) if (t.jsonName.equals(s)) return t;
        throw new IllegalArgumentException(s);
    }
}
