package ssdspark.model.checkpoint;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import ssdspark.model.Json;

import java.io.IOException;
import java.io.UncheckedIOException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
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
    /** The reference implementation (safetensors' MAX_HEADER_SIZE) refuses headers above 100,000,000 bytes. */
    static final long MAX_HEADER = 100_000_000L;

    private record Info(String name, String dtype, long[] shape, long begin, long end) {}

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

    /**
     * Validates as the reference implementation does before any tensor is read: header length within the cap
     * and the file, strict UTF-8 JSON of the expected shape, known dtypes, byte lengths matching shapes, and
     * data_offsets that, sorted, are contiguous from 0 and end exactly at the end of the file (no gap, no
     * overlap, no trailing bytes).
     */
    private static SafetensorsFile parse(MappedFile f) {
        String where = f.path.toString();
        if (f.size < 8)
            throw new IllegalArgumentException(where + ": only " + f.size + " bytes, too small to be a safetensors file");
        long n = f.map(0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (n <= 0 || n > MAX_HEADER || n > f.size - 8)
            throw new IllegalArgumentException(where + ": header length " + Long.toUnsignedString(n) + " is implausible for a file of "
                    + f.size + " bytes (the format allows at most " + MAX_HEADER + "); the file is truncated or not safetensors");
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(f.read(8, (int) n))).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(where + ": safetensors header is not valid UTF-8; the file is corrupt or not safetensors");
        }
        if (!text.startsWith("{"))
            throw new IllegalArgumentException(where + ": safetensors header does not start with '{'; the file is corrupt or not safetensors");
        long dataStart = 8 + n, dataLen = f.size - dataStart;
        Map<String, Info> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try (JsonParser p = Json.parser(text)) {
            readHeader(where, p, tensors, metadata);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": safetensors header is not valid JSON (" + Json.error(e).getMessage() + ")", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        checkLayout(where, tensors.values(), dataLen);
        return new SafetensorsFile(f, dataStart, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    /** {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}, read without building a tree. */
    private static void readHeader(String where, JsonParser p, Map<String, Info> tensors, Map<String, String> metadata) throws IOException {
        expect(p, p.nextToken(), JsonToken.START_OBJECT, where, "the header");
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String name = p.currentName();
            if (name.equals("__metadata__")) {
                expect(p, p.nextToken(), JsonToken.START_OBJECT, where, "\"__metadata__\"");
                for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
                    String key = p.currentName();
                    expect(p, p.nextToken(), JsonToken.VALUE_STRING, where, "\"__metadata__\" value of " + key);
                    metadata.put(key, p.getText());
                }
                continue;
            }
            tensors.put(name, tensor(where, name, p));
        }
        if (p.nextToken() != null) throw new JsonParseException(p, "trailing characters after the header object");
    }

    private static Info tensor(String where, String name, JsonParser p) throws IOException {
        String ctx = where + ": tensor " + name;
        expect(p, p.nextToken(), JsonToken.START_OBJECT, ctx, "its header entry");
        String dtype = null;
        long[] shape = null, offs = null;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String key = p.currentName();
            JsonToken v = p.nextToken();
            switch (key) {
                case "dtype":
                    expect(p, v, JsonToken.VALUE_STRING, ctx, "\"dtype\"");
                    dtype = p.getText();
                    break;
                case "shape": shape = longs(ctx, key, p, v, -1); break;
                case "data_offsets": offs = longs(ctx, key, p, v, 2); break;
                default: p.skipChildren(); // unknown keys are ignored, as serde does
            }
        }
        if (dtype == null) throw new IllegalArgumentException(ctx + ": missing \"dtype\"");
        if (shape == null) throw new IllegalArgumentException(ctx + ": missing \"shape\"");
        if (offs == null) throw new IllegalArgumentException(ctx + ": missing \"data_offsets\"");
        int bits = Dtype.safetensorsBits(dtype);
        if (bits == 0) throw new IllegalArgumentException(ctx + ": unknown dtype \"" + shortText(dtype) + "\"; the file is corrupt or newer than this reader");
        long begin = offs[0], end = offs[1];
        if (begin > end) throw new IllegalArgumentException(ctx + ": data_offsets [" + begin + ", " + end + "] end before they begin; the header is corrupt");
        long want;
        try {
            long nbits = Math.multiplyExact(numel(shape), bits);
            if (nbits % 8 != 0) throw new IllegalArgumentException(ctx + ": " + dtype + " " + Arrays.toString(shape) + " does not fill whole bytes");
            want = nbits / 8;
        } catch (ArithmeticException ex) {
            throw new IllegalArgumentException(ctx + ": shape " + Arrays.toString(shape) + " is too large");
        }
        if (end - begin != want)
            throw new IllegalArgumentException(ctx + ": holds " + (end - begin) + " bytes but " + dtype + " "
                    + Arrays.toString(shape) + " needs " + want + "; the header is corrupt");
        return new Info(name, dtype, shape, begin, end);
    }

    /** Sorted by offset, tensors must tile the data block exactly: [0, a), [a, b), ..., [y, dataLen). */
    private static void checkLayout(String where, Collection<Info> infos, long dataLen) {
        List<Info> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
        long at = 0;
        Info prev = null;
        for (Info t : sorted) {
            if (t.end > dataLen)
                throw new IllegalArgumentException(where + ": tensor " + t.name + ": data_offsets [" + t.begin + ", " + t.end
                        + "] lie outside the data block of " + dataLen + " bytes; the file is truncated or corrupt");
            if (t.begin < at)
                throw new IllegalArgumentException(where + ": tensor " + t.name + ": data_offsets [" + t.begin + ", " + t.end
                        + "] overlap tensor " + prev.name + " [" + prev.begin + ", " + prev.end + "]; the header is corrupt");
            if (t.begin > at)
                throw new IllegalArgumentException(where + ": tensor " + t.name + ": data_offsets [" + t.begin + ", " + t.end
                        + "] leave " + (t.begin - at) + " bytes unaccounted for before it; the header is corrupt");
            at = t.end;
            prev = t;
        }
        if (at != dataLen)
            throw new IllegalArgumentException(where + ": the tensors cover " + at + " bytes of a data block of " + dataLen
                    + "; the file has trailing bytes or the header is corrupt");
    }

    private static void expect(JsonParser p, JsonToken got, JsonToken want, String ctx, String what) throws JsonParseException {
        if (got == want) return;
        if (got == null) throw new JsonParseException(p, "unexpected end of input");
        String kind = switch (want) {
            case START_OBJECT -> "an object";
            case VALUE_STRING -> "a string";
            default -> want.toString();
        };
        throw new IllegalArgumentException(ctx + ": " + what + " must be " + kind);
    }

    private static long[] longs(String ctx, String key, JsonParser p, JsonToken t, int wantLen) throws IOException {
        String must = "\"" + key + "\" must be a list" + (wantLen >= 0 ? " of " + wantLen : "") + " of non-negative integers";
        if (t != JsonToken.START_ARRAY) throw new IllegalArgumentException(ctx + ": " + must);
        long[] out = new long[4];
        int n = 0;
        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
            if (e != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0)
                throw new IllegalArgumentException(ctx + ": " + must + "; it has " + shortText(p.getText()));
            if (n == out.length) out = Arrays.copyOf(out, 2 * n);
            out[n++] = p.getLongValue();
        }
        if (wantLen >= 0 && n != wantLen) throw new IllegalArgumentException(ctx + ": " + must);
        return Arrays.copyOf(out, n);
    }

    private static String shortText(String s) { return s.length() > 40 ? s.substring(0, 40) + "..." : s; }

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
