package org.hsajava.model.config;

/**
 * An invalid configuration value. The message always starts with the JSON name of the offending
 * field (with its section, e.g. {@code train.lr}) so a user can find it in the file.
 */
public final class ConfigException extends IllegalArgumentException {
    private final String field;

    public ConfigException(String field, String problem) {
        super(field + ": " + problem);
        this.field = field;
    }

    /** The JSON name of the field, including its section prefix ("train.lr"). */
    public String field() { return field; }
}
