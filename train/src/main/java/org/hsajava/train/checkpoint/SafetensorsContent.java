package org.hsajava.train.checkpoint;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** A parsed safetensors file: its {@code __metadata__} map and its tensors in file order. */
public record SafetensorsContent(String source, Map<String, String> metadata, Map<String, SafeTensor> tensors) {

    public SafetensorsContent {
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /** The tensor with this name; a missing one is a format error naming the file. */
    public SafeTensor get(String name) throws SafetensorsFormatException {
        SafeTensor t = tensors.get(name);
        if (t == null) throw new SafetensorsFormatException(source, "no tensor named '" + name + "'");
        return t;
    }
}
