using System.Globalization;
using System.Text;
using ScottPlot;

namespace Sensing.Benchmarks;

/// <summary>The raw ceiling of one broker at one QoS: what a bare subscriber receives while publishers go flat out.</summary>
public sealed record CeilingResult(string Broker, int Qos, double ReceivedPerSecond, double PublishedPerSecond, double BrokerCores, double MachineBusy);

/// <summary>One offered rate held for a step: what the service took, its backlog, device-to-store latency and CPU.</summary>
public sealed record StepResult(int Offered, double TakenPerSecond, long BacklogAtEnd, long LatencySamples, double StoreP50Ms, double StoreP99Ms,
    double ServiceCores, double MachineBusy, double DrainSeconds, long Shed, long Lost, bool Sustained, string? Why, double AllocatedPerMessage);

/// <summary>Device to wall screen: <c>gate_forced</c> alerts raised by forced doors injected into background load.</summary>
public sealed record AlertResult(int OfferedRate, double TakenRate, int Sent, int Received, double? P50Ms, double? P99Ms, double? MaxMs)
{
    /// <summary>
    /// The first part of the way: device to the alert book taking the alert (its <c>received_at</c>: broker, ingest,
    /// store, analytics); the rest is the book's write of the alert and the push to the wall screen.
    /// </summary>
    public double? ToBookP50Ms { get; init; }

    public double? ToBookP99Ms { get; init; }
}

/// <summary>A fixed feed into InfluxDB through Node-RED or Sensing, counted in InfluxDB.</summary>
public sealed record PeerResult(string Who, long Published, long Stored, double Seconds, double MessagesPerSecond, double PublishedPerSecond,
    long PointsWritten, double Cores, long PeakRssBytes);

/// <summary>The service's stepped run on one broker, QoS and store.</summary>
public sealed class PipelineResult
{
    public string Broker { get; init; } = "";
    public int Qos { get; init; }
    public string Store { get; init; } = "";
    public double? Ceiling { get; init; }
    public List<StepResult> Steps { get; } = [];
    public double? Sustained { get; set; }
    public AlertResult? Alert { get; set; }
    public long PeakRssBytes { get; set; }
    public long PeakHeapBytes { get; set; }
    public long DeadLetters { get; set; }
    public string Name => $"{Broker} QoS {Qos} {Store}";
}

/// <summary>Everything one run measured.</summary>
public sealed class E2eRun
{
    public int Run { get; init; }
    public double LoadAverageAtStart { get; init; }
    public double LoadAverageAtEnd { get; set; }
    public List<CeilingResult> Ceilings { get; } = [];
    public List<PipelineResult> Pipelines { get; } = [];
    public PeerResult? NodeRed { get; set; }
    public PeerResult? SensingInflux { get; set; }
    public PeerResult? SensingEmbeddedInflux { get; set; }
}

/// <summary>Medians over the runs, and the table the command prints.</summary>
public sealed class E2eSummary
{
    public string Machine { get; init; } = "";
    public int Runs { get; init; }
    public int Communities { get; init; }
    public int Devices { get; init; }
    public double TopicBytes { get; init; }
    public double PayloadBytes { get; init; }
    public string LoadAverages { get; init; } = "";
    public List<Row> Rows { get; } = [];
    public AlertResult? Alert { get; init; }
    public double? NodeRed { get; init; }
    public double? SensingInflux { get; init; }
    public double? PeerRatio => NodeRed is > 0 && SensingInflux is { } s ? s / NodeRed : null;
    public double? SensingEmbeddedInflux { get; init; }
    public double? EmbeddedPeerRatio => NodeRed is > 0 && SensingEmbeddedInflux is { } s ? s / NodeRed : null;

    /// <summary>One configuration: the broker's ceiling and the pipeline's sustained rate on it (medians).</summary>
    public sealed record Row(string Broker, int Qos, string Store, double? Ceiling, double? Sustained, double? Ratio, double? StoreP50Ms, double? StoreP99Ms,
        double? ServiceCores, double? MachineBusy, double PeakRssMb, double PeakHeapMb, string CeilingRuns, string SustainedRuns);

