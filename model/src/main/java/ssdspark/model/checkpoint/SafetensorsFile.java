package ssdspark.model.checkpoint;

import ssdspark.model.Json;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One .safetensors file, memory-mapped. Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data block;
 * offsets are relative to the data block, elements are little-endian, row-major.
 * Immutable once open; safe to read from several threads.
 */
public final class SafetensorsFile implements TensorSource {
    /** The reference implementation refuses headers above 100 MB; anything larger is corruption. */
    static final long MAX_HEADER = 100L << 20;

    private record Info(String dtype, long[] shape, long begin, long end) {}

    private final MappedFile file;
    private final long dataStart;
    private final Map<String, Info> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(MappedFile file, long dataStart, Map<String, Info> tensors, Map<String, String> metadata) {
        this.file = file;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        MappedFile f = MappedFile.open(path);
        try {
            return parse(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(MappedFile f) {
        String where = f.path.toString();
        if (f.size < 8)
            throw new IllegalArgumentException(where + ": only " + f.size + " bytes, too small to be a safetensors file");
        long n = f.map(0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (n <= 0 || n > MAX_HEADER || n > f.size - 8)
            throw new IllegalArgumentException(where + ": header length " + Long.toUnsignedString(n) + " is implausible for a file of "
                    + f.size + " bytes; the file is truncated or not safetensors");
        String text = new String(f.read(8, (int) n), StandardCharsets.UTF_8);
        Map<String, Object> header;
        try {
            header = Json.parseObject(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": safetensors header is not valid JSON (" + e.getMessage() + ")", e);
        }
        long dataStart = 8 + n, dataLen = f.size - dataStart;
        Map<String, Info> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : header.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (e.getValue() instanceof Map<?, ?> m)
                    m.forEach((k, v) -> metadata.put(String.valueOf(k), String.valueOf(v)));
                continue;
            }
            tensors.put(name, info(where, name, e.getValue(), dataLen));
        }
        return new SafetensorsFile(f, dataStart, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static Info info(String where, String name, Object v, long dataLen) {
        String ctx = where + ": tensor " + name;
        if (!(v instanceof Map<?, ?> m)) throw new IllegalArgumentException(ctx + ": header entry is not an object");
        if (!(m.get("dtype") instanceof String dtype)) throw new IllegalArgumentException(ctx + ": missing \"dtype\"");
        long[] shape = longs(ctx, "shape", m.get("shape"), -1);
        long[] offs = longs(ctx, "data_offsets", m.get("data_offsets"), 2);
        long begin = offs[0], end = offs[1];
        if (begin > end || end > dataLen)
            throw new IllegalArgumentException(ctx + ": data_offsets [" + begin + ", " + end + "] lie outside the data block of "
                    + dataLen + " bytes; the file is truncated or corrupt");
        int size = Dtype.safetensorsSize(dtype);
        if (size > 0) {
            long want;
            try {
                want = Math.multiplyExact(numel(shape), size);
            } catch (ArithmeticException ex) {
                throw new IllegalArgumentException(ctx + ": shape " + Arrays.toString(shape) + " is too large");
            }
            if (end - begin != want)
                throw new IllegalArgumentException(ctx + ": holds " + (end - begin) + " bytes but " + dtype + " "
                        + Arrays.toString(shape) + " needs " + want + "; the header is corrupt");
        }
        return new Info(dtype, shape, begin, end);
    }

    private static long[] longs(String ctx, String key, Object v, int wantLen) {
        if (!(v instanceof List<?> l) || (wantLen >= 0 && l.size() != wantLen))
            throw new IllegalArgumentException(ctx + ": \"" + key + "\" must be a list" + (wantLen >= 0 ? " of " + wantLen : "") + " of integers");
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long x) || x < 0)
                throw new IllegalArgumentException(ctx + ": \"" + key + "\" has " + l.get(i) + " where a non-negative integer belongs");
            out[i] = x;
        }
        return out;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /** The free-form "__metadata__" strings (e.g. format=pt). */
    public Map<String, String> metadata() { return metadata; }

    /** The safetensors dtype name of a tensor, e.g. "BF16". */
    public String dtype(String name) { return get(name).dtype; }

    @Override
    public Set<String> names() { return tensors.keySet(); }

    @Override
    public long[] shape(String name) { return get(name).shape.clone(); }

    @Override
    public float[] readFloats(String name) {
        Info t = get(name);
        Dtype type = Dtype.ofSafetensors(t.dtype);
        if (type == null)
            throw new IllegalArgumentException(file.path + ": tensor " + name + " has unsupported dtype " + t.dtype
                    + "; only F32, BF16, F16 and F64 can be read as float");
        long n = numel(t.shape);
        if (n > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException(file.path + ": tensor " + name + " has " + n + " elements, more than a Java array holds");
        float[] out = new float[(int) n];
        file.region(dataStart + t.begin, t.end - t.begin).readFloats(0, (int) n, type, ByteOrder.LITTLE_ENDIAN, out);
        return out;
    }

    /** The raw little-endian bytes of a tensor (any dtype), for callers that need integers. */
    public ByteBuffer rawBytes(String name) {
        Info t = get(name);
        long len = t.end - t.begin;
        if (len > Integer.MAX_VALUE) throw new IllegalArgumentException(file.path + ": tensor " + name + " is over 2 GiB");
        return file.map(dataStart + t.begin, (int) len).order(ByteOrder.LITTLE_ENDIAN);
    }

    private Info get(String name) {
        Info t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException(file.path + ": no tensor named " + name + " (the file has " + tensors.size() + " tensors)");
        return t;
    }

    @Override
    public String description() { return file.path.toString(); }

    @Override
    public void close() { file.close(); }
}
