package ssdspark.pipeline.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYIntervalSeries;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Rectangle;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The run report: one self-contained HTML file in the output folder ({@link #FILE}) with the run's summary, the
 * quantiles of perplexity and bits per byte, and charts drawn by JFreeChart as inline SVG: histograms of
 * perplexity (log bins) and bits per byte, tokens per document (log bins), error rows by kind, and throughput
 * over time. Opens in any browser, offline.
 */
public final class RunReport {
    private RunReport() {}

    public static final String FILE = "_ssdspark_report.html";
    /** Id of the script element that holds the quantiles as JSON, the same numbers as _ssdspark.json's. */
    public static final String QUANTILES_ID = "ssdspark-quantiles";

    private static final int W = 560, H = 320;
    private static final Color BAR = new Color(0x3b6ea5), ERR = new Color(0xc0504d), GRID = new Color(0xdddddd);

    /**
     * A throughput sample: seconds since the job started and tokens done by then.
     */
    public record Sample(double seconds, long tokens) {}

    /**
     * Writes the report into output (any Hadoop file system).
     *
     * @param title      e.g. "ssdspark score"
     * @param facts      label → value lines of the summary (model, input, rows, tokens, seconds, ...), in order
     * @param errorKinds error rows by kind, most frequent first (the job's counts: also rows --on-error skip left out)
     * @param throughput cumulative tokens over time (progress samples); fewer than two: no chart
     */
    public static void write(String output, Configuration conf, String title, Map<String, String> facts, RunStats stats,
                             Map<String, Long> errorKinds, List<Sample> throughput) {
        byte[] html = html(title, facts, stats, errorKinds, throughput).getBytes(StandardCharsets.UTF_8);
        try {
            Path p = new Path(output, FILE);
            FileSystem fs = p.getFileSystem(conf);
            try (OutputStream os = fs.create(p, true)) {
                os.write(html);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the run report " + FILE + ": " + e.getMessage(), e);
        }
    }

    /** The report as an HTML document. */
    public static String html(String title, Map<String, String> facts, RunStats stats, Map<String, Long> errorKinds, List<Sample> throughput) {
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(esc(title)).append("</title>\n<style>")
                .append("body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:24px;color:#222;max-width:1200px}")
                .append("h1{font-size:22px;margin:0 0 12px}h2{font-size:16px;margin:20px 0 8px}")
                .append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
                .append("th{background:#f3f3f3}td.l,th.l{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}")
                .append(".chart{border:1px solid #e3e3e3}.none{width:").append(W).append("px;height:80px;display:flex;align-items:center;")
                .append("justify-content:center;color:#777;border:1px dashed #ccc;font-size:13px}</style></head><body>\n");
        h.append("<h1>").append(esc(title)).append("</h1>\n<table>");
        facts.forEach((k, v) -> h.append("<tr><th class=\"l\">").append(esc(k)).append("</th><td class=\"l\">").append(esc(v)).append("</td></tr>"));
        h.append("</table>\n");

        h.append("<h2>Quantiles</h2>\n");
        if (stats.quantiles().isEmpty()) h.append("<p>No scored document.</p>\n");
        else {
            h.append("<table id=\"quantiles\"><tr><th class=\"l\"></th>");
            for (double p : RunStats.PROBS) h.append("<th>").append(RunStats.label(p)).append("</th>");
            h.append("</tr>");
            stats.quantiles().forEach((c, q) -> {
                h.append("<tr><th class=\"l\">").append(esc(c)).append("</th>");
                for (double v : q) h.append("<td>").append(number(v)).append("</td>");
                h.append("</tr>");
            });
            h.append("</table>\n<p style=\"font-size:12px;color:#555\">A value at p5 means 5 % of the scored documents are below it"
                    + " (within 0.01 % of the rows). Keep documents between two of them with Spark SQL, e.g. "
                    + "<code>WHERE perplexity BETWEEN p5 AND p95</code>.</p>\n");
        }
        try {
            h.append("<script type=\"application/json\" id=\"").append(QUANTILES_ID).append("\">")
                    .append(new ObjectMapper().writeValueAsString(stats.quantilesJson()).replace("</", "<\\/")).append("</script>\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }

        h.append("<h2>Distributions</h2>\n<div class=\"charts\">\n");
        chart(h, stats.histograms().get("perplexity"), "Perplexity per document", "perplexity (log scale)");
        chart(h, stats.histograms().get("bits_per_byte"), "Bits per byte per document", "bits per byte");
        chart(h, stats.histograms().get("num_tokens"), "Tokens per document", "tokens (log scale)");
        h.append("</div>\n<h2>Errors and throughput</h2>\n<div class=\"charts\">\n");
        h.append(errorKinds.isEmpty() ? none("No error rows") : svg(() -> errorChart(errorKinds)));
        h.append(throughput.size() < 2 ? none("No throughput samples (the run was shorter than one --progress interval, or progress was off)")
                : svg(() -> throughputChart(throughput)));
        h.append("</div>\n</body></html>\n");
        return h.toString();
    }

    private static void chart(StringBuilder h, RunStats.Histogram hist, String title, String xLabel) {
        h.append(hist == null ? none(title + ": no values") : svg(() -> histogramChart(hist, title, xLabel)));
    }

    private static JFreeChart histogramChart(RunStats.Histogram hist, String title, String xLabel) {
        XYIntervalSeries s = new XYIntervalSeries("documents");
        double[] e = hist.edges();
        for (int i = 0; i < hist.counts().length; i++) {
            double mid = hist.logBins() ? Math.sqrt(e[i] * e[i + 1]) : (e[i] + e[i + 1]) / 2;
            s.add(mid, e[i], e[i + 1], hist.counts()[i], 0, hist.counts()[i]);
        }
        XYIntervalSeriesCollection data = new XYIntervalSeriesCollection();
        data.addSeries(s);
        JFreeChart chart = ChartFactory.createXYBarChart(title, xLabel, false, "documents", data, PlotOrientation.VERTICAL, false, false, false);
        XYPlot plot = chart.getXYPlot();
        if (hist.logBins()) {
            LogAxis axis = new LogAxis(xLabel);
            axis.setBase(10);
            axis.setSmallestValue(e[0]);
            axis.setNumberFormatOverride(new java.text.DecimalFormat("0.###"));
            axis.setAutoRange(false); // its own range finding fails on a single narrow bin; the bins give the range
            axis.setRange(e[0], e[e.length - 1]);
            plot.setDomainAxis(axis);
        }
        plot.getDomainAxis().setRange(e[0], e[e.length - 1]);
        XYBarRenderer r = (XYBarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardXYBarPainter());
        r.setShadowVisible(false);
        r.setSeriesPaint(0, BAR);
        r.setDrawBarOutline(false);
        ((NumberAxis) plot.getRangeAxis()).setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        chart.addSubtitle(new TextTitle(String.format(Locale.ROOT, "%,d documents, %d bins", hist.total(), hist.counts().length),
                new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
        return style(chart, plot);
    }

    /** The most frequent kinds shown; the others are summed into one bar. */
    private static final int ERROR_BARS = 12;

    private static JFreeChart errorChart(Map<String, Long> kinds) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        long total = 0, rest = 0;
        int i = 0;
        for (Map.Entry<String, Long> e : kinds.entrySet()) {
            total += e.getValue();
            if (i++ < ERROR_BARS) data.addValue(e.getValue(), "rows", e.getKey().length() > 70 ? e.getKey().substring(0, 67) + "..." : e.getKey());
            else rest += e.getValue();
        }
        if (rest > 0) data.addValue(rest, "rows", (kinds.size() - ERROR_BARS) + " more kinds");
        JFreeChart chart = ChartFactory.createBarChart(String.format(Locale.ROOT, "Error rows by kind (%,d)", total), null,
                "rows", data, PlotOrientation.HORIZONTAL, false, false, false);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        CategoryPlot plot = chart.getCategoryPlot();
        BarRenderer r = (BarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setSeriesPaint(0, ERR);
        plot.getDomainAxis().setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        plot.getDomainAxis().setMaximumCategoryLabelWidthRatio(0.6f);
        ((NumberAxis) plot.getRangeAxis()).setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        chart.setBackgroundPaint(Color.WHITE);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(GRID);
        return chart;
    }

    /**
     * Tokens per second over a trailing window of a tenth of the run (at least the sampling interval): counts reach
     * the driver in steps (task ends, heartbeats), so the rate between two neighbouring samples is all spikes.
     */
    private static JFreeChart throughputChart(List<Sample> samples) {
        XYSeries s = new XYSeries("tokens/s");
        double window = samples.get(samples.size() - 1).seconds() / 10;
        int from = 0;
        for (int i = 1; i < samples.size(); i++) {
            Sample b = samples.get(i);
            while (from < i - 1 && samples.get(from + 1).seconds() <= b.seconds() - window) from++;
            Sample a = samples.get(from);
            double dt = b.seconds() - a.seconds();
            if (dt > 0) s.add(b.seconds(), (b.tokens() - a.tokens()) / dt);
        }
        JFreeChart chart = ChartFactory.createXYLineChart("Throughput over time", "seconds since start",
                String.format(Locale.ROOT, "tokens / s (over %.0f s)", Math.max(window, 1)),
                new XYSeriesCollection(s), PlotOrientation.VERTICAL, false, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.getRenderer().setSeriesPaint(0, BAR);
        plot.getRenderer().setSeriesStroke(0, new BasicStroke(2f));
        return style(chart, plot);
    }

    private static JFreeChart style(JFreeChart chart, XYPlot plot) {
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(GRID);
        plot.setRangeGridlinePaint(GRID);
        return chart;
    }

    /**
     * The chart as inline SVG; where this JVM cannot draw text (a bare host's JRE whose font library needs a missing
     * system library, e.g. libharfbuzz), a note saying so instead, so that the rest of the report stands.
     */
    static String svg(Supplier<JFreeChart> chart) {
        try {
            JFreeChart c = chart.get();
            SVGGraphics2D g = new SVGGraphics2D(W, H);
            c.draw(g, new Rectangle(0, 0, W, H));
            return "<div class=\"chart\">" + g.getSVGElement() + "</div>\n";
        } catch (LinkageError | RuntimeException e) {
            return none("Chart not drawn: this JVM cannot draw text (" + e.getClass().getSimpleName() + ": " + e.getMessage()
                    + "). Install the missing library (fontconfig, libfreetype, libharfbuzz) or run on a full JDK.");
        }
    }

    private static String none(String text) { return "<div class=\"none\">" + esc(text) + "</div>\n"; }

    /** Four significant digits, the way the report prints quantiles. */
    public static String number(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) return String.valueOf(v);
        return new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