    internal static E2eSummary From(List<E2eRun> runs, string machine, E2eFeed feed, double topicBytes, double payloadBytes, E2eOptions options)
    {
        var summary = new E2eSummary
        {
            Machine = machine,
            Runs = runs.Count,
            Communities = feed.Communities,
            Devices = feed.Devices,
            TopicBytes = topicBytes,
            PayloadBytes = payloadBytes,
            LoadAverages = string.Join("; ", runs.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.LoadAverageAtStart:F1}→{r.LoadAverageAtEnd:F1}"))),
            Alert = runs.Select(r => r.Pipelines.FirstOrDefault(p => p.Alert is not null)?.Alert).OfType<AlertResult>() is var alerts && alerts.Any()
                ? new AlertResult(alerts.First().OfferedRate, Median(alerts.Select(a => (double?)a.TakenRate))!.Value, alerts.Sum(a => a.Sent), alerts.Sum(a => a.Received),
                    Median(alerts.Select(a => a.P50Ms)), Median(alerts.Select(a => a.P99Ms)), Median(alerts.Select(a => a.MaxMs)))
                : null,
            NodeRed = Median(runs.Select(r => r.NodeRed?.MessagesPerSecond)),
            SensingInflux = Median(runs.Select(r => r.SensingInflux?.MessagesPerSecond)),
            SensingEmbeddedInflux = Median(runs.Select(r => r.SensingEmbeddedInflux?.MessagesPerSecond)),
        };
        var configurations = runs.SelectMany(r => r.Pipelines).Select(p => (p.Broker, p.Qos, p.Store)).Distinct();
        foreach (var (broker, qos, store) in configurations)
        {
            var pipelines = runs.SelectMany(r => r.Pipelines).Where(p => p.Broker == broker && p.Qos == qos && p.Store == store).ToList();
            var ceilings = runs.SelectMany(r => r.Ceilings).Where(c => c.Broker == broker && c.Qos == qos).Select(c => c.ReceivedPerSecond).ToList();
            var ceiling = Median(ceilings.Select(c => (double?)c));
            var sustained = Median(pipelines.Select(p => (double?)(p.Sustained ?? 0)));
            // Latency and CPU at each run's highest sustained step.
            var top = pipelines.Select(p => p.Steps.Where(s => s.Sustained).MaxBy(s => s.Offered)).OfType<StepResult>().ToList();
            summary.Rows.Add(new Row(broker, qos, store, ceiling, sustained, ceiling is > 0 && sustained is { } s ? s / ceiling : null,
                Median(top.Select(t => (double?)t.StoreP50Ms)), Median(top.Select(t => (double?)t.StoreP99Ms)),
                Median(top.Select(t => (double?)t.ServiceCores)), Median(top.Select(t => (double?)t.MachineBusy)),
                pipelines.Max(p => p.PeakRssBytes) / 1e6, pipelines.Max(p => p.PeakHeapBytes) / 1e6,
                string.Join(" · ", ceilings.Select(c => c.ToString("N0", CultureInfo.InvariantCulture))),
                string.Join(" · ", pipelines.Select(p => (p.Sustained ?? 0).ToString("N0", CultureInfo.InvariantCulture)))));
        }
        return summary;
    }

    public static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.OfType<double>().Order().ToArray();
        if (sorted.Length == 0) return null;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public void Print(TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"e2e summary: {Runs} run(s), medians; {Machine}; load average per run {LoadAverages}"));
        output.WriteLine(string.Create(c, $"feed: {Communities} communities, {Devices:N0} devices; {TopicBytes:F0} B topic + {PayloadBytes:F0} B payload"));
        output.WriteLine();
        output.WriteLine("| broker | QoS | store | ceiling msg/s | pipeline sustained msg/s | pipeline / ceiling | store p50 / p99 ms | service CPU (cores) | machine busy | peak RSS MB | managed heap MB |");
        output.WriteLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
        {
            output.WriteLine(string.Create(c,
                $"| {r.Broker} | {r.Qos} | {r.Store} | {Fmt(r.Ceiling, "N0")} | {Fmt(r.Sustained, "N0")} | {Fmt(r.Ratio, "F2")} | {Fmt(r.StoreP50Ms, "F0")} / {Fmt(r.StoreP99Ms, "F0")} | {Fmt(r.ServiceCores, "F2")} | {Fmt(r.MachineBusy, "P0")} | {r.PeakRssMb:F0} | {r.PeakHeapMb:F0} |"));
        }
        output.WriteLine();
        foreach (var r in Rows) output.WriteLine($"runs {r.Broker} QoS {r.Qos} {r.Store}: ceiling {r.CeilingRuns}; sustained {r.SustainedRuns}");
        if (Alert is { } a)
        {
            output.WriteLine(string.Create(c,
                $"device to alert (gate_forced on the wall screen) at {a.OfferedRate:N0} msg/s offered ({a.TakenRate:N0} taken): {a.Received} of {a.Sent} alerts, p50 {Fmt(a.P50Ms, "F0")} ms, p99 {Fmt(a.P99Ms, "F0")} ms, max {Fmt(a.MaxMs, "F0")} ms"));
        }
        if (NodeRed is not null || SensingInflux is not null)
        {
            output.WriteLine(string.Create(c,
                $"into InfluxDB, counted there: Sensing {Fmt(SensingInflux, "N0")} msg/s, Node-RED {Fmt(NodeRed, "N0")} msg/s, ratio {Fmt(PeerRatio, "F2")}× (both through mosquitto)"));
        }
        if (SensingEmbeddedInflux is not null)
        {
            output.WriteLine(string.Create(c,
                $"into InfluxDB, Sensing with its embedded broker (no mosquitto): {Fmt(SensingEmbeddedInflux, "N0")} msg/s, {Fmt(EmbeddedPeerRatio, "F2")}× Node-RED"));
        }
    }

    private static string Fmt(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    public static string StepsCsv(List<E2eRun> runs)
    {
        var csv = new StringBuilder("run,broker,qos,store,offered,taken_per_s,backlog_at_end,store_p50_ms,store_p99_ms,latency_samples,service_cores,machine_busy,allocated_bytes_per_msg,drain_s,shed,lost,sustained,why\n");
        foreach (var run in runs)
        {
            foreach (var p in run.Pipelines)
            {
                foreach (var s in p.Steps)
                {
                    csv.Append(CultureInfo.InvariantCulture,
                        $"{run.Run},{p.Broker},{p.Qos},{p.Store},{s.Offered},{s.TakenPerSecond:F0},{s.BacklogAtEnd},{s.StoreP50Ms:F1},{s.StoreP99Ms:F1},{s.LatencySamples},{s.ServiceCores:F3},{s.MachineBusy:F3},{s.AllocatedPerMessage:F0},{s.DrainSeconds:F1},{s.Shed},{s.Lost},{(s.Sustained ? 1 : 0)},\"{s.Why}\"\n");
                }
            }
        }
        return csv.ToString();
    }
}

