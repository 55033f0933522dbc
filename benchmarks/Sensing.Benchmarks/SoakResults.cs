using System.Globalization;
using System.Text;
using ScottPlot;

namespace Sensing.Benchmarks;

/// <summary>One look at the service: its <c>/metrics</c> gauges and counters at a moment of the soak.</summary>
internal sealed record SoakSample(
    double WallSeconds, double SimulatedDays, string Phase, double RssMb, double HeapMb, double CommittedMb, double Gen2,
    double Handles, double Threads, double StoreMb, double DuckDbMemoryMb, double DuckDbTempMb, double QueueDepth, double SpoolMb, double Received, double Stored, double DeadLetters,
    double AlertsRaised, double AlertsOpen, double CpuSeconds, double LoadAverage, long Sent)
{
    public static SoakSample From(Dictionary<string, double> m, double wall, double simulatedDays, SoakPhase phase, double cpu, double load, long sent)
    {
        double Get(string name) => m.TryGetValue(name, out var v) ? v : double.NaN;
        var alerts = m.Where(p => p.Key.StartsWith("sensing_alerts_raised_total", StringComparison.Ordinal)).Sum(p => p.Value);
        var duckDb = m.Where(p => p.Key.StartsWith("sensing_duckdb_memory_bytes", StringComparison.Ordinal)).Sum(p => p.Value);
        return new SoakSample(wall, simulatedDays, phase.ToString().ToLowerInvariant(),
            Get("process_resident_memory_bytes") / 1e6, Get("dotnet_gc_heap_size_bytes") / 1e6, Get("dotnet_gc_committed_bytes") / 1e6,
            Get("dotnet_gc_collections_total{generation=\"2\"}"), Get("process_open_handles"), Get("process_threads"),
            Get("sensing_store_file_bytes") / 1e6, duckDb / 1e6, (m.TryGetValue("sensing_duckdb_memory_bytes{tag=\"in_memory_table\"}", out var temp) ? temp : 0) / 1e6, Get("sensing_ingest_queue_depth"), Get("sensing_spool_bytes") / 1e6, Get("sensing_messages_received_total"),
            Get("sensing_readings_stored_total"), Get("sensing_deadletters_total"), alerts, Get("sensing_alerts_open"), cpu, load, sent);
    }

    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"  {Phase,-5} day {SimulatedDays,5:F2}  RSS {RssMb,6:F0} MB  heap {HeapMb,6:F1} MB  gen2 {Gen2,5:F0}  handles {Handles,4:F0}  threads {Threads,3:F0}  duckdb file {StoreMb,6:F0} MB, memory {DuckDbMemoryMb,6:F0} MB (temp tables {DuckDbTempMb,4:F0} MB)  queue {QueueDepth,6:F0}  spool {SpoolMb,5:F1} MB  received {Received,11:N0}  stored {Stored,11:N0}  alerts {AlertsRaised,6:N0}  cpu {CpuSeconds,6:F0} s  load {LoadAverage,4:F1}");

    public static string Csv(IEnumerable<SoakSample> samples)
    {
        var csv = new StringBuilder("wall_s,simulated_days,phase,rss_mb,heap_mb,committed_mb,gen2_collections,handles,threads,duckdb_mb,duckdb_memory_mb,duckdb_temp_tables_mb,queue_depth,spool_mb,received,stored,dead_letters,alerts_raised,alerts_open,service_cpu_s,load_average,sent\n");
        foreach (var s in samples)
        {
            csv.Append(CultureInfo.InvariantCulture,
                $"{s.WallSeconds:F1},{s.SimulatedDays:F4},{s.Phase},{s.RssMb:F1},{s.HeapMb:F2},{s.CommittedMb:F1},{s.Gen2},{s.Handles},{s.Threads},{s.StoreMb:F1},{s.DuckDbMemoryMb:F1},{s.DuckDbTempMb:F1},{s.QueueDepth},{s.SpoolMb:F1},{s.Received},{s.Stored},{s.DeadLetters},{s.AlertsRaised},{s.AlertsOpen},{s.CpuSeconds:F1},{s.LoadAverage:F2},{s.Sent}\n");
        }
        return csv.ToString();
    }
}

