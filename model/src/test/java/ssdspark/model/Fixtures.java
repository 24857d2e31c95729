package ssdspark.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The reference fixtures made by tools/reference/mamba2_ref.py (float64 token-by-token recurrence). */
final class Fixtures {
    private Fixtures() {}

    /** hfLogprobs: HF transformers' (ngroups 1 only); torchLogprobs: the torch transcription of mamba_ssm's MHA/GatedMLP (hybrids). */
    record Doc(int[] tokens, double[] logprobs, double[][] hidden, double[] hfLogprobs, double[] torchLogprobs) {}

    record Case(String name, Path dir, String format, int ngroups, List<Doc> docs) {
        @Override public String toString() { return name; }
    }

    static Path root() {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Stream<Case> all() {
        try (Stream<Path> dirs = Files.list(root())) {
            return dirs.filter(Files::isDirectory).sorted().map(Fixtures::load).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Case load(String name) { return load(root().resolve(name)); }

    @SuppressWarnings("unchecked")
    static Case load(Path dir) {
        try {
            Map<String, Object> m = Json.parseObject(Files.readString(dir.resolve("reference.json")));
            List<Doc> docs = new ArrayList<>();
            for (Object o : (List<Object>) m.get("docs")) {
                Map<String, Object> d = (Map<String, Object>) o;
                List<Object> toks = (List<Object>) d.get("tokens");
                int[] t = toks.stream().mapToInt(x -> ((Number) x).intValue()).toArray();
                double[] lp = doubles((List<Object>) d.get("logprobs"));
                List<Object> hid = (List<Object>) d.get("hidden");
                double[][] h = new double[hid.size()][];
                for (int i = 0; i < h.length; i++) h[i] = doubles((List<Object>) hid.get(i));
                double[] hf = d.containsKey("hf_logprobs") ? doubles((List<Object>) d.get("hf_logprobs")) : null;
                double[] torch = d.containsKey("torch_logprobs") ? doubles((List<Object>) d.get("torch_logprobs")) : null;
                docs.add(new Doc(t, lp, h, hf, torch));
            }
            return new Case(dir.getFileName().toString(), dir, (String) m.get("format"),
                    ((Number) m.get("ngroups")).intValue(), docs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static double[] doubles(List<Object> l) {
        return l.stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
    }
}
