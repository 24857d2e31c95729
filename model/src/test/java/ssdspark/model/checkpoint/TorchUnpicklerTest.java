package ssdspark.model.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import ssdspark.model.checkpoint.TorchUnpickler.StorageRef;
import ssdspark.model.checkpoint.TorchUnpickler.StorageType;
import ssdspark.model.checkpoint.TorchUnpickler.TensorRef;
import ssdspark.model.checkpoint.TorchUnpickler.Tuple;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The restricted unpickler on hand-assembled pickles: what it builds, and what it refuses. */
class TorchUnpicklerTest {
    /** Assembles pickle opcodes; method names follow pickletools. */
    private static final class P {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();

        P op(int... ops) { for (int o : ops) b.write(o); return this; }

        P proto(int v) { return op(0x80, v); }

        P global(String module, String name) { op('c'); raw(module + "\n" + name + "\n"); return this; }

        P unicode(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            le(u.length, 4);
            b.writeBytes(u);
            return this;
        }

        P shortUnicode(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            op(0x8c, u.length);
            b.writeBytes(u);
            return this;
        }

        P int1(int v) { return op('K', v); }

        /** n copies of one opcode. */
        P times(int op, int n) {
            byte[] a = new byte[n];
            Arrays.fill(a, (byte) op);
            b.writeBytes(a);
            return this;
        }

        P le(long v, int n) { for (int i = 0; i < n; i++) b.write((int) (v >>> (8 * i))); return this; }