/// <summary>How one series behaved over the feed, and whether that is flat.</summary>
/// <param name="Start">First sample of the feed.</param>
/// <param name="Mid">The feed sample nearest half the simulated span.</param>
/// <param name="End">Last sample of the feed.</param>
/// <param name="Idle">After the drain and the quiet tail.</param>
/// <param name="SecondQuarterMedian">Median over the samples of the span's second quarter (after warm-up).</param>
/// <param name="LastQuarterMedian">Median over its last quarter.</param>
/// <param name="PerSimulatedDay">Least-squares slope over the span's second half, per simulated day.</param>
/// <param name="Tolerance">Growth from the second to the last quarter below which the series counts as flat.</param>
internal sealed record SeriesVerdict(string Series, string Unit, double Start, double Mid, double End, double Idle,
    double SecondQuarterMedian, double LastQuarterMedian, double Growth, double PerSimulatedDay, double Tolerance, bool Judged, bool Flat);

internal sealed record SoakResult
{
    public required string Machine { get; init; }
    public required int Communities { get; init; }
    public required int Devices { get; init; }
    public required int Households { get; init; }
    public required double SimulatedDays { get; init; }
    public required string SimulatedFrom { get; init; }
    public required string Speed { get; init; }
    public required string Cadence { get; init; }
    public required double PlannedMessages { get; init; }
    public required long Sent { get; init; }
    public required double Received { get; init; }
    public required double ReadingsStored { get; init; }
    public required double DeadLetters { get; init; }
    public required double AlertsRaised { get; init; }
    public required string AlertsByKind { get; init; }
    public required int TruthExpectingAlert { get; init; }
    public required double FeedSeconds { get; init; }
    public required double DrainSeconds { get; init; }
    public required double WallSeconds { get; init; }
    public required double MessagesPerSecond { get; init; }
    public required double ServiceCpuSeconds { get; init; }
    public required double LoadAverageMin { get; init; }
    public required double LoadAverageMax { get; init; }
    public required double MaxQueueDepth { get; init; }
    public required List<SeriesVerdict> Series { get; init; }
    public required bool Flat { get; init; }

