package org.hsajava.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.hsajava.bench.GemmBench;
import org.hsajava.bench.HsaAttentionBench;
import org.hsajava.bench.HsaSelectionBench;
import org.hsajava.bench.SwaBench;
import org.hsajava.compute.Device;
import org.hsajava.kernels.SlidingWindowAttention;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./hsa bench gemm|hsa|swa|stream}: the project's benchmark command (JMH classes exist beside it). */
@Command(name = "bench", description = "Benchmarks: GEMM, HSA (selection, attention), sliding-window attention, streaming passes.",
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Hsa.class, BenchCommand.Swa.class, StreamBenchCommand.class, TrainBenchCommand.class})
public final class BenchCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.out.println("Choose one: ./hsa bench gemm | hsa | swa | stream  (--help for options)");
        return 2;
    }

    /** Options every bench shares. */
    static final class Common {
        @Mixin
        DeviceOption device;

        @Option(names = "--json", description = "print JSON (one object with the device, date and rows)")
        boolean json;

        @Mixin
        ProfileOption profile;

        PrintStream progress() { return json ? System.err : System.out; }

        void printJson(String bench, Device d, List<Map<String, Object>> rows) throws Exception {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("bench", bench);
            out.put("device", d.name());
            out.put("deviceId", d.id());
            out.put("date", Instant.now().toString());
            out.put("rows", rows);
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
        }
    }

    static int[] parseSizes(String csv) {
        String[] parts = csv.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].trim().toUpperCase();
            int mult = 1;
            if (p.endsWith("K")) { mult = 1024; p = p.substring(0, p.length() - 1); }
            else if (p.endsWith("M")) { mult = 1 << 20; p = p.substring(0, p.length() - 1); }
            try {
                out[i] = Math.multiplyExact(Integer.parseInt(p), mult);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new IllegalArgumentException("not a size: '" + parts[i] + "' (use e.g. 1024, 4K, 64K)");
            }
            if (out[i] <= 0) throw new IllegalArgumentException("sizes must be positive, got '" + parts[i] + "'");
        }
        return out;
    }

    @Command(name = "gemm", description = "GEMM (NxN or given shapes, data on the device) in GFLOP/s, tuned kernel vs a naive 16x16 tiled one; -Dhsa.tc.gemm=tf32|bf16 times the tensor-core kernel where the device has one.")
    static final class Gemm implements Callable<Integer> {
        @Mixin Common common = new Common();

        @Option(names = "--sizes", defaultValue = "1024,2048,4096", description = "square matrix sizes N (default ${DEFAULT-VALUE})")
        String sizes;

        @Option(names = "--shapes", paramLabel = "MxNxK[:OPS],...",
                description = "time these problems instead of squares: op(A) M x K, op(B) K x N, OPS = nn (default), tn, nt or tt "
                        + "(t = transposed), e.g. 128x384x4096:tn,4096x384x128:nt (a model layer's weight gradient and forward)")
        String shapes;

        @Option(names = "--naive", description = "also time the naive kernel")
        boolean naive;

        @Override
        public Integer call() throws Exception {
            Device d = common.device.device();
            common.progress().println("GEMM on " + d);
            List<GemmBench.Shape> problems = new ArrayList<>();
            if (shapes != null) for (String s : shapes.split(",")) problems.add(GemmBench.Shape.parse(s));
            else for (int n : parseSizes(sizes)) problems.add(GemmBench.Shape.square(n));
            List<GemmBench.Row> rows = GemmBench.run(d, problems, naive, common.progress());
            if (common.json) {
                List<Map<String, Object>> out = new ArrayList<>();
                for (GemmBench.Row r : rows) {
                    GemmBench.Shape s = r.shape();
                    out.add(Map.of("kernel", r.kernel(), "n", s.n(), "m", s.m(), "k", s.k(), "ops", (s.transA() ? "t" : "n") + (s.transB() ? "t" : "n"),
                            "medianMs", r.medianMs(), "gflops", r.gflops()));
                }
                common.printJson("gemm", d, out);
            } else {
                System.out.printf("%-20s %16s %12s %12s%n", "kernel", "N or MxNxK", "median ms", "GFLOP/s");
                for (GemmBench.Row r : rows) System.out.printf("%-20s %16s %12.3f %12.1f%n", r.kernel(), r.shape(), r.medianMs(), r.gflops());
            }
            ProfileOption.printIfEnabled(common.progress());
            return 0;
        }
    }

    @Command(name = "hsa", description = "HSA selection, attention forward and forward+backward (B=8, HQ=16, H=1, d=64, S=64, K=8).")
    static final class Hsa implements Callable<Integer> {
        @Mixin Common common = new Common();

        @Option(names = "--batch", defaultValue = "8", description = "batch size (default ${DEFAULT-VALUE})")
        int batch;

        @Option(names = "--length", defaultValue = "4K,16K,64K", split = ",", description = "sequence lengths (default ${DEFAULT-VALUE})")
        List<String> lengths;

        @Override
        public Integer call() throws Exception {
            Device d = common.device.device();
            int[] ls = parseSizes(String.join(",", lengths));
            common.progress().println("HSA on " + d + ", batch " + batch);
            List<Row> rows = new ArrayList<>();
            for (HsaSelectionBench.Row r : HsaSelectionBench.run(d, batch, ls, common.progress())) rows.add(new Row(r.what(), r.length(), r.medianMs(), r.deviceBytes()));
            for (HsaAttentionBench.Row r : HsaAttentionBench.run(d, batch, ls, common.progress())) rows.add(new Row(r.what(), r.length(), r.medianMs(), r.deviceBytes()));
            print(common, "hsa", d, rows);
            return 0;
        }
    }

    @Command(name = "swa", description = "Sliding-window attention forward and forward+backward (B=8, HQ=16, H=1, d=64 unless given).")
    static final class Swa implements Callable<Integer> {
        @Mixin Common common = new Common();

        @Option(names = "--batch", defaultValue = "8", description = "batch size (default ${DEFAULT-VALUE})")
        int batch;

        @Option(names = "--length", defaultValue = "4K,16K,64K", split = ",", description = "sequence lengths (default ${DEFAULT-VALUE})")
        List<String> lengths;

        @Option(names = "--window", defaultValue = "512", description = "window W (default ${DEFAULT-VALUE})")
        int window;

        @Option(names = "--query-heads", defaultValue = "" + SwaBench.QUERY_HEADS, description = "query heads HQ (default ${DEFAULT-VALUE})")
        int queryHeads;

        @Option(names = "--kv-heads", defaultValue = "" + SwaBench.KV_HEADS, description = "KV heads H, a divisor of HQ (default ${DEFAULT-VALUE}; small-gpu: 4)")
        int kvHeads;

        @Option(names = "--head-dim", defaultValue = "" + SwaBench.HEAD_DIM, description = "head dimension D (default ${DEFAULT-VALUE}; small-gpu: 32)")
        int headDim;

        @Override
        public Integer call() throws Exception {
            Device d = common.device.device();
            if (queryHeads < 1 || kvHeads < 1 || queryHeads % kvHeads != 0 || headDim < 1 || headDim > SlidingWindowAttention.MAX_HEAD_DIM) {
                throw new IllegalArgumentException("--query-heads must be a positive multiple of --kv-heads, and --head-dim in [1, "
                        + SlidingWindowAttention.MAX_HEAD_DIM + "]; got " + queryHeads + ", " + kvHeads + ", " + headDim);
            }
            common.progress().println("SWA on " + d + ", batch " + batch + ", window " + window + ", heads " + queryHeads + "/" + kvHeads + ", head dim " + headDim);
            List<Row> rows = new ArrayList<>();
            SwaBench.Heads heads = new SwaBench.Heads(queryHeads, kvHeads, headDim);
            for (SwaBench.Row r : SwaBench.run(d, batch, parseSizes(String.join(",", lengths)), window, heads, common.progress())) rows.add(new Row(r.what(), r.length(), r.medianMs(), r.deviceBytes()));
            print(common, "swa", d, rows);
            return 0;
        }
    }

    record Row(String what, int length, double medianMs, long deviceBytes) {}

    static void print(Common common, String bench, Device d, List<Row> rows) throws Exception {
        if (common.json) {
            List<Map<String, Object>> out = new ArrayList<>();
            for (Row r : rows) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("what", r.what());
                m.put("length", r.length());
                m.put("medianMs", r.medianMs());
                if (r.deviceBytes() >= 0) m.put("deviceBytes", r.deviceBytes());
                out.add(m);
            }
            common.printJson(bench, d, out);
            ProfileOption.printIfEnabled(common.progress());
            return;
        }
        System.out.printf("%-22s %8s %12s %14s%n", "what", "L", "median ms", "device memory");
        for (Row r : rows) System.out.printf("%-22s %8d %12.3f %14s%n", r.what(), r.length(), r.medianMs(), r.deviceBytes() >= 0 ? DevicesCommand.bytes(r.deviceBytes()) : "");
        ProfileOption.printIfEnabled(common.progress());
    }
}
