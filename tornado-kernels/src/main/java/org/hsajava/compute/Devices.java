package org.hsajava.compute;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.hsajava.compute.java.JavaBackend;
import org.hsajava.compute.opencl.OpenClPlatforms;

/**
 * Every device this process can use: each OpenCL device of each platform, plus the Java backend.
 * Selection by {@code --device} or the {@code HSA_DEVICE} environment variable:
 * {@code java}, {@code opencl} (the preferred OpenCL device), {@code opencl:N}, or a substring of
 * the device, vendor or platform name.
 */
public final class Devices {
    public static final String ENV = "HSA_DEVICE";

    private static List<Device> all;
    private static String openClProblem;
    private static Device java;

    private Devices() {}

    /** All devices: OpenCL devices in platform order, then {@code java}. Enumerated once. */
    public static synchronized List<Device> all() {
        if (all == null) {
            List<Device> list = new ArrayList<>();
            try {
                List<DeviceInfo> cl = OpenClPlatforms.enumerate();
                for (int i = 0; i < cl.size(); i++) list.add(new Device(cl.get(i), "opencl:" + i));
                if (cl.isEmpty()) openClProblem = "the OpenCL loader found no platform. " + OpenClPlatforms.INSTALL_HINT;
            } catch (OpenClPlatforms.Unavailable e) {
                openClProblem = e.getMessage();
            }
            list.add(javaDevice(list.size()));
            all = List.copyOf(list);
        }
        return all;
    }

    /**
     * The Java backend. Asking for it does not load any OpenCL driver (a run that names
     * {@code --device java} never touches OpenCL).
     */
    public static synchronized Device java() { return javaDevice(all == null ? 0 : all.size() - 1); }

    private static synchronized Device javaDevice(int index) {
        if (java == null) java = new Device(JavaBackend.info(index), "java");
        return java;
    }

    /** Why no OpenCL device is available, or null when at least one is. */
    public static synchronized String openClProblem() {
        all();
        return openClProblem;
    }

    public static List<Device> openCl() { return all().stream().filter(d -> !d.isJava()).toList(); }

    /** The default device: GPU, then other accelerators, then CPU OpenCL, then java. */
    public static Device preferred() {
        return all().stream().min(Comparator.comparingInt((Device d) -> d.info().preference()).thenComparingInt(d -> d.info().index())).orElseThrow();
    }

    /** Resolves {@code spec}; null or blank falls back to {@code HSA_DEVICE}, then to {@link #preferred()}. */
    public static Device select(String spec) {
        if (spec == null || spec.isBlank()) spec = System.getenv(ENV);
        if (spec == null || spec.isBlank()) return preferred();
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("java")) return java();
        List<Device> cl = openCl();
        if (s.equals("opencl")) {
            if (cl.isEmpty()) throw new IllegalArgumentException("device 'opencl' requested but " + openClProblem());
            return cl.stream().min(Comparator.comparingInt(d -> d.info().preference())).orElseThrow();
        }
        if (s.startsWith("opencl:")) {
            try {
                int n = Integer.parseInt(s.substring(7));
                if (n >= 0 && n < cl.size()) return cl.get(n);
            } catch (NumberFormatException ignored) {
                // falls through to the error below
            }
            throw new IllegalArgumentException("no device '" + spec + "'. " + describeChoices());
        }
        for (Device d : all()) {
            DeviceInfo i = d.info();
            String hay = (i.name() + " " + i.vendor() + " " + i.platform()).toLowerCase(Locale.ROOT);
            if (hay.contains(s)) return d;
        }
        throw new IllegalArgumentException("no device matches '" + spec + "'. " + describeChoices());
    }

    private static String describeChoices() {
        StringBuilder sb = new StringBuilder("Devices here:");
        for (Device d : all()) sb.append("\n  ").append(d.id()).append("  ").append(d.name());
        if (openClProblem() != null) sb.append("\n(").append(openClProblem()).append(')');
        return sb.toString();
    }
}
