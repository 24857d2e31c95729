package ssdspark.model.checkpoint;

import ssdspark.model.checkpoint.TorchUnpickler.StorageRef;
import ssdspark.model.checkpoint.TorchUnpickler.StorageType;
import ssdspark.model.checkpoint.TorchUnpickler.TensorRef;
import ssdspark.model.checkpoint.TorchUnpickler.Tuple;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A torch.save file (e.g. mamba_ssm's pytorch_model.bin): a zip holding {@code <prefix>/data.pkl} (the pickled
 * state dict, read by {@link TorchUnpickler}), {@code <prefix>/data/<key>} (one raw storage per key, elements in
 * the byte order of {@code <prefix>/byteorder}, little-endian when absent), and {@code <prefix>/version}.
 * The prefix is the saved file's stem ("pytorch_model") or "archive". Tensors are strided views of storages:
 * tied weights share a storage, slices have offsets, transposes have non-row-major strides.
 * Immutable once open; safe to read from several threads.
 */
public final class TorchCheckpoint implements TensorSource {
    /** Largest data.pkl read (before unpickling bounds its work further): ~100k tensors' worth. */
    static final long MAX_PICKLE = 64L << 20;

    private final MappedFile file;
    private final ZipArchive zip;
    private final String prefix;
    private final ByteOrder order;
    private final Map<String, TensorRef> tensors;
    private final Map<String, Bytes> storageBytes = new java.util.concurrent.ConcurrentHashMap<>();

    private TorchCheckpoint(MappedFile file, ZipArchive zip, String prefix, ByteOrder order, Map<String, TensorRef> tensors) {
        this.file = file;
        this.zip = zip;
        this.prefix = prefix;
        this.order = order;
        this.tensors = tensors;
    }