/// <summary>
/// The chart: per configuration, the rate the service took (left axis, solid) and its p99 device-to-store latency
/// (right axis, dashed) against the offered rate, medians over the runs; the brokers' ceilings as dotted lines.
/// ScottPlot renders through SkiaSharp's self-contained native library (no system fonts or X needed).
/// </summary>
internal static class E2eChart
{
    public static void Write(string path, List<E2eRun> runs, E2eSummary summary)
    {
        var plot = new Plot();
        plot.Title("Sensing end to end: rate taken and p99 device-to-store latency vs offered load");
        plot.XLabel("offered load (msg/s)");
        plot.YLabel("taken (msg/s)");
        plot.Axes.Right.Label.Text = "p99 device-to-store latency (ms)";
        var palette = new ScottPlot.Palettes.Category10();
        var configurations = runs.SelectMany(r => r.Pipelines).Select(p => p.Name).Distinct().ToList();
        var maxOffered = 0.0;
        var maxRate = summary.Rows.Select(r => r.Ceiling ?? 0).DefaultIfEmpty(0).Max();
        var maxLatency = 0.0;
        for (var i = 0; i < configurations.Count; i++)
        {
            var name = configurations[i];
            var color = palette.GetColor(i);
            var steps = runs.SelectMany(r => r.Pipelines).Where(p => p.Name == name).SelectMany(p => p.Steps).GroupBy(s => s.Offered).OrderBy(g => g.Key).ToList();
            if (steps.Count == 0) continue;
            double[] xs = [.. steps.Select(g => (double)g.Key)];
            maxOffered = Math.Max(maxOffered, xs[^1]);
            double[] taken = [.. steps.Select(g => E2eSummary.Median(g.Select(s => (double?)s.TakenPerSecond)) ?? 0)];
            double[] p99 = [.. steps.Select(g => E2eSummary.Median(g.Select(s => (double?)s.StoreP99Ms)) ?? 0)];
            maxRate = Math.Max(maxRate, taken.Max());
            maxLatency = Math.Max(maxLatency, p99.Max());
            var rate = plot.Add.Scatter(xs, taken, color);
            rate.LegendText = name + " taken";
            rate.LineWidth = 2;
            rate.MarkerSize = 6;
            var latency = plot.Add.Scatter(xs, p99, color);
            latency.LegendText = name + " p99 ms";
            latency.LinePattern = LinePattern.Dashed;
            latency.MarkerShape = MarkerShape.OpenCircle;
            latency.Axes.YAxis = plot.Axes.Right;

            if (summary.Rows.FirstOrDefault(r => $"{r.Broker} QoS {r.Qos} {r.Store}" == name)?.Ceiling is { } ceiling)
            {
                var line = plot.Add.HorizontalLine(ceiling, 1, color, LinePattern.Dotted);
                line.LegendText = $"{name[..name.LastIndexOf(' ')]} ceiling";
            }
        }
        if (maxOffered > 0)
        {
            var diagonal = plot.Add.Line(0, 0, maxOffered, maxOffered);
            diagonal.Color = Colors.Gray;
            diagonal.LinePattern = LinePattern.Dotted;
            diagonal.LegendText = "taken = offered";
        }
        plot.Axes.SetLimitsX(0, Math.Max(1, maxOffered * 1.05));
        plot.Axes.SetLimitsY(0, Math.Max(maxOffered, maxRate) * 1.1, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, Math.Max(1, maxLatency) * 1.1, plot.Axes.Right);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1100, 650);
    }
}
