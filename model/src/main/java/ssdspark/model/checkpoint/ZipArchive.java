package ssdspark.model.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip file (with zip64), enough to locate entries for memory-mapping.
 * torch.save writes every record STORED and 64-byte aligned, so tensor data is mapped straight from the file;
 * DEFLATED entries (an archive someone re-zipped) are inflated into memory instead.
 * java.util.zip.ZipFile is not used because it cannot tell where an entry's bytes start in the file.
 */
final class ZipArchive {
    private static final int EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50;
    private static final int CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
    private static final long U32 = 0xFFFFFFFFL;

    record Entry(String name, int method, int flags, long compressedSize, long size, long localHeaderOffset) {}

    private final MappedFile file;
    private final Map<String, Entry> entries;

    private ZipArchive(MappedFile file, Map<String, Entry> entries) {
        this.file = file;
        this.entries = entries;
    }

    Map<String, Entry> entries() { return entries; }

    Entry get(String name) { return entries.get(name); }

    static ZipArchive read(MappedFile f) {
        String where = f.path.toString();
        if (f.size < 22) throw corrupt(where, "too small to be a zip archive");
        int tailLen = (int) Math.min(f.size, 22 + 0xFFFF);
        long tailStart = f.size - tailLen;
        ByteBuffer tail = f.map(tailStart, tailLen).order(ByteOrder.LITTLE_ENDIAN);
        int eocd = -1;
        for (int i = tailLen - 22; i >= 0; i--) {
            if (tail.getInt(i) == EOCD) { eocd = i; break; }
        }
        if (eocd < 0) throw corrupt(where, "no end-of-central-directory record (truncated download?)");
        long count = tail.getShort(eocd + 10) & 0xFFFF;
        long cdSize = tail.getInt(eocd + 12) & U32;
        long cdOffset = tail.getInt(eocd + 16) & U32;
        long eocdPos = tailStart + eocd;
        if (eocdPos >= 20) {
            ByteBuffer loc = f.map(eocdPos - 20, 20).order(ByteOrder.LITTLE_ENDIAN);
            if (loc.getInt(0) == ZIP64_LOCATOR) {
                long z = loc.getLong(8);
                ByteBuffer z64 = f.map(checkRange(where, z, 56, eocdPos), 56).order(ByteOrder.LITTLE_ENDIAN);
                if (z64.getInt(0) != ZIP64_EOCD) throw corrupt(where, "zip64 end record missing where its locator points");
                count = z64.getLong(32);
                cdSize = z64.getLong(40);
                cdOffset = z64.getLong(48);
                eocdPos = z;
            }
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > eocdPos - cdSize || cdSize > Integer.MAX_VALUE || count > cdSize / 46)
            throw corrupt(where, "central directory (" + count + " entries, " + cdSize + " bytes at " + cdOffset + ") does not fit the file");
        ByteBuffer cd = f.map(cdOffset, (int) cdSize).order(ByteOrder.LITTLE_ENDIAN);
        Map<String, Entry> entries = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cdSize || cd.getInt(p) != CENTRAL) throw corrupt(where, "central directory entry " + i + " is damaged");
            int flags = cd.getShort(p + 8) & 0xFFFF;
            int method = cd.getShort(p + 10) & 0xFFFF;
            long comp = cd.getInt(p + 20) & U32, size = cd.getInt(p + 24) & U32;
            int nameLen = cd.getShort(p + 28) & 0xFFFF, extraLen = cd.getShort(p + 30) & 0xFFFF, commentLen = cd.getShort(p + 32) & 0xFFFF;
            long local = cd.getInt(p + 42) & U32;
            if (p + 46L + nameLen + extraLen + commentLen > cdSize) throw corrupt(where, "central directory entry " + i + " is damaged");
            byte[] nameBytes = new byte[nameLen];
            cd.get(p + 46, nameBytes);
            String name = new String(nameBytes, (flags & 0x800) != 0 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            // zip64 extra (id 1): the 64-bit values of exactly those fields stored as 0xFFFFFFFF, in this order.
            for (int x = p + 46 + nameLen, end = x + extraLen; x + 4 <= end; ) {
                int id = cd.getShort(x) & 0xFFFF, len = cd.getShort(x + 2) & 0xFFFF;
                if (x + 4 + len > end) break;
                if (id == 1) {
                    int y = x + 4;
                    if (size == U32 && y + 8 <= x + 4 + len) { size = cd.getLong(y); y += 8; }
                    if (comp == U32 && y + 8 <= x + 4 + len) { comp = cd.getLong(y); y += 8; }
                    if (local == U32 && y + 8 <= x + 4 + len) { local = cd.getLong(y); }
                }
                x += 4 + len;
            }
            if (entries.put(name, new Entry(name, method, flags, comp, size, local)) != null)
                throw corrupt(where, "entry " + name + " appears twice");
            p += 46 + nameLen + extraLen + commentLen;
        }
        return new ZipArchive(f, Collections.unmodifiableMap(entries));
    }

    /** The entry's bytes: a mapped region when STORED, inflated into memory when DEFLATED. */
    Bytes bytes(Entry e) {
        String where = file.path + ": zip entry " + e.name;
        if ((e.flags & 1) != 0) throw new IllegalArgumentException(where + " is encrypted");
        ByteBuffer lh = file.map(checkRange(file.path.toString(), e.localHeaderOffset, 30, file.size), 30).order(ByteOrder.LITTLE_ENDIAN);
        if (lh.getInt(0) != LOCAL) throw new IllegalArgumentException(where + ": local header missing; the archive is corrupt");
        // The local extra field differs from the central one (torch pads it to align data), so read its own length.
        long data = e.localHeaderOffset + 30 + (lh.getShort(26) & 0xFFFF) + (lh.getShort(28) & 0xFFFF);
        if (e.method == 0) {
            if (e.compressedSize != e.size) throw new IllegalArgumentException(where + ": stored entry with differing sizes");
            return file.region(data, e.size);
        }
        if (e.method != 8)
            throw new IllegalArgumentException(where + " uses zip compression method " + e.method + "; only stored and deflated entries are supported");
        if (e.size > Integer.MAX_VALUE - 8 || e.compressedSize > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException(where + " is compressed and over 2 GiB; re-save it uncompressed with torch.save");
        // Deflate cannot expand more than ~1032:1; a larger claim is a zip bomb or a corrupt directory.
        if (e.size > e.compressedSize * 1032 + 1024)
            throw new IllegalArgumentException(where + " claims " + e.size + " bytes from " + e.compressedSize + " compressed; the archive is corrupt");
        byte[] in = file.read(data, (int) e.compressedSize);
        byte[] out = new byte[(int) e.size];
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(in);
            int n = 0;
            while (n < out.length && !inf.finished()) {
                int k = inf.inflate(out, n, out.length - n);
                if (k == 0 && (inf.needsInput() || inf.needsDictionary())) break;
                n += k;
            }
            if (n != out.length) throw new IllegalArgumentException(where + ": inflates to " + n + " bytes, expected " + out.length);
        } catch (DataFormatException ex) {
            throw new IllegalArgumentException(where + ": corrupt deflate data (" + ex.getMessage() + ")", ex);
        } finally {
            inf.end();
        }
        return Bytes.of(out);
    }

    /** A whole small entry as a byte array (data.pkl, byteorder). */
    byte[] readAll(Entry e) {
        Bytes b = bytes(e);
        if (b.size() > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(file.path + ": zip entry " + e.name + " is too large");
        ByteBuffer w = b.window(0, (int) b.size());
        byte[] out = new byte[w.remaining()];
        w.get(out);
        return out;
    }

    private static long checkRange(String where, long off, long len, long limit) {
        if (off < 0 || off > limit - len) throw corrupt(where, "a record at offset " + off + " lies outside the file");
        return off;
    }

    private static IllegalArgumentException corrupt(String where, String what) {
        return new IllegalArgumentException(where + ": not a readable zip archive: " + what);
    }
}
