package ssdspark.model.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** Writes small safetensors files for tests: tensors in order, header padded to 8 bytes like the reference library. */
final class SafetensorsWriter {
    private record T(String name, String dtype, long[] shape, byte[] data) {}

    private final List<T> tensors = new ArrayList<>();
    private String metadata = "{\"format\":\"pt\"}";

    SafetensorsWriter add(String name, String dtype, long[] shape, byte[] data) {
        tensors.add(new T(name, dtype, shape, data));
        return this;
    }

    SafetensorsWriter f32(String name, long[] shape, float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return add(name, "F32", shape, b.array());
    }

    /** 16-bit patterns, for F16 and BF16. */
    SafetensorsWriter bits16(String name, String dtype, long[] shape, int... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : bits) b.putShort((short) x);
        return add(name, dtype, shape, b.array());
    }

    SafetensorsWriter f64(String name, long[] shape, double... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) b.putDouble(x);
        return add(name, "F64", shape, b.array());
    }

    SafetensorsWriter metadata(String json) {
        metadata = json;
        return this;
    }

    String header() {
        StringBuilder h = new StringBuilder("{");
        if (metadata != null) h.append("\"__metadata__\":").append(metadata);
        long pos = 0;
        for (T t : tensors) {
            if (h.length() > 1) h.append(',');
            String shape = Arrays.stream(t.shape).mapToObj(Long::toString).collect(Collectors.joining(",", "[", "]"));
            h.append('"').append(t.name).append("\":{\"dtype\":\"").append(t.dtype).append("\",\"shape\":").append(shape)
                    .append(",\"data_offsets\":[").append(pos).append(',').append(pos + t.data.length).append("]}");
            pos += t.data.length;
        }
        h.append('}');
        while ((h.length() % 8) != 0) h.append(' ');
        return h.toString();
    }

    Path write(Path file) throws IOException { return write(file, header()); }

    /** Writes with an explicit header text (to corrupt it on purpose). */
    Path write(Path file, String header) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int dataLen = tensors.stream().mapToInt(t -> t.data.length).sum();
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataLen).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (T t : tensors) b.put(t.data);
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, b.array());
        return file;
    }
}
