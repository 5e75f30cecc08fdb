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

    /** The message without the field name. */
    public String problem() { return getMessage().substring(field.length() + 2); }

    /** The same problem one level down, e.g. prefix "curriculum[1]." makes "curriculum[1].train.lr". */
    public ConfigException under(String prefix) { return new ConfigException(prefix + field, problem()); }
}
