package ssdspark.pipeline.text;

import java.io.Serializable;
import java.util.Locale;

/** How to read a text corpus: --input-format, --doc-per, --id-col, --text-col, --skip-blank-lines. */
public final class TextInputOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Input formats with raw text. */
    public enum Format {
        /** Plain text files (a file, a folder, or a glob); documents per file or per line, see {@link Unit}. */
        TEXT,
        /** JSON lines, one object per line, with an id and a text field. */
        JSON,
        /** Parquet with an id and a string text column. */
        PARQUET;

        public static Format parse(String s) {
            String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
            switch (t) {
                case "text": case "txt": return TEXT;
                case "json": case "jsonl": case "ndjson": return JSON;
                case "parquet": return PARQUET;
                default: throw new IllegalArgumentException("input format must be text, json or parquet, got '" + s + "'");
            }
        }
    }

    /** What one document is in a plain-text input. */
    public enum Unit {
        /** A whole file is one document; its id is the file's path. An empty file is one empty document. */
        FILE,
        /** Every line is one document; its id is PATH:LINE (1-based). An empty file has no documents. */
        LINE;

        public static Unit parse(String s) {
            String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
            switch (t) {
                case "file": return FILE;
                case "line": return LINE;
                default: throw new IllegalArgumentException("--doc-per must be file or line, got '" + s + "'");
            }
        }
    }

    private final Format format;
    private final String path;
    private final Unit unit;
    private final String idCol;
    private final String textCol;
    private final boolean skipBlankLines;
    private final boolean strictUtf8;

    private TextInputOptions(Format format, String path, Unit unit, String idCol, String textCol, boolean skipBlankLines) {
        this(format, path, unit, idCol, textCol, skipBlankLines, false);
    }

    private TextInputOptions(Format format, String path, Unit unit, String idCol, String textCol, boolean skipBlankLines, boolean strictUtf8) {
        if (format == null) throw new IllegalArgumentException("input format is missing");
        if (path == null || path.isBlank()) throw new IllegalArgumentException("input path is empty");
        this.format = format;
        this.path = path;
        this.unit = unit == null ? Unit.FILE : unit;
        this.idCol = idCol == null || idCol.isBlank() ? "id" : idCol;
        this.textCol = textCol == null || textCol.isBlank() ? "text" : textCol;
        this.skipBlankLines = skipBlankLines;
        this.strictUtf8 = strictUtf8;
    }

    /** Defaults: one document per file, columns "id" and "text", blank lines kept. */
    public static TextInputOptions of(Format format, String path) {
        return new TextInputOptions(format, path, Unit.FILE, "id", "text", false);
    }

    public TextInputOptions withUnit(Unit u) { return new TextInputOptions(format, path, u, idCol, textCol, skipBlankLines, strictUtf8); }

    public TextInputOptions withIdCol(String c) { return new TextInputOptions(format, path, unit, c, textCol, skipBlankLines, strictUtf8); }

    public TextInputOptions withTextCol(String c) { return new TextInputOptions(format, path, unit, idCol, c, skipBlankLines, strictUtf8); }

    /** Per-line text only: drop lines that are empty or whitespace (line numbers still count them). */
    public TextInputOptions withSkipBlankLines(boolean skip) { return new TextInputOptions(format, path, unit, idCol, textCol, skip, strictUtf8); }

    /** Plain text: a document with invalid UTF-8 is an error row, not scored with U+FFFD in place of the bad bytes. */
    public TextInputOptions withStrictUtf8(boolean strict) { return new TextInputOptions(format, path, unit, idCol, textCol, skipBlankLines, strict); }

    public boolean strictUtf8() { return strictUtf8; }

    public Format format() { return format; }

    public String path() { return path; }

    public Unit unit() { return unit; }

    public String idCol() { return idCol; }

    public String textCol() { return textCol; }

    public boolean skipBlankLines() { return skipBlankLines; }

    @Override
    public String toString() {
        return format.name().toLowerCase(Locale.ROOT) + " " + path + (format == Format.TEXT
                ? " (a document per " + unit.name().toLowerCase(Locale.ROOT) + (skipBlankLines ? ", blank lines skipped)" : ")")
                : " (id " + idCol + ", text " + textCol + ")");
    }
}