    public void Print(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Soak: {Communities} communities ({Devices:N0} devices, {Households:N0} households), {SimulatedDays:F2} simulated days from {SimulatedFrom} at {Speed}; cadence {Cadence}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  wall {WallSeconds / 60:F1} min (feed {FeedSeconds / 60:F1} min, drain {DrainSeconds:F0} s); {Sent:N0} messages sent ({MessagesPerSecond:N0}/s), {Received:N0} received, {ReadingsStored:N0} readings stored, {DeadLetters:N0} dead letters; max queue {MaxQueueDepth:N0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  alerts raised {AlertsRaised:N0} ({AlertsByKind}); truth labels expecting an alert {TruthExpectingAlert:N0}; service CPU {ServiceCpuSeconds:F0} s; load average {LoadAverageMin:F1}–{LoadAverageMax:F1} on {Environment.ProcessorCount} cores"));
        output.WriteLine();
        output.WriteLine("| series | start | mid | end of feed | idle after | Q2 median | Q4 median | Q4 − Q2 | slope / sim. day (2nd half) | verdict |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var s in Series)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s.Series} ({s.Unit}) | {s.Start:0.#} | {s.Mid:0.#} | {s.End:0.#} | {s.Idle:0.#} | {s.SecondQuarterMedian:0.#} | {s.LastQuarterMedian:0.#} | {s.Growth:+0.#;-0.#;0} | {s.PerSimulatedDay:+0.##;-0.##;0} | {(s.Judged ? s.Flat ? "flat" : $"GROWING (> {s.Tolerance:0.#})" : "grows with data (not judged)")} |"));
        }
        output.WriteLine();
        output.WriteLine(Flat ? "Verdict: FLAT — no judged series grew from the second to the last quarter beyond its tolerance."
            : "Verdict: GROWING — see the series marked above.");
    }
}

/// <summary>
/// The verdict. Quarters are of the simulated span (not of wall time): the first is warm-up (registry, caches, the
/// first trainings, DuckDB's buffers filling), so the second quarter's median is the baseline and the last quarter's
/// median must not exceed it by more than a tolerance: 10 % or an absolute floor, whichever is larger (the floors
/// are what GC timing and thread-pool breathing move on their own). Medians, so one collection landing just before
/// a sample does not decide. The slope over the second half, per simulated day, says how fast anything that does
/// grow would grow.
/// </summary>
internal static class SoakAnalysis
{
    private const double Relative = 0.10;

    public static SoakResult Analyse(List<SoakSample> samples, SoakOptions options, double planned, long sent, double feedSeconds, double drainSeconds,
        double wallSeconds, Dictionary<string, double> end, DateTimeOffset start, int devices, int households, int truthExpectingAlert)
    {
        var span = options.Span.TotalDays;
        var feed = samples.Where(s => s.Phase == "feed").OrderBy(s => s.SimulatedDays).ToList();
        if (feed.Count == 0) feed = [.. samples];
        var last = samples[^1];
        var series = new List<SeriesVerdict>
        {
            Judge("RSS", "MB", s => s.RssMb, 50),
            Judge("managed heap", "MB", s => s.HeapMb, 20),
            Judge("GC committed", "MB", s => s.CommittedMb, 30),
            Judge("DuckDB memory", "MB", s => s.DuckDbMemoryMb, 50),
            // The writer's scratch tables (duckdb_memory() IN_MEMORY_TABLE): before they were dropped per batch, the leak.
            Judge("DuckDB temp tables", "MB", s => s.DuckDbTempMb, 10),
            Judge("open handles", "count", s => s.Handles, 20),
            Judge("threads", "count", s => s.Threads, 10),
            Judge("ingest queue", "messages", s => s.QueueDepth, 5_000),
            // Batches the store could not take in time wait in the spool (on disk): growth means the store falls behind.
            Judge("spool", "MB", s => s.SpoolMb, 16),
            Judge("DuckDB file", "MB", s => s.StoreMb, 0, judged: false),
            Judge("readings stored", "count", s => s.Stored, 0, judged: false),
            Judge("alerts raised", "count", s => s.AlertsRaised, 0, judged: false),
            Judge("full (gen 2) GCs", "count", s => s.Gen2, 0, judged: false),
        };
        var byKind = end.Where(p => p.Key.StartsWith("sensing_alerts_raised_total{", StringComparison.Ordinal))
            .Select(p => $"{p.Key["sensing_alerts_raised_total{kind=\"".Length..^2]} {p.Value:0}");
        return new SoakResult
        {
            Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}",
            Communities = options.World.Communities,
            Devices = devices,
            Households = households,
            SimulatedDays = span,
            SimulatedFrom = start.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture),
            Speed = options.Speed is { } x ? $"{x.ToString("0.#", CultureInfo.InvariantCulture)}× event time" : "max",
            Cadence = string.Create(CultureInfo.InvariantCulture,
                $"meters every {options.Cadence.MeterEvery.TotalMinutes:0} min, camera heartbeats every {options.Cadence.HeartbeatEvery.TotalMinutes:0} min, lots every {options.Cadence.LotEvery.TotalMinutes:0} min, detections ×{options.Cadence.DetectionFactor}, gate passes as simulated; {options.World.Households} households, {options.World.Cameras} cameras, {options.World.Gates} gates, {options.World.Lots} lots per community; scenario {options.Scenario}"),
            PlannedMessages = planned,
            Sent = sent,
            Received = last.Received,
            ReadingsStored = last.Stored,
            DeadLetters = last.DeadLetters,
            AlertsRaised = last.AlertsRaised,
            AlertsByKind = string.Join(", ", byKind),
            TruthExpectingAlert = truthExpectingAlert,
            FeedSeconds = feedSeconds,
            DrainSeconds = drainSeconds,
            WallSeconds = wallSeconds,
            MessagesPerSecond = sent / Math.Max(feedSeconds, 1e-6),
            ServiceCpuSeconds = last.CpuSeconds,
            LoadAverageMin = samples.Min(s => s.LoadAverage),
            LoadAverageMax = samples.Max(s => s.LoadAverage),
            MaxQueueDepth = samples.Max(s => s.QueueDepth),
            Series = series,
            Flat = series.All(s => !s.Judged || s.Flat),
        };

        SeriesVerdict Judge(string name, string unit, Func<SoakSample, double> value, double floor, bool judged = true)
        {
            var q2 = Median(feed.Where(s => s.SimulatedDays >= span * 0.25 && s.SimulatedDays < span * 0.5).Select(value));
            var q4 = Median(feed.Where(s => s.SimulatedDays >= span * 0.75).Select(value));
            var half = feed.Where(s => s.SimulatedDays >= span * 0.5).ToList();
            var slope = Slope(half.Select(s => s.SimulatedDays).ToList(), half.Select(value).ToList());
            var mid = feed.MinBy(s => Math.Abs(s.SimulatedDays - span / 2));
            var tolerance = Math.Max(Relative * Math.Abs(q2), floor);
            var growth = q4 - q2;
            return new SeriesVerdict(name, unit, value(feed[0]), mid is null ? double.NaN : value(mid), value(feed[^1]), value(last), q2, q4, growth, slope,
                tolerance, judged, !judged || double.IsNaN(growth) || growth <= tolerance);
        }
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToList();
        if (sorted.Count == 0) return double.NaN;
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static double Slope(IReadOnlyList<double> xs, IReadOnlyList<double> ys)
    {
        if (xs.Count < 2) return double.NaN;
        var mx = xs.Average();
        var my = ys.Average();
        double sxy = 0, sxx = 0;
        for (var i = 0; i < xs.Count; i++)
        {
            sxy += (xs[i] - mx) * (ys[i] - my);
            sxx += (xs[i] - mx) * (xs[i] - mx);
        }
        return sxx == 0 ? double.NaN : sxy / sxx;
    }
}

/// <summary>
/// The chart: RSS, managed heap, GC committed, DuckDB's own memory, handles and threads against simulated days, each as a percentage of
/// its second-quarter median (the baseline the verdict uses; 100 % = flat), with the baseline's absolute value in the
/// legend; the ingest queue on the right axis. ScottPlot through SkiaSharp's bundled native library.
/// </summary>
internal static class SoakChart
{
    public static void Write(string path, List<SoakSample> samples, SoakResult result)
    {
        var plot = new Plot();
        plot.Title(string.Create(CultureInfo.InvariantCulture,
            $"Sensing soak: {result.Communities} communities, {result.SimulatedDays:0.#} simulated days in {result.WallSeconds / 60:F0} min ({result.Sent:N0} messages) — {(result.Flat ? "flat" : "GROWING")}"));
        plot.XLabel("simulated days (drain and idle tail after the last day)");
        plot.YLabel("% of the second quarter's median");
        plot.Axes.Right.Label.Text = "ingest queue (messages)";
        var palette = new ScottPlot.Palettes.Category10();
        // Drain and idle samples are drawn past the span's end, spaced by wall time at the feed's pace.
        var span = result.SimulatedDays;
        var pace = span / Math.Max(result.FeedSeconds, 1);
        var feedEndWall = samples.Where(s => s.Phase == "feed").Select(s => s.WallSeconds).DefaultIfEmpty(0).Max();
        double X(SoakSample s) => s.Phase == "feed" ? s.SimulatedDays : span + (s.WallSeconds - feedEndWall) * pace;
        double[] xs = [.. samples.Select(X)];
        var index = 0;
        var maxY = 120.0;
        foreach (var (name, value) in new (string, Func<SoakSample, double>)[]
        {
            ("RSS", s => s.RssMb), ("managed heap", s => s.HeapMb), ("GC committed", s => s.CommittedMb), ("DuckDB memory", s => s.DuckDbMemoryMb), ("handles", s => s.Handles), ("threads", s => s.Threads),
        })
        {
            var verdict = result.Series.First(v => v.Series.StartsWith(name, StringComparison.Ordinal) || (name == "handles" && v.Series == "open handles"));
            var baseline = verdict.SecondQuarterMedian;
            if (double.IsNaN(baseline) || baseline == 0) continue;
            double[] ys = [.. samples.Select(s => 100 * value(s) / baseline)];
            maxY = Math.Max(maxY, ys.Where(y => !double.IsNaN(y)).DefaultIfEmpty(0).Max());
            var line = plot.Add.Scatter(xs, ys, palette.GetColor(index++));
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"{name} (100 % = {baseline:0.#} {verdict.Unit})");
            line.LineWidth = 2;
            line.MarkerSize = 3;
        }
        var queue = plot.Add.Scatter(xs, [.. samples.Select(s => s.QueueDepth)], Colors.Gray);
        queue.LegendText = "ingest queue (right)";
        queue.LinePattern = LinePattern.Dotted;
        queue.MarkerSize = 0;
        queue.Axes.YAxis = plot.Axes.Right;
        foreach (var x in new[] { span * 0.25, span * 0.5, span * 0.75, span })
        {
            var marker = plot.Add.VerticalLine(x, 1, Colors.LightGray, LinePattern.Dashed);
            marker.ExcludeFromLegend = true;
        }
        plot.Axes.SetLimitsY(0, maxY * 1.1, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, Math.Max(10, samples.Max(s => s.QueueDepth)) * 1.1, plot.Axes.Right);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 1100, 650);
    }
}
