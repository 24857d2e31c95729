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
}
