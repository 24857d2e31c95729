package ssdspark.model.checkpoint;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A restricted reader for the data.pkl of torch.save (pickle protocols 2-5). It interprets the opcodes into plain
 * Java values and never runs anything: a global outside the allow-list below is refused the moment it is named,
 * and the few allowed ones are not called but recognised ({@code _rebuild_tensor_v2} becomes a {@link TensorRef}).
 * Values: None → null, bool → Boolean, int → Long (BigInteger when wider), float → Double, str → String,
 * bytes → byte[], list → ArrayList, tuple → {@link Tuple}, dict/OrderedDict → LinkedHashMap, set → LinkedHashSet.
 * <p>
 * A hostile pickle of a few bytes can describe structures that are expensive to build, hash or print (tuples
 * of tuples sharing children through the memo double in size per level). So the work is bounded: the stack,
 * the memo and the items put into containers are capped ({@link #MAX_STACK}, {@link #MAX_MEMO},
 * {@link #MAX_ITEMS}); containers nest at most {@link #MAX_DEPTH} deep, and a container already inside another
 * cannot change (the pickler builds every value before using it, so depths are exact); dict keys and set items
 * must be scalars (a state dict's keys are strings), so nothing is ever hashed or compared deeply; and
 * messages describe a value by its type, never by walking it.
 */
final class TorchUnpickler {
    /** The globals a state dict needs: the dict type, tensor/parameter rebuilders, and storage types (as tags). */
    static final String ALLOWED = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, "
            + "torch._utils._rebuild_parameter_with_state and the torch.*Storage types";

    /** Far above a state dict's (an OrderedDict of tensors whose rebuild arguments are tuples: 4 levels). */
    static final int MAX_DEPTH = 32;
    /** Values on the stack at once: torch pickles dict items in batches of 1000. */
    static final int MAX_STACK = 1 << 20;
    /** Memo entries: about 8 per tensor. */
    static final int MAX_MEMO = 1 << 21;
    /** Items put into lists, tuples, dicts and sets over the whole pickle: ~20 per tensor. */
    static final int MAX_ITEMS = 1 << 22;

    /** The bounds above, as one value so tests can exercise them with small numbers. */
    record Limits(int depth, int stack, int memo, long items) {
        static final Limits DEFAULT = new Limits(MAX_DEPTH, MAX_STACK, MAX_MEMO, MAX_ITEMS);
    }

    /** A Python tuple (distinct from a list); depth is its nesting, 1 for a tuple of scalars. */
    record Tuple(List<Object> items, int depth) {
        int size() { return items.size(); }

        Object get(int i) { return items.get(i); }
    }

    /** torch.FloatStorage and friends, kept as a name; the dtype is resolved when a tensor is read. */
    record StorageType(String name) {}

    /** A storage from a persistent id ('storage', type, key, location, numel): zip entry data/{key}. */
    record StorageRef(StorageType type, String key, String location, long numel) {}

    /** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a strided view of a storage, in elements. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** An allowed global function, not yet applied. */
    private enum Fn {
        ORDERED_DICT("collections.OrderedDict"),
        REBUILD_TENSOR_V2("torch._utils._rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils._rebuild_parameter"),
        REBUILD_PARAMETER_WITH_STATE("torch._utils._rebuild_parameter_with_state");

        final String python;

        Fn(String python) { this.python = python; }

        @Override public String toString() { return python; }
    }

    private static final Object MARK = new Object();

    /** A container's nesting depth and whether another container holds it yet. */
    private static final class Nesting {
        int depth = 1;
        boolean held;
    }

    /** Python's mutable containers, each with its {@link Nesting}. */
    private interface Container {
        Nesting nesting();
    }

    private static final class PyList extends ArrayList<Object> implements Container {
        private final Nesting nesting = new Nesting();

        @Override public Nesting nesting() { return nesting; }
    }

    private static final class PyDict extends LinkedHashMap<Object, Object> implements Container {
        private final Nesting nesting = new Nesting();

        @Override public Nesting nesting() { return nesting; }
    }

    private static final class PySet extends LinkedHashSet<Object> implements Container {
        private final Nesting nesting = new Nesting();

        @Override public Nesting nesting() { return nesting; }
    }

    private final byte[] b;
    private final String where;
    private final Function<Tuple, Object> persistentLoad;
    private final Limits limits;
    private int pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long items;

    private TorchUnpickler(byte[] b, String where, Function<Tuple, Object> persistentLoad, Limits limits) {
        this.limits = limits;
        this.b = b;
        this.where = where;
        this.persistentLoad = persistentLoad;
    }

    /**
     * Reads one pickle. persistentLoad turns a BINPERSID tuple into a value (torch: a {@link StorageRef}).
     * where names the file in messages.
     */
    static Object load(byte[] pickle, String where, Function<Tuple, Object> persistentLoad) {
        return load(pickle, where, persistentLoad, Limits.DEFAULT);
    }

    static Object load(byte[] pickle, String where, Function<Tuple, Object> persistentLoad, Limits limits) {
        return new TorchUnpickler(pickle, where, persistentLoad, limits).run();
    }

    private Object run() {
        while (true) {
            int at = pos;
            int op = u8();
            switch (op) {
                case 0x80: { // PROTO
                    int v = u8();
                    if (v < 2 || v > 5) throw fail("pickle protocol " + v + " is not supported (torch.save writes 2; 2-5 are read)");
                    break;
                }
                case 0x95: skip(8); break;                                 // FRAME: only a read-ahead hint
                case '.': {                                                 // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) throw fail("pickle stops with " + stack.size() + " values on its stack");
                    return stack.get(0);
                }
                case '(': marks.add(stack.size()); stack.add(MARK); break;  // MARK
                case '0': pop(); break;                                     // POP
                case '1': popMark(); break;                                 // POP_MARK
                case '2': push(peek()); break;                              // DUP
                case 'N': push(null); break;                                // NONE
                case 0x88: push(Boolean.TRUE); break;                       // NEWTRUE
                case 0x89: push(Boolean.FALSE); break;                      // NEWFALSE
                case 'J': push((long) le(4).getInt()); break;               // BININT
                case 'K': push((long) u8()); break;                         // BININT1
                case 'M': push((long) (le(2).getShort() & 0xFFFF)); break;  // BININT2
                case 0x8a: push(longN(u8())); break;                        // LONG1
                case 0x8b: push(longN(len32())); break;                     // LONG4
                case 'G': push(ByteBuffer.wrap(bytes(8)).getDouble()); break; // BINFLOAT (big-endian)
                case 'X': push(utf8(len32())); break;                       // BINUNICODE
                case 0x8c: push(utf8(u8())); break;                         // SHORT_BINUNICODE
                case 0x8d: push(utf8(len64())); break;                      // BINUNICODE8
                case 'T': push(utf8(len32())); break;                       // BINSTRING (py2 str; torch loads as utf-8)
                case 'U': push(utf8(u8())); break;                          // SHORT_BINSTRING
                case 'B': push(bytes(len32())); break;                      // BINBYTES
                case 'C': push(bytes(u8())); break;                         // SHORT_BINBYTES
                case 0x8e: push(bytes(len64())); break;                     // BINBYTES8
                case 0x96: push(bytes(len64())); break;                     // BYTEARRAY8
                case ')': push(tuple(List.of())); break;                    // EMPTY_TUPLE
                case 0x85: push(tupleOf(1)); break;                         // TUPLE1
                case 0x86: push(tupleOf(2)); break;                         // TUPLE2
                case 0x87: push(tupleOf(3)); break;                         // TUPLE3
                case 't': push(tuple(popMark())); break;                    // TUPLE
                case ']': push(new PyList()); break;                        // EMPTY_LIST
                case 'l': push(addAll(new PyList(), popMark(), "LIST")); break; // LIST
                case '}': push(new PyDict()); break;                        // EMPTY_DICT
                case 'd': push(putPairs(new PyDict(), popMark(), "DICT")); break; // DICT
                case 0x8f: push(new PySet()); break;                        // EMPTY_SET
                case 0x91: push(addAll(new PySet(), popMark(), "FROZENSET")); break; // FROZENSET
                case 0x90: {                                                // ADDITEMS
                    List<Object> v = popMark();
                    addAll(set(peek(), "ADDITEMS"), v, "ADDITEMS");
                    break;
                }
                case 'a': { Object v = pop(); addAll(list(peek(), "APPEND"), Collections.singletonList(v), "APPEND"); break; } // APPEND
                case 'e': { List<Object> v = popMark(); addAll(list(peek(), "APPENDS"), v, "APPENDS"); break; } // APPENDS
                case 's': {                                                 // SETITEM
                    Object v = pop(), k = pop();
                    putPairs(dict(peek(), "SETITEM"), Arrays.asList(k, v), "SETITEM");
                    break;
                }
                case 'u': { List<Object> kv = popMark(); putPairs(dict(peek(), "SETITEMS"), kv, "SETITEMS"); break; } // SETITEMS
                case 'q': memoPut(u8()); break;                             // BINPUT
                case 'r': memoPut(len32()); break;                          // LONG_BINPUT
                case 0x94: memoPut(memo.size()); break;                     // MEMOIZE
                case 'h': push(memoGet(u8())); break;                       // BINGET
                case 'j': push(memoGet(len32())); break;                    // LONG_BINGET
                case 'c': push(global(line(), line())); break;              // GLOBAL
                case 0x93: {                                                // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw fail("STACK_GLOBAL needs two strings");
                    push(global(m, n));
                    break;
                }
                case 'Q': {                                                 // BINPERSID
                    Object pid = pop();
                    if (!(pid instanceof Tuple t)) throw fail("persistent id is not a tuple: " + describe(pid));
                    push(persistentLoad.apply(t));
                    break;
                }
                case 'R': {                                                 // REDUCE
                    Object args = pop(), fn = pop();
                    push(reduce(fn, args));
                    break;
                }
                case 0x81: {                                                // NEWOBJ: cls.__new__(cls, *args)
                    Object args = pop(), cls = pop();
                    if (cls == Fn.ORDERED_DICT && args instanceof Tuple t && t.size() == 0) { push(new PyDict()); break; }
                    throw fail("the pickle instantiates " + describe(cls) + " (NEWOBJ); a state dict only holds tensors and dicts");
                }
                case 'b': {                                                 // BUILD: obj.__setstate__(state)
                    Object state = pop();
                    Object target = peek();
                    // state_dict() OrderedDicts carry a _metadata attribute (version numbers): harmless, dropped.
                    if (target instanceof Map && (state instanceof Map || state instanceof Tuple || state == null)) break;
                    throw fail("BUILD (setting state) on " + describe(target) + " is not allowed; only dict attributes are accepted");
                }
                default:
                    pos = at;
                    throw fail("opcode 0x" + Integer.toHexString(op) + " ('" + (char) op + "') is not supported here: "
                            + "it is not used by torch.save for a state dict");
            }
        }
    }

    /** The allow-list. Everything else is refused before anything could use it. */
    private Object global(String module, String name) {
        String full = module + "." + name;
        switch (full) {
            case "collections.OrderedDict": return Fn.ORDERED_DICT;
            case "torch._utils._rebuild_tensor_v2": return Fn.REBUILD_TENSOR_V2;
            case "torch._utils._rebuild_parameter": return Fn.REBUILD_PARAMETER;
            case "torch._utils._rebuild_parameter_with_state": return Fn.REBUILD_PARAMETER_WITH_STATE;
            case "torch.storage.UntypedStorage": return new StorageType("UntypedStorage");
            default:
                if (module.equals("torch") && name.matches("[A-Za-z0-9_]+Storage")) return new StorageType(name);
                throw new IllegalArgumentException(where + ": refusing to load: the pickle references " + full + alias(module, name)
                        + ", which is not a torch tensor-rebuild function; only " + ALLOWED + " are allowed. Nothing was executed. "
                        + "If you trust this file, re-save it as safetensors (safetensors.torch.save_file(model.state_dict(), ...)).");
        }
    }

    /** pickle names os.system after the module that defines it (posix on Linux, nt on Windows); say both. */
    private static String alias(String module, String name) {
        if (module.equals("posix") || module.equals("nt")) return " (os." + name + ")";
        if (module.equals("__builtin__")) return " (builtins." + name + ")";
        return "";
    }

    private Object reduce(Object fn, Object argsObj) {
        if (!(fn instanceof Fn f)) throw fail("the pickle calls " + describe(fn) + ", which is not callable here");
        if (!(argsObj instanceof Tuple args)) throw fail("arguments of " + f + " are not a tuple");
        switch (f) {
            case ORDERED_DICT: {
                PyDict m = new PyDict();
                if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        if (!(p instanceof Tuple kv) || kv.size() != 2) throw fail("OrderedDict items are not (key, value) pairs");
                        putPairs(m, kv.items(), "OrderedDict");
                    }
                } else if (args.size() != 0) throw fail("OrderedDict called with unexpected arguments");
                return m;
            }
            case REBUILD_TENSOR_V2: {
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (args.size() < 4) throw fail("_rebuild_tensor_v2 expects at least 4 arguments, got " + args.size());
                if (!(args.get(0) instanceof StorageRef s)) throw fail("_rebuild_tensor_v2's storage is " + describe(args.get(0)) + ", not a persistent storage");
                long offset = asLong(args.get(1), "storage offset");
                if (offset < 0) throw fail("_rebuild_tensor_v2's storage offset " + offset + " is negative");
                long[] size = longs(args.get(2), "size"), stride = longs(args.get(3), "stride");
                if (size.length != stride.length) throw fail("tensor size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride) + " differ in rank");
                return new TensorRef(s, offset, size, stride);
            }
            case REBUILD_PARAMETER:
            case REBUILD_PARAMETER_WITH_STATE: {
                // (data, requires_grad, backward_hooks[, state]): a Parameter is its data for us.
                if (args.size() < 1 || !(args.get(0) instanceof TensorRef t)) throw fail(f + " expects a tensor as first argument");
                return t;
            }
            default: throw new AssertionError(f);
        }
    }

    // ---- stack and input helpers --------------------------------------------------------------------------------

    private void push(Object o) {
        if (stack.size() >= limits.stack) throw fail("more than " + limits.stack + " values on the stack; a state dict needs a few thousand");
        stack.add(o);
    }

    private Object pop() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw fail("stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw fail("stack underflow");
        return stack.get(stack.size() - 1);
    }

    /** Removes everything above the last MARK (and the mark) and returns it in order. */
    private List<Object> popMark() {
        if (marks.isEmpty()) throw fail("MARK expected");
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private Tuple tupleOf(int n) {
        Object[] a = new Object[n];
        for (int i = n - 1; i >= 0; i--) a[i] = pop();
        return tuple(Arrays.asList(a));
    }

    /** A tuple of the items (copied: List.copyOf refuses nulls, and tuples may hold None). */
    private Tuple tuple(List<Object> l) {
        return new Tuple(Collections.unmodifiableList(new ArrayList<>(l)), hold(1, l, "TUPLE"));
    }

    /** 0 for scalars, else the container's nesting. */
    private static int depth(Object v) {
        if (v instanceof Tuple t) return t.depth();
        return v instanceof Container c ? c.nesting().depth : 0;
    }

    /**
     * Items go into a container of depth d: counts them against {@link #MAX_ITEMS}, marks contained containers
     * as held (frozen) and returns the container's new depth, refused beyond {@link #MAX_DEPTH}.
     */
    private int hold(int d, List<Object> l, String op) {
        items += l.size();
        if (items > limits.items) throw fail("more than " + limits.items + " items in containers; a state dict needs about 20 per tensor");
        for (Object v : l) {
            d = Math.max(d, depth(v) + 1);
            if (v instanceof Container c) c.nesting().held = true;
        }
        if (d > limits.depth) throw fail(op + " nests values " + d + " levels deep (at most " + limits.depth + "); a state dict needs 4");
        return d;
    }

    private <C extends java.util.Collection<Object> & Container> C addAll(C c, List<Object> l, String op) {
        grow(c, l, op);
        if (c instanceof PySet) for (Object v : l) scalar(v, "a set item");
        c.addAll(l);
        return c;
    }

    private PyDict putPairs(PyDict m, List<Object> kv, String op) {
        if (kv.size() % 2 != 0) throw fail("odd number of items for a dict");
        grow(m, kv, op);
        for (int i = 0; i < kv.size(); i += 2) m.put(scalar(kv.get(i), "a dict key"), kv.get(i + 1));
        return m;
    }

    /** A container changes: refused once it is inside another (its holders' depths would go stale). */
    private void grow(Container c, List<Object> l, String op) {
        if (c.nesting().held) throw fail(op + " changes a container that is already inside another value; pickles of state dicts never do");
        c.nesting().depth = hold(c.nesting().depth, l, op);
    }

    /** Dict keys and set items are hashed: only scalars, whose hashing is cheap (a state dict's keys are strings). */
    private Object scalar(Object v, String what) {
        if (v == null || v instanceof String || v instanceof Long || v instanceof Boolean || v instanceof Double || v instanceof BigInteger)
            return v;
        throw fail(what + " is " + describe(v) + "; only strings, numbers and None are accepted as keys (a state dict's keys are strings)");
    }

    private void memoPut(long key) {
        if (memo.size() >= limits.memo && !memo.containsKey(key)) throw fail("more than " + limits.memo + " memo entries; a state dict needs a few per tensor");
        memo.put(key, peek());
    }

    private PyDict dict(Object o, String op) {
        if (o instanceof PyDict d) return d;
        throw fail(op + " on " + describe(o) + ", which is not a dict");
    }

    private PyList list(Object o, String op) {
        if (o instanceof PyList l) return l;
        throw fail(op + " on " + describe(o) + ", which is not a list");
    }

    private PySet set(Object o, String op) {
        if (o instanceof PySet st) return st;
        throw fail(op + " on " + describe(o) + ", which is not a set");
    }

    private Object memoGet(long key) {
        if (!memo.containsKey(key)) throw fail("memo entry " + key + " read before it was written");
        return memo.get(key);
    }

    private int u8() {
        need(1);
        return b[pos++] & 0xFF;
    }

    private ByteBuffer le(int n) {
        need(n);
        ByteBuffer bb = ByteBuffer.wrap(b, pos, n).order(ByteOrder.LITTLE_ENDIAN);
        pos += n;
        return bb;
    }

    private long len32() { return le(4).getInt() & 0xFFFFFFFFL; }

    private long len64() {
        long n = le(8).getLong();
        if (n < 0) throw fail("negative length");
        return n;
    }

    private void need(long n) {
        if (n > b.length - pos) throw fail("the pickle ends unexpectedly (truncated data.pkl?)");
    }

    private void skip(long n) { need(n); pos += (int) n; }

    private byte[] bytes(long n) {
        need(n);
        byte[] out = Arrays.copyOfRange(b, pos, pos + (int) n);
        pos += (int) n;
        return out;
    }

    private String utf8(long n) { return new String(bytes(n), StandardCharsets.UTF_8); }

    /** A text line (GLOBAL's module and name), without its newline. */
    private String line() {
        int start = pos;
        while (pos < b.length && b[pos] != '\n') pos++;
        if (pos >= b.length) throw fail("the pickle ends unexpectedly inside GLOBAL");
        return new String(b, start, pos++ - start, StandardCharsets.UTF_8);
    }

    /** Little-endian two's-complement integer of n bytes (LONG1/LONG4). */
    private Object longN(long n) {
        byte[] le = bytes(n);
        if (le.length == 0) return 0L;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private long asLong(Object o, String what) {
        if (o instanceof Long l) return l;
        throw fail(what + " is " + describe(o) + ", not an integer");
    }

    private long[] longs(Object o, String what) {
        if (!(o instanceof Tuple t)) throw fail("tensor " + what + " is " + describe(o) + ", not a tuple");
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = asLong(t.get(i), what + " element");
            if (out[i] < 0) throw fail("tensor " + what + " has a negative element " + out[i]);
        }
        return out;
    }

    /** A tuple's items, each described shallowly. */
    static String describeItems(Tuple t) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < Math.min(t.size(), 8); i++) parts.add(describe(t.get(i)));
        if (t.size() > 8) parts.add("...");
        return "(" + String.join(", ", parts) + ")";
    }

    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Fn f) return f.python;
        if (o instanceof String s) return "the string '" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        if (o instanceof Long || o instanceof Boolean || o instanceof Double) return String.valueOf(o);
        if (o instanceof Tuple) return "a tuple";
        if (o instanceof PyList) return "a list";
        if (o instanceof PyDict) return "a dict";
        if (o instanceof PySet) return "a set";
        return "a " + o.getClass().getSimpleName();
    }

    private IllegalArgumentException fail(String what) {
        return new IllegalArgumentException(where + ": cannot read the pickle (at byte " + pos + "): " + what);
    }
}
