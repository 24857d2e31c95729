package ssdspark.rapids;

import ai.rapids.cudf.DType;
import ai.rapids.cudf.HostColumnVector;
import ai.rapids.cudf.HostColumnVector.BasicType;
import ai.rapids.cudf.HostColumnVector.ListType;
import ai.rapids.cudf.HostColumnVectorCore;
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
        assertNull(ColumnarDocuments.hostPathReason(score, DType.INT32, 0, 0));
        assertNull(ColumnarDocuments.hostPathReason(embed, DType.INT32, 2, 2));
        assertTrue(ColumnarDocuments.hostPathReason(score.withDevice("cpu"), DType.INT32, null, 0).contains("CPU engine"));
        assertTrue(ColumnarDocuments.hostPathReason(score, DType.INT32, 1, 0).contains("GPU 1, the column on GPU 0"));
        assertTrue(ColumnarDocuments.hostPathReason(score.withBos(0), DType.INT32, 0, 0).contains("prepend_bos"));
        assertTrue(ColumnarDocuments.hostPathReason(embed, DType.INT64, 0, 0).contains("INT64"));
    }

    /** rows() with NULL ids inside some rows: at positions 0, 17 (past whole bytes of valid ids) and last, and two in one row. */
    private static List<List<Integer>> rowsWithNullIds() {
        List<List<Integer>> rows = rows();
        rows.set(2, Arrays.asList(5, null, 6));             // elements cross a mask byte boundary around here
        rows.set(4, Arrays.asList((Integer) null));
        List<Integer> longRow = new ArrayList<>(rows.get(10)); // 30 ids
        longRow.set(17, null);
        longRow.set(25, null);
        rows.set(10, longRow);
        rows.set(14, Arrays.asList(1, 2, null));
        return rows;
    }

    @SuppressWarnings("unchecked")
    private static HostColumnVector columnWithNullIds(List<List<Integer>> rows) {
        return HostColumnVector.fromLists(new ListType(true, new BasicType(true, DType.INT32)), rows.toArray(new List[0]));
    }

    /** ListLayout of a host column, reading its offsets and masks as the device path reads the device copies. */
    private static ListLayout layoutOf(HostColumnVector col) {
        int n = (int) col.getRowCount();
        int[] offsets = new int[n + 1];
        col.getOffsets().getInts(offsets, 0, 0, n + 1);
        HostColumnVectorCore child = col.getChildColumnView(0);
        return ListLayout.of(n, offsets, mask(col.getValidity(), n), child.getNullCount() > 0 ? mask(child.getValidity(), (int) child.getRowCount()) : null);
    }

    private static byte[] mask(HostMemoryBuffer m, int n) {
        if (m == null) return null;
        byte[] b = new byte[(n + 7) / 8];
        m.getBytes(b, 0, 0, b.length);
        return b;
    }

    @Test
    void aRowWithANullIdIsThatRowsErrorAndTheOtherRowsRunOnTheDevice() {
        List<List<Integer>> rows = rowsWithNullIds();
        try (HostColumnVector col = columnWithNullIds(rows)) {
            ListLayout layout = layoutOf(col);
            DeviceDocs docs = layout.docs(0);
            HostMemoryBuffer data = col.getChildColumnView(0).getData();
            int k = 0, nullIdRows = 0;
            for (int i = 0; i < rows.size(); i++) {
                List<Integer> r = rows.get(i);
                Doc host = SqlDocuments.tokenDoc(r); // what the host path makes of the row
                assertEquals(r != null, layout.present(i), "row " + i);
                assertEquals(host == null ? null : host.error(), layout.error(i), "row " + i + ": the host path's error");
                if (r == null || r.stream().anyMatch(java.util.Objects::isNull)) { nullIdRows += r == null ? 0 : 1; continue; }
                assertEquals(r.size(), docs.len()[k], "row " + i);
                for (int t = 0; t < r.size(); t++) assertEquals(r.get(t), data.getInt(4L * (docs.start()[k] + t)), "row " + i + " id " + t);
                k++;
            }
            assertEquals(4, nullIdRows);
            assertEquals(k, docs.size(), "only rows without NULL ids reach the engine");
            assertEquals("token at position 17 is null", layout.error(10), "the first NULL of the row, as the host path says");
        }
    }

    @Test
    void nullIdsInsideNullRowsAreNotLookedAt() {
        // rows [0,2) NULL [2,5) holding NULL ids [5,7); elements 3 and 4 NULL; the column's mask 0b101
        ListLayout l = ListLayout.of(3, new int[] {0, 2, 5, 7}, new byte[] {0b101}, new byte[] {(byte) 0b1110_0111});
        assertNull(l.error(0));
        assertNull(l.error(1));
        assertFalse(l.present(1));
        assertNull(l.error(2));
        assertArrayEquals(new int[] {0, 5}, l.docs(0).start());
        ListLayout bad = ListLayout.of(2, new int[] {0, 2, 5}, null, new byte[] {(byte) 0b1110_1111});
        assertEquals("token at position 2 is null", bad.error(1));
        assertArrayEquals(new int[] {2}, bad.docs(0).len());
        assertThrows(IllegalStateException.class, () -> ListLayout.of(1, new int[] {0, 9}, null, new byte[1]), "a row past the child mask");
    }

    @Test
    void rowsOfABatchWithNullIdsEqualTheHostPathsRowsForScoreAndEmbed() {
        List<List<Integer>> rows = rowsWithNullIds();
        for (JobSpec spec : List.of(JobSpec.score(MODEL, "cpu", 8, -1, true), JobSpec.embed(MODEL, "cpu", 8, JobSpec.Pooling.MEAN))) {
            DocumentRunner runner = new DocumentRunner(ModelCache.forTask(spec));
            try (HostColumnVector col = columnWithNullIds(rows)) {
                ListLayout layout = layoutOf(col);
                List<Doc> deviceDocs = ColumnarDocuments.docs(layout);
                // the rows the layout hands to the engine, run from host arrays in their place (DeviceDocsTest: the same outcomes)
                DeviceDocs d = layout.docs(0);
                HostMemoryBuffer data = col.getChildColumnView(0).getData();
                List<int[]> run = new ArrayList<>();
                for (int k = 0; k < d.size(); k++) {
                    int[] ids = new int[d.len()[k]];
                    for (int t = 0; t < ids.length; t++) ids[t] = data.getInt(4L * (d.start()[k] + t));
                    run.add(ids);
                }
                List<? extends Outcome<?>> outcomes = spec.task() == JobSpec.Task.SCORE
                        ? runner.scoreAll(run, spec.scoreOptions(), spec.tokenBudget())
                        : runner.embedAll(run, spec.chunkTokens(), spec.tokenBudget());
                List<Row> got = SqlDocuments.rows(spec, deviceDocs, outcomes);
                List<Row> want = SqlDocuments.run(spec, ColumnarDocuments.docs(col)); // the host path
                assertEquals(want.size(), got.size());
                for (int i = 0; i < rows.size(); i++) {
                    if (want.get(i) == null) { assertNull(got.get(i), spec.task() + " row " + i); continue; }
                    assertEquals(values(want.get(i)), values(got.get(i)), spec.task() + " row " + i);
                }
                Row nullId = got.get(14);
                assertEquals("token at position 2 is null", nullId.getString(nullId.length() - 1), spec.task() + ": the error column");
            }
        }
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
