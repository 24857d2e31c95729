package ssdspark.rapids;

import ai.rapids.cudf.DType;
import ai.rapids.cudf.HostColumnVector;
import ai.rapids.cudf.HostColumnVector.BasicType;
import ai.rapids.cudf.HostColumnVector.ListType;
import ai.rapids.cudf.HostMemoryBuffer;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.DeviceDocs;
import ssdspark.model.DocumentRunner.Outcome;
import ssdspark.pipeline.sql.SqlDocuments;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The host halves of the columnar device path, without a GPU: a LIST column's offsets and validity mask (in cuDF's
 * own layout, from a host column) to the documents handed to the engine; which batches go to the host instead; and
 * results of documents run elsewhere turned into the same rows as the host path's. The engine's device entry points
 * are checked by DocumentRunner's DeviceDocsTest (packing, chunks, budgets) and, on a GPU, GpuDeviceIdsTest.
 */
class DevicePathTest {
    private static final String MODEL = Path.of(System.getProperty("ssdspark.home", ".."), "examples", "tiny-mamba2")
            .toAbsolutePath().normalize().toString();

    /** 20 rows: NULLs on both sides of byte boundaries of the mask (1, 7, 8, 16), empty rows, a 30-token row. */
    private static List<List<Integer>> rows() {
        List<List<Integer>> rows = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            if (i == 1 || i == 7 || i == 8 || i == 16) rows.add(null);
            else if (i % 5 == 3) rows.add(List.of());
            else {
                List<Integer> r = new ArrayList<>();
                for (int k = 0; k < (i == 10 ? 30 : 1 + i % 4); k++) r.add((i * 31 + k * 7) % 317);
                rows.add(r);
            }
        }
        return rows;
    }

    @SuppressWarnings("unchecked")
    private static HostColumnVector column(List<List<Integer>> rows) {
        return HostColumnVector.fromLists(new ListType(true, new BasicType(false, DType.INT32)), rows.toArray(new List[0]));
    }

    @Test
    void layoutOfACudfListColumnFindsEveryRowsIds() {
        List<List<Integer>> rows = rows();
        try (HostColumnVector col = column(rows)) {
            int n = rows.size();
            int[] offsets = new int[n + 1];
            col.getOffsets().getInts(offsets, 0, 0, n + 1);
            HostMemoryBuffer mask = col.getValidity();
            byte[] validity = new byte[(n + 7) / 8];
            mask.getBytes(validity, 0, 0, validity.length);
            ListLayout layout = ListLayout.of(n, offsets, validity);
            DeviceDocs docs = layout.docs(4096);
            HostMemoryBuffer data = col.getChildColumnView(0).getData();
            int k = 0;
            for (int i = 0; i < n; i++) {
                assertEquals(rows.get(i) != null, layout.present(i), "row " + i);
                if (rows.get(i) == null) continue;
                assertEquals(rows.get(i).size(), docs.len()[k], "row " + i);
                for (int t = 0; t < docs.len()[k]; t++)
                    assertEquals(rows.get(i).get(t), data.getInt(4L * (docs.start()[k] + t)), "row " + i + " id " + t);
                k++;
            }
            assertEquals(k, docs.size());
            assertEquals(4096, docs.idsAddress());
        }
    }

    @Test
    void offsetsMayStartAnywhereAndNullRowsWithDataAreNotRead() {
        // rows [5,8) [8,12) NULL-with-data [12,12) [12,15): mask 0b1101, as a column cut out of a larger one
        ListLayout l = ListLayout.of(4, new int[] {5, 8, 12, 12, 15}, new byte[] {0b1101});
        DeviceDocs d = l.docs(64);
        assertArrayEquals(new int[] {5, 12, 12}, d.start());
        assertArrayEquals(new int[] {3, 0, 3}, d.len());
        assertFalse(l.present(1));
        ListLayout all = ListLayout.of(2, new int[] {0, 2, 3, 99}, null); // no mask: no NULLs; extra offsets ignored
        assertArrayEquals(new int[] {2, 1}, all.docs(64).len());
        assertThrows(IllegalStateException.class, () -> ListLayout.of(2, new int[] {0, 3, 1}, null));
        assertThrows(IllegalArgumentException.class, () -> ListLayout.of(3, new int[] {0, 3, 4}, null));
        assertThrows(IllegalArgumentException.class, () -> ListLayout.of(9, new int[10], new byte[1]));
    }

    @Test
    void batchesTheDevicePathCannotTakeGoToTheHostSayingWhy() {
        JobSpec score = JobSpec.score(MODEL, "gpu", 16, -1, true), embed = JobSpec.embed(MODEL, "gpu", 16, JobSpec.Pooling.MEAN);
        assertNull(ColumnarDocuments.hostPathReason(score, DType.INT32, false, 0, 0));
        assertNull(ColumnarDocuments.hostPathReason(embed, DType.INT32, false, 2, 2));
        assertTrue(ColumnarDocuments.hostPathReason(score.withDevice("cpu"), DType.INT32, false, null, 0).contains("CPU engine"));
        assertTrue(ColumnarDocuments.hostPathReason(score, DType.INT32, false, 1, 0).contains("GPU 1, the column on GPU 0"));
        assertTrue(ColumnarDocuments.hostPathReason(score.withBos(0), DType.INT32, false, 0, 0).contains("prepend_bos"));
        assertTrue(ColumnarDocuments.hostPathReason(embed, DType.INT64, false, 0, 0).contains("INT64"));
        assertTrue(ColumnarDocuments.hostPathReason(score, DType.INT32, true, 0, 0).contains("NULL token id"));
    }

    @Test
    void rowsOfDocumentsRunOnTheDeviceEqualTheHostPathsRows() {
        JobSpec spec = JobSpec.score(MODEL, "cpu", 8, -1, true); // chunks of 8: the 30-token row is cut in four
        DocumentRunner runner = new DocumentRunner(ModelCache.forTask(spec));
        List<List<Integer>> rows = rows();
        List<Doc> hostDocs = new ArrayList<>(), deviceDocs = new ArrayList<>();
        List<int[]> present = new ArrayList<>();
        for (List<Integer> r : rows) {
            hostDocs.add(SqlDocuments.tokenDoc(r));
            deviceDocs.add(r == null ? null : Doc.of(null, null, null)); // the ids stay on the device
            if (r != null) present.add(r.stream().mapToInt(Integer::intValue).toArray());
        }
        // what DocumentRunner.scoreAll(DeviceDocs) returns for these rows (DeviceDocsTest: the same as from host arrays)
        List<? extends Outcome<?>> outcomes = runner.scoreAll(present, spec.scoreOptions(), spec.tokenBudget());
        List<Row> want = SqlDocuments.run(spec, hostDocs), got = SqlDocuments.rows(spec, deviceDocs, outcomes);
        assertEquals(rows.size(), got.size());
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i) == null) { assertNull(got.get(i), "NULL in, NULL out: row " + i); continue; }
            assertEquals(values(want.get(i)), values(got.get(i)), "row " + i);
        }
        assertTrue(got.get(3).getString(got.get(3).length() - 1).startsWith("empty token array"));
    }

    private static List<Object> values(Row r) {
        List<Object> v = new ArrayList<>();
        for (int i = 0; i < r.length(); i++) v.add(r.get(i) instanceof float[] f ? Arrays.toString(f) : r.get(i));
        return v;
    }
}