    public static TorchCheckpoint open(Path path) {
        MappedFile f = MappedFile.open(path);
        try {
            return parse(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static TorchCheckpoint parse(MappedFile f) {
        String where = f.path.toString();
        if (f.size >= 4) {
            ByteBuffer head = f.map(0, 4).order(ByteOrder.LITTLE_ENDIAN);
            int magic = head.getInt(0);
            if (magic != 0x04034b50 && magic != 0x06054b50) {
                if ((magic & 0xFF) == 0x80 || (magic & 0xFF) == 0x1F)
                    throw new IllegalArgumentException(f.path + ": not a zip archive; this looks like torch's legacy (pre-1.6) "
                            + "or a compressed format, which is not supported. Re-save it with torch>=1.6 (torch.save) or as safetensors.");
                throw new IllegalArgumentException(f.path + ": not a torch.save zip archive (it does not start with a zip header)");
            }
        }
        ZipArchive zip = ZipArchive.read(f);
        String prefix = findPrefix(f, zip);
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        ZipArchive.Entry bo = zip.get(prefix + "byteorder");
        if (bo != null) {
            String s = new String(zip.readAll(bo), StandardCharsets.US_ASCII).trim();
            if (s.equals("big")) order = ByteOrder.BIG_ENDIAN;
            else if (!s.equals("little")) throw new IllegalArgumentException(f.path + ": unknown byteorder record '" + s + "'");
        }
        ZipArchive.Entry pklEntry = zip.get(prefix + "data.pkl");
        if (pklEntry.size() > MAX_PICKLE)
            throw new IllegalArgumentException(f.path + ": data.pkl is " + pklEntry.size() + " bytes; a state dict's pickle is a few hundred bytes"
                    + " per tensor, so more than " + MAX_PICKLE + " means a corrupt or hostile file");
        byte[] pkl = zip.readAll(pklEntry);
        Map<String, StorageRef> storages = new HashMap<>();
        Object root = TorchUnpickler.load(pkl, where, pid -> storage(where, pid, storages));
        return new TorchCheckpoint(f, zip, prefix, order, stateDict(f, zip, prefix, root));
    }

    /** The folder holding data.pkl: exactly one top-level "x/data.pkl" (torch also accepts it at the root). */
    private static String findPrefix(MappedFile f, ZipArchive zip) {
        List<String> found = new ArrayList<>();
        for (String n : zip.entries().keySet()) {
            if (n.equals("data.pkl")) found.add("");
            else if (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length()) found.add(n.substring(0, n.length() - "data.pkl".length()));
        }
        if (found.size() == 1) return found.get(0);
        if (found.isEmpty()) {
            boolean script = zip.entries().keySet().stream().anyMatch(n -> n.endsWith("/constants.pkl") || n.contains("/code/"));
            throw new IllegalArgumentException(f.path + ": zip archive without a data.pkl, so not a torch.save file"
                    + (script ? " (it looks like TorchScript from torch.jit.save; save model.state_dict() with torch.save instead)" : ""));
        }
        throw new IllegalArgumentException(f.path + ": several data.pkl records " + found + "; expected one torch.save archive");
    }

    /** torch's persistent id: ('storage', storage type, key, location, numel); equal keys are one shared storage. */
    private static StorageRef storage(String where, Tuple pid, Map<String, StorageRef> seen) {
        if (pid.size() != 5 || !"storage".equals(pid.get(0)) || !(pid.get(1) instanceof StorageType type)
                || !(pid.get(2) instanceof String key) || !(pid.get(3) instanceof String location) || !(pid.get(4) instanceof Long numel) || numel < 0)
            throw new IllegalArgumentException(where + ": unexpected persistent id " + TorchUnpickler.describeItems(pid)
                    + "; expected ('storage', torch.<Type>Storage, key, location, numel) as written by torch.save");
        StorageRef prev = seen.get(key);
        if (prev != null) {
            if (!prev.type().equals(type))
                throw new IllegalArgumentException(where + ": storage " + key + " is used both as " + prev.type().name() + " and " + type.name());
            return prev;
        }
        StorageRef s = new StorageRef(type, key, location, numel);
        seen.put(key, s);
        return s;
    }

    private static Map<String, TensorRef> stateDict(MappedFile f, ZipArchive zip, String prefix, Object root) {
        if (!(root instanceof Map<?, ?> m))
            throw new IllegalArgumentException(f.path + ": holds " + TorchUnpickler.describe(root)
                    + ", not a state dict; save model.state_dict() with torch.save");
        Map<String, TensorRef> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            // Non-tensor entries (rare: extra ints or strings) are not weights; they are skipped.
            if (!(e.getKey() instanceof String name) || !(e.getValue() instanceof TensorRef t)) continue;
            check(f, zip, prefix, name, t);
            out.put(name, t);
        }
        if (out.isEmpty()) {
            List<String> keys = m.keySet().stream().limit(10).map(k -> k instanceof String n && n.length() <= 60 ? n : TorchUnpickler.describe(k)).toList();
            throw new IllegalArgumentException(f.path + ": the pickled dict holds no tensors at its top level (keys " + keys
                    + "); expected a state dict as torch.save(model.state_dict(), ...) writes. A training checkpoint that nests it"
                    + " (e.g. under \"model\") must be re-saved as just the state dict");
        }
        return Collections.unmodifiableMap(out);
    }

    /** Checks the view lies inside its storage and the storage inside its zip entry; dtype is checked on read. */
    private static void check(MappedFile f, ZipArchive zip, String prefix, String name, TensorRef t) {
        String ctx = f.path + ": tensor " + name;
        StorageRef s = t.storage();
        ZipArchive.Entry e = zip.get(prefix + "data/" + s.key());
        if (e == null) throw new IllegalArgumentException(ctx + ": its storage record " + prefix + "data/" + s.key() + " is missing from the archive");
        int el = Dtype.torchStorageSize(s.type().name());
        if (el == 0) return;
        try {
            if (e.size() < Math.multiplyExact(s.numel(), el))
                throw new IllegalArgumentException(ctx + ": storage " + s.key() + " should hold " + s.numel() + " x " + el + " bytes but its record has "
                        + e.size() + "; the file is truncated or corrupt");
            long numel = SafetensorsFile.numel(t.size());
            if (numel > 0 && Math.addExact(t.offset(), lastIndex(t)) >= s.numel())
                throw new IllegalArgumentException(ctx + ": view (offset " + t.offset() + ", size " + Arrays.toString(t.size()) + ", stride "
                        + Arrays.toString(t.stride()) + ") reaches past its storage of " + s.numel() + " elements; the file is corrupt");
        } catch (ArithmeticException ex) {
            throw new IllegalArgumentException(ctx + ": size " + Arrays.toString(t.size()) + " overflows", ex);
        }
    }

    /** Largest element index of the view relative to its offset: sum of (size - 1) * stride. */
    private static long lastIndex(TensorRef t) {
        long last = 0;
        for (int i = 0; i < t.size().length; i++) last = Math.addExact(last, Math.multiplyExact(t.size()[i] - 1, t.stride()[i]));
        return last;
    }

    @Override
    public Set<String> names() { return tensors.keySet(); }

    @Override
    public long[] shape(String name) { return get(name).size().clone(); }

    /** The torch storage class behind a tensor, e.g. "BFloat16Storage". */
    public String storageType(String name) { return get(name).storage().type().name(); }

    @Override
    public float[] readFloats(String name) {
        TensorRef t = get(name);
        StorageRef s = t.storage();
        Dtype type = Dtype.ofTorchStorage(s.type().name());
        if (type == null)
            throw new IllegalArgumentException(file.path + ": tensor " + name + " has unsupported dtype (torch." + s.type().name()
                    + "); only FloatStorage, BFloat16Storage, HalfStorage and DoubleStorage can be read as float");
        long n = SafetensorsFile.numel(t.size());
        if (n > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException(file.path + ": tensor " + name + " has " + n + " elements, more than a Java array holds");
        float[] out = new float[(int) n];
        if (n == 0) return out;
        // One Bytes per storage: a deflated one is inflated once, not once per tensor viewing it.
        Bytes data = storageBytes.computeIfAbsent(s.key(), k -> zip.bytes(zip.get(prefix + "data/" + k)));
        if (contiguous(t)) {
            data.readFloats(t.offset() * type.size, (int) n, type, order, out);
            return out;
        }
        // Strided view: map the span it touches once, then walk the indices (row-major output order).
        long spanBytes = (lastIndex(t) + 1) * type.size;
        if (spanBytes > Integer.MAX_VALUE)
            throw new IllegalArgumentException(file.path + ": non-contiguous tensor " + name + " spans over 2 GiB; save it contiguous (.contiguous())");
        ByteBuffer span = data.window(t.offset() * type.size, (int) spanBytes).order(order);
        gather(t.size(), t.stride(), span, type, out);
        return out;
    }

    /** Row-major walk over the index space, keeping the storage position incrementally (an odometer). */
    private static void gather(long[] size, long[] stride, ByteBuffer span, Dtype type, float[] out) {
        int rank = size.length;
        long[] idx = new long[rank];
        long at = 0;
        for (int i = 0; i < out.length; i++) {
            out[i] = type.decodeAt(span, (int) (at * type.size));
            for (int d = rank - 1; d >= 0; d--) {
                if (++idx[d] < size[d]) { at += stride[d]; break; }
                at -= (size[d] - 1) * stride[d];
                idx[d] = 0;
            }
        }
    }

    /** Row-major strides; dimensions of size 1 may carry any stride. */
    private static boolean contiguous(TensorRef t) {
        long expect = 1;
        for (int d = t.size().length - 1; d >= 0; d--) {
            if (t.size()[d] != 1 && t.stride()[d] != expect) return false;
            expect *= t.size()[d];
        }
        return true;
    }

    private TensorRef get(String name) {
        TensorRef t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException(file.path + ": no tensor named " + name + " (the state dict has " + tensors.size() + " tensors)");
        return t;
    }

    @Override
    public String description() { return file.path.toString(); }

    @Override
    public void close() { file.close(); }
}
