package org.hsajava.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.Devices;
import org.hsajava.compute.opencl.TensorCores;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./hsa devices}: every usable device, the default marked with '*'. */
@Command(name = "devices", description = "List OpenCL devices and the Java backend; '*' marks the default.")
public final class DevicesCommand implements Callable<Integer> {

    @Option(names = "--json", description = "print JSON instead of a table")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<Device> all = Devices.all();
        Device def = Devices.preferred();
        if (json) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (Device d : all) rows.add(row(d, d == def));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("devices", rows);
            out.put("openclProblem", Devices.openClProblem());
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
            return 0;
        }
        System.out.printf("  %-9s %-5s %-44s %-22s %10s %9s %4s %7s %-4s %-6s %-9s %-9s %s%n",
                "id", "type", "name", "vendor", "global", "local", "CUs", "max WG", "fp16", "SPIR-V", "attention", "bf16 gemm", "platform / version");
        for (Device d : all) {
            DeviceInfo i = d.info();
            System.out.printf("%s %-9s %-5s %-44s %-22s %10s %9s %4d %7d %-4s %-6s %-9s %-9s %s%n",
                    d == def ? "*" : " ", d.id(), i.type(), clip(i.name(), 44), clip(i.vendor(), 22), bytes(i.globalMemBytes()),
                    i.isOpenCl() ? bytes(i.localMemBytes()) : "-", i.computeUnits(), i.maxWorkGroupSize(),
                    i.isOpenCl() ? yesNo(i.fp16()) : "-", i.isOpenCl() ? yesNo(i.spirv()) : "-", TensorCores.describe(i), TensorCores.bf16GemmPath(i),
                    i.platform() + " / " + i.version());
        }
        if (Devices.openClProblem() != null) System.out.println("\nNo OpenCL device: " + Devices.openClProblem());
        System.out.println("\nChoose with --device (java, opencl, opencl:N, or part of a name) or HSA_DEVICE.");
        System.out.println("'attention': the arithmetic of the HSA and sliding-window attention kernels (forward and backward), tf32-tc = TF32"
                + " tensor cores (NVIDIA, compute capability >= 8.0); -Dhsa.tc=off or HSA_TC=off forces fp32. GEMMs: fp32 unless a config's"
                + " matmul_precision (or -Dhsa.tc.gemm) asks for bf16 or tf32; 'bf16 gemm' says what those run on: wgmma (Hopper, compute capability 9.x;"
                + " -Dhsa.tc.wgmma=off for mma.sync), mma.sync (tensor cores) or fp32.");
        return 0;
    }

    private static Map<String, Object> row(Device d, boolean isDefault) {
        DeviceInfo i = d.info();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", d.id());
        m.put("default", isDefault);
        m.put("backend", i.backend());
        m.put("type", i.type().name());
        m.put("name", i.name());
        m.put("vendor", i.vendor());
        m.put("platform", i.platform());
        m.put("version", i.version());
        m.put("globalMemBytes", i.globalMemBytes());
        m.put("localMemBytes", i.localMemBytes());
        m.put("computeUnits", i.computeUnits());
        m.put("maxWorkGroupSize", i.maxWorkGroupSize());
        m.put("fp16", i.fp16());
        m.put("spirv", i.spirv());
        m.put("attentionPath", TensorCores.describe(i));
        m.put("bf16GemmPath", TensorCores.bf16GemmPath(i));
        return m;
    }

    static String bytes(long b) {
        if (b >= 1L << 30) return String.format("%.1f GiB", b / (double) (1L << 30));
        if (b >= 1L << 20) return String.format("%.1f MiB", b / (double) (1L << 20));
        if (b >= 1L << 10) return String.format("%.0f KiB", b / 1024.0);
        return b + " B";
    }

    private static String yesNo(boolean b) { return b ? "yes" : "no"; }

    private static String clip(String s, int n) { return s.length() <= n ? s : s.substring(0, n - 1) + "…"; }
}
