package org.hsajava.compute.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Reads the golden vectors (safetensors files copied from {@code ../shared/golden/} into
 * {@code src/test/resources/golden/}): tensors by name as float or int arrays, plus the case's
 * metadata. Only F32 and I32 tensors occur there.
 */
public final class Golden {
    private final String name;
    private final Map<String, Object> tensors = new HashMap<>();
    private final Map<String, int[]> shapes = new HashMap<>();
    private final Map<String, String> meta = new HashMap<>();

    private Golden(String name) { this.name = name; }

    /** Loads {@code golden/<name>.safetensors} from the test classpath. */
    public static Golden load(String name) {
        String res = "golden/" + name + ".safetensors";
        try (InputStream in = Golden.class.getClassLoader().getResourceAsStream(res)) {
            if (in == null) throw new IllegalArgumentException("golden file " + res + " not on the test classpath");
            return parse(name, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Golden parse(String name, byte[] bytes) throws IOException {
        Golden g = new Golden(name);
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = bb.getLong();
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLen, java.nio.charset.StandardCharsets.UTF_8));
        int base = 8 + (int) headerLen;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                e.getValue().properties().forEach(m -> g.meta.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            JsonNode t = e.getValue();
            String dtype = t.get("dtype").asText();
            int[] shape = new int[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).asInt();
            int start = base + t.get("data_offsets").get(0).asInt(), end = base + t.get("data_offsets").get(1).asInt();
            ByteBuffer data = ByteBuffer.wrap(bytes, start, end - start).order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case "F32" -> { float[] a = new float[(end - start) / 4]; data.asFloatBuffer().get(a); g.tensors.put(e.getKey(), a); }
                case "I32" -> { int[] a = new int[(end - start) / 4]; data.asIntBuffer().get(a); g.tensors.put(e.getKey(), a); }
                case "I64" -> { long[] l = new long[(end - start) / 8]; data.asLongBuffer().get(l); int[] a = new int[l.length]; for (int i = 0; i < l.length; i++) a[i] = Math.toIntExact(l[i]); g.tensors.put(e.getKey(), a); }
                default -> throw new IllegalArgumentException(name + ": tensor " + e.getKey() + " has unsupported dtype " + dtype);
            }
            g.shapes.put(e.getKey(), shape);
        }
        return g;
    }

    public String name() { return name; }

    public float[] f32(String tensor) { return (float[]) require(tensor); }

    public int[] i32(String tensor) { return (int[]) require(tensor); }

    public int[] shape(String tensor) { require(tensor); return shapes.get(tensor).clone(); }

    public boolean has(String tensor) { return tensors.containsKey(tensor); }

    public java.util.Set<String> names() { return tensors.keySet(); }

    /** A metadata value from the header, e.g. {@code meta("S")}. */
    public String meta(String key) {
        String v = meta.get(key);
        if (v == null) throw new IllegalArgumentException(name + ": no metadata '" + key + "' (have " + meta.keySet() + ")");
        return v;
    }

    public int metaInt(String key) { return (int) Double.parseDouble(meta(key)); }

    public double metaDouble(String key) { return Double.parseDouble(meta(key)); }

    private Object require(String tensor) {
        Object o = tensors.get(tensor);
        if (o == null) throw new IllegalArgumentException(name + ": no tensor '" + tensor + "' (have " + tensors.keySet() + ")");
        return o;
    }
}