        P raw(String s) { b.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1)); return this; }

        byte[] bytes() { return b.toByteArray(); }
    }

    private static Object load(byte[] pkl) {
        return TorchUnpickler.load(pkl, "test.pkl", pid -> {
            throw new AssertionError("no persistent ids expected");
        });
    }

    private static String failure(byte[] pkl) {
        return assertThrows(IllegalArgumentException.class, () -> load(pkl)).getMessage();
    }

    @ParameterizedTest
    @CsvSource({"os,system,os.system", "posix,system,os.system", "nt,system,os.system", "builtins,eval,builtins.eval",
            "__builtin__,eval,builtins.eval", "builtins,exec,builtins.exec", "subprocess,Popen,subprocess.Popen",
            "torch,load,torch.load", "torch.storage,_load_from_bytes,torch.storage._load_from_bytes",
            "torch,os.system,torch.os.system", "torch._utils,_rebuild_from_type_v2,torch._utils._rebuild_from_type_v2",
            "collections,defaultdict,collections.defaultdict", "torch,FloatStorage.__init__,torch.FloatStorage.__init__"})
    void refusesEveryOtherGlobal(String module, String name, String shown) {
        // (os.system, ('touch x',)) as pickle.dumps writes it, protocol 2: GLOBAL, args, REDUCE.
        byte[] pkl = new P().proto(2).global(module, name).unicode("touch x").op(0x85, 'R', '.').bytes();
        String m = failure(pkl);
        assertTrue(m.startsWith("test.pkl: refusing to load: the pickle references " + module + "." + name), m);
        assertTrue(m.contains(shown) && m.contains("only collections.OrderedDict") && m.contains("Nothing was executed"), m);
    }

    @Test
    void refusesWithStackGlobalAndWithoutACall() {
        // Protocol 4 names globals from the stack; merely naming one is enough to stop.
        byte[] pkl = new P().proto(4).shortUnicode("builtins").shortUnicode("eval").op(0x93, '.').bytes();
        String m = failure(pkl);
        assertTrue(m.contains("refusing to load") && m.contains("builtins.eval"), m);
    }

    @Test
    void refusalHappensBeforeLaterOpcodesAreSeen() {
        AtomicInteger persistentLoads = new AtomicInteger();
        byte[] pkl = new P().proto(2).op('}').global("os", "system").op(0xFF).bytes();   // 0xFF would be an error too
        String m = assertThrows(IllegalArgumentException.class,
                () -> TorchUnpickler.load(pkl, "x", pid -> { persistentLoads.incrementAndGet(); return null; })).getMessage();
        assertTrue(m.contains("os.system"), m);
        assertEquals(0, persistentLoads.get());
    }

    @Test
    void buildsPlainValues() {
        P p = new P().proto(2).op(']', 'q', 0, '(');
        p.op('J').le(-5, 4);                                 // BININT -5
        p.op('M').le(65535, 2);                              // BININT2
        p.op(0x8a, 9).le(0, 8).op(1);                        // LONG1 2^64
        p.op(0x8a, 2).le(0xFF7F, 2);                         // LONG1 -129
        p.op(0x8b).le(1, 4).op(0x05);                        // LONG4 5
        p.op('G').le(Long.reverseBytes(Double.doubleToLongBits(0.1)), 8); // BINFLOAT is big-endian
        p.op('N', 0x88, 0x89);                               // None, True, False
        p.op('C', 2, 'h', 'i');                              // SHORT_BINBYTES
        p.op(0x8d).le(2, 8).raw("\u00c3\u00a9");             // BINUNICODE8 "é"
        p.op('U', 3).raw("abc");                             // SHORT_BINSTRING
        p.op('e');                                           // APPENDS the twelve values
        p.op('(', 'K', 1, 'K', 2, 'l', 'q', 1);              // LIST [1, 2] → memo 1
        p.op('0', 'h', 1, 'r').le(300, 4).op('0', 'j').le(300, 4); // POP, BINGET, LONG_BINPUT, POP, LONG_BINGET
        p.op(0x8f, '(', 'K', 3, 0x90);                       // EMPTY_SET + ADDITEMS {3}
        p.op('(', 'K', 4, 0x91);                             // FROZENSET {4}
        p.op('(', 'K', 5, 'K', 6, 'd');                      // DICT {5: 6}
        p.op('2', 0x94, '0');                                // DUP, MEMOIZE, POP
        p.op(0x87, 0x87, '.');                               // (list, [1, 2], ({3}, {4}, {5: 6}))
        Tuple t = (Tuple) load(p.bytes());
        assertEquals(3, t.size());
        List<?> list = (List<?>) t.get(0);
        assertEquals(Arrays.asList(-5L, 65535L, BigInteger.ONE.shiftLeft(64), -129L, 5L, 0.1, null, true, false), list.subList(0, 9));
        assertArrayEquals("hi".getBytes(StandardCharsets.US_ASCII), (byte[]) list.get(9));
        assertEquals("é", list.get(10));
        assertEquals("abc", list.get(11));
        assertEquals(List.of(1L, 2L), t.get(1));
        Tuple inner = (Tuple) t.get(2);
        assertEquals(Set.of(3L), inner.get(0));
        assertEquals(Set.of(4L), inner.get(1));
        assertEquals(Map.of(5L, 6L), inner.get(2));
    }

    /** A state dict entry exactly as torch.save writes it, including the BUILD of state_dict()'s _metadata. */
    @Test
    void rebuildsTensorsFromPersistentStorages() {
        P p = new P().proto(2).global("collections", "OrderedDict").op('q', 0, ')', 'R', 'q', 1, '(');
        for (String name : new String[]{"a", "b"}) {
            p.unicode(name).global("torch._utils", "_rebuild_tensor_v2").op('(', '(');
            p.unicode("storage").global("torch", "BFloat16Storage").unicode("0").unicode("cuda:0").op('M').le(1000, 2).op('t', 'Q');
            p.int1(name.equals("a") ? 0 : 6).int1(2).int1(3).op(0x86).int1(1).int1(2).op(0x86);
            p.op(0x89).op('h', 0, ')', 'R', 't', 'R');
        }
        p.op('u', '}').unicode("_metadata").op('}', 's', 'b', '.');
        List<Tuple> pids = new ArrayList<>();
        Object root = TorchUnpickler.load(p.bytes(), "sd", pid -> {
            pids.add(pid);
            return new StorageRef((StorageType) pid.get(1), (String) pid.get(2), (String) pid.get(3), (Long) pid.get(4));
        });
        Map<?, ?> sd = assertInstanceOf(Map.class, root);
        assertEquals(List.of("a", "b"), List.copyOf(sd.keySet()));
        TensorRef a = (TensorRef) sd.get("a"), b = (TensorRef) sd.get("b");
        assertEquals(new StorageType("BFloat16Storage"), a.storage().type());
        assertEquals("cuda:0", a.storage().location());
        assertEquals(1000L, a.storage().numel());
        assertArrayEquals(new long[]{2, 3}, a.size());
        assertArrayEquals(new long[]{1, 2}, a.stride());
        assertEquals(6, b.offset());
        assertEquals(2, pids.size());
        assertEquals("storage", pids.get(0).get(0));
    }

    @Test
    void parameterIsItsData() {
        TensorRef data = new TensorRef(new StorageRef(new StorageType("FloatStorage"), "0", "cpu", 1), 0, new long[0], new long[0]);
        byte[] pkl = new P().proto(2).global("torch._utils", "_rebuild_parameter").op('(')
                .unicode("pid").op(0x85, 'Q', 0x88).global("collections", "OrderedDict").op(')', 'R', 't', 'R', '.').bytes();
        assertSame(data, TorchUnpickler.load(pkl, "x", pid -> data));
    }

    @Test
    void refusesObjectConstructionAndState() {
        // NEWOBJ of a storage type, BUILD on a list, REDUCE on a storage type, INST, OBJ, EXT1, NEXT_BUFFER.
        String m = failure(new P().proto(2).global("torch", "FloatStorage").op(')', 0x81, '.').bytes());
        assertTrue(m.contains("NEWOBJ"), m);
        m = failure(new P().proto(2).op(']', '}', 'b', '.').bytes());
        assertTrue(m.contains("BUILD"), m);
        m = failure(new P().proto(2).global("torch", "FloatStorage").op(')', 'R', '.').bytes());
        assertTrue(m.contains("not callable"), m);
        for (int op : new int[]{'i', 'o', 0x82, 0x97, 'P', 'I'}) {
            m = failure(new P().proto(2).op('(', op, 0, '.').bytes());
            assertTrue(m.contains("not supported"), m);
        }
        // NEWOBJ of OrderedDict is how some picklers write an empty dict subclass: accepted.
        assertEquals(Map.of(), load(new P().proto(2).global("collections", "OrderedDict").op(')', 0x81, '.').bytes()));
    }

    @Test
    void malformedPickles() {
        String m = failure(new P().proto(2).op('X').le(100, 4).raw("short").bytes());
        assertTrue(m.contains("ends unexpectedly"), m);
        m = failure(new P().proto(6).op('N', '.').bytes());
        assertTrue(m.contains("protocol 6"), m);
        m = failure(new P().proto(2).op('0', '.').bytes());
        assertTrue(m.contains("underflow"), m);
        m = failure(new P().proto(2).op('h', 7, '.').bytes());
        assertTrue(m.contains("memo entry 7"), m);
        m = failure(new P().proto(2).op('N', 'N', '.').bytes());
        assertTrue(m.contains("2 values"), m);
        m = failure(new P().proto(2).op('K', 1, 'K', 2, 'e', '.').bytes());
        assertTrue(m.contains("MARK expected"), m);
        m = failure(new P().proto(2).global("torch._utils", "_rebuild_tensor_v2").op('(', 'K', 1, 't', 'R', '.').bytes());
        assertTrue(m.contains("at least 4 arguments"), m);
        assertNull(load(new P().proto(2).op(0x95).le(1, 8).op('N', '.').bytes()), "FRAME is skipped");
    }

    // ---- hostile pickles: cheap to send, expensive to build, hash or print ------------------------------------

    private static String refusedQuickly(byte[] pkl) {
        return assertTimeoutPreemptively(Duration.ofSeconds(10), () -> failure(pkl));
    }

    /** memo[0] = t; t2 = (t, t): each step doubles the leaves of the tuple DAG with 4 bytes of pickle. */
    private static P doubling(P p, int levels) {
        for (int i = 0; i < levels; i++) p.op('q', 0, 'h', 0, 0x86);
        return p;
    }

    @Test
    void exponentialTupleDagIsRefusedByDepth() {
        byte[] pkl = doubling(new P().proto(2).op(')'), 60).op('.').bytes(); // 2^60 leaves in 246 bytes
        String m = refusedQuickly(pkl);
        assertTrue(m.contains("TUPLE nests values " + (TorchUnpickler.MAX_DEPTH + 1) + " levels deep"), m);
    }

    /** Java hashes a tuple by walking it: 2^30 leaves as a dict key or set item would hang the loader. */
    @Test
    void containersAreNeverHashed() {
        String m = refusedQuickly(doubling(new P().proto(2).op('}', ')'), 30).op('N', 's', '.').bytes());
        assertTrue(m.contains("a dict key is a tuple") && m.contains("keys are strings"), m);
        m = refusedQuickly(doubling(new P().proto(2).op(0x8f, '(', ')'), 30).op(0x90, '.').bytes());
        assertTrue(m.contains("a set item is a tuple"), m);
        m = refusedQuickly(new P().proto(2).op('(', ']', 'N', 'd', '.').bytes());
        assertTrue(m.contains("a dict key is a list"), m);
        // scalars are fine as keys
        assertEquals(Map.of(1L, "x"), load(new P().proto(2).op('}', 'K', 1).shortUnicode("x").op('s', '.').bytes()));
    }

    @Test
    void deepListsAreRefusedAtTheDepthBound() {
        P p = new P().proto(2).times(']', 100_000).times('a', 99_999);
        String m = refusedQuickly(p.op('.').bytes());
        assertTrue(m.contains("APPEND nests values " + (TorchUnpickler.MAX_DEPTH + 1) + " levels deep"), m);
        // at the bound it is fine
        P ok = new P().proto(2);
        for (int i = 0; i < TorchUnpickler.MAX_DEPTH; i++) ok.op(']');
        for (int i = 0; i < TorchUnpickler.MAX_DEPTH - 1; i++) ok.op('a');
        assertInstanceOf(List.class, load(ok.op('.').bytes()));
    }

    /** A container inside another may not change afterwards: the holder's recorded depth would go stale. */
    @Test
    void heldContainersAreFrozen() {
        String m = refusedQuickly(new P().proto(2).op(']', ']', 'q', 1, 'a', 'h', 1, 'N', 'a', '.').bytes());
        assertTrue(m.contains("APPEND changes a container that is already inside another value"), m);
        m = refusedQuickly(new P().proto(2).op('}', 'q', 1, '(', 'h', 1, 't', '0', 'h', 1, 'K', 1, 'N', 's', '.').bytes());
        assertTrue(m.contains("SETITEM changes a container"), m);
    }

    private static String refusedWithin(TorchUnpickler.Limits limits, byte[] pkl) {
        return assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(IllegalArgumentException.class,
                () -> TorchUnpickler.load(pkl, "test.pkl", pid -> null, limits)).getMessage());
    }

    /** Each count is capped; small limits exercise the same checks the defaults do. */
    @Test
    void stackMemoAndItemCountsAreCapped() {
        var small = new TorchUnpickler.Limits(TorchUnpickler.MAX_DEPTH, 100, 100, 1000);
        byte[] stackOk = new P().proto(2).op('(').times('N', 99).op('l', '.').bytes();
        assertEquals(99, ((List<?>) TorchUnpickler.load(stackOk, "ok", pid -> null, small)).size());
        assertTrue(refusedWithin(small, new P().proto(2).op('(').times('N', 100).op('.').bytes()).contains("more than 100 values on the stack"));
        assertTrue(refusedWithin(small, new P().proto(2).op('N').times(0x94, 101).op('.').bytes()).contains("more than 100 memo entries"));
        P r = new P().proto(2).op(']');
        for (int b = 0; b < 11; b++) r.op('(').times('N', 95).op('e');
        assertTrue(refusedWithin(small, r.op('.').bytes()).contains("more than 1000 items"));
        // the defaults, with a real-size stack overflow (1M values: ~1 MB of pickle)
        assertTrue(refusedQuickly(new P().proto(2).op('(').times('N', TorchUnpickler.MAX_STACK).op('.').bytes())
                .contains("more than " + TorchUnpickler.MAX_STACK + " values on the stack"));
    }

    /** A negative offset reached the storage read as an IndexOutOfBoundsException; now it is refused by name. */
    @Test
    void negativeStorageOffsetIsRefused() {
        P p = new P().proto(2).global("torch._utils", "_rebuild_tensor_v2").op('(', '(');
        p.unicode("storage").global("torch", "FloatStorage").unicode("0").unicode("cpu").int1(4).op('t', 'Q');
        p.op('J').le(-1, 4).int1(2).op(0x85).int1(1).op(0x85).op('t', 'R', '.');
        String m = assertThrows(IllegalArgumentException.class, () -> TorchUnpickler.load(p.bytes(), "neg.pkl",
                pid -> new StorageRef((StorageType) pid.get(1), (String) pid.get(2), (String) pid.get(3), (Long) pid.get(4)))).getMessage();
        assertTrue(m.contains("neg.pkl") && m.contains("storage offset -1 is negative"), m);
    }
}
