using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sensing.Simulators.Simulate;
using Sensing.Testing;
using static Sensing.Benchmarks.BrokerLoadCommand;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>soak</c>: a street office's week compressed into well under an hour, against the whole service in a child process
/// (<c>service-host</c>: embedded broker, ingest, DuckDB in a temp folder, analytics, alert book, SignalR), fed by the
/// simulator's own generator and clock (<c>simulate</c>, in this process, paced at <c>--speed</c>× event time) with
/// labelled incidents, while the service's resident memory, managed heap, full collections, open handles, threads,
/// DuckDB file size, backlog, readings stored and alerts are sampled from its <c>/metrics</c> every
/// <c>--sample-every</c>. At the end each series is judged flat or growing (<see cref="SoakAnalysis"/>) and the samples
/// go to <c>soak-samples.csv</c>, the verdict to <c>soak.json</c>, the chart to <c>soak.png</c> in <c>--out</c>.
/// <code>
/// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- soak [--communities 40] [--days 7] [--speed 300|max]
///   [--sample-every 30s] [--out DIR] [--quick] [--households 100] [--cameras 20] [--meter-every 1h] [--heartbeat-every 15m]
///   [--lot-every 5m] [--detection-factor 0.25] [--scenario all] [--seed 2026] [--Section:Key=value …]
/// </code>
/// </summary>
public static class SoakCommand
{
    private const string SigningKey = "soak-benchmark-signing-key-0123456789abcdef";

    public static async Task<int> RunAsync(string[] args)
    {
        SoakOptions options;
        try
        {
            options = SoakOptions.Parse(args);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"soak: {ex.Message}");
            return 2;
        }
        Directory.CreateDirectory(options.Out);
        var folder = Directory.CreateTempSubdirectory("sensing-soak-").FullName;
        IngestProcess? service = null;
        try
        {
            var clock = Stopwatch.StartNew();
            // The simulated span ends at the hour this run starts: every event time is in the past, as a real feed's
            // is, so retention (which ages from the newest event time, capped at the wall clock) and the tiles see a
            // plausible world. It still runs --speed× faster than the wall clock.
            var now = DateTimeOffset.UtcNow.ToOffset(ChinaCalendar.LocalOffset);
            var start = new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerHour, now.Offset) - options.Span;
            var world = SimulatedWorld.Create(options.World, options.Seed);
            var plan = FeedPlan.Create(world, start, options.Span, Scenarios.Preset(options.Scenario, options.Span, options.World.Households), options.Faults);
            var registry = Path.Combine(folder, "registry.json");
            TruthFile.WriteRegistry(registry, world, plan.Away);
            var truth = Path.Combine(folder, "truth.jsonl");
            var planned = ExpectedMessages(options);
            Log(string.Create(CultureInfo.InvariantCulture,
                $"soak: {world.Communities.Count} communities, {world.Devices.Count:N0} devices, {world.Households.Count:N0} households; {options.Span.TotalHours:F0} simulated hours from {start:yyyy-MM-dd HH:mm zzz} at {(options.Speed is { } s ? s.ToString("F0", CultureInfo.InvariantCulture) + "×" : "max speed")}; ~{planned:N0} messages planned (~{planned / options.Span.TotalDays:N0} per simulated day); {plan.Truth.Count:N0} truth labels ({plan.Truth.Count(t => t.ExpectAlert):N0} expecting an alert); load average {ProcessCpu.LoadAverage():F1}"));

            var httpPort = SensingTestHost.FreePort();
            var mqttPort = SensingTestHost.FreePort();
            var store = Path.Combine(folder, "sensing.duckdb");
            var serviceArgs = new List<string>
            {
                $"--urls=http://127.0.0.1:{httpPort}",
                "--Demo:Enabled=false",
                "--Broker:AllowAnonymous=true", // the simulator connects anonymously, as a rig's simulators do
                "--Mqtt:Embedded=true",
                "--Mqtt:Host=127.0.0.1",
                $"--Mqtt:Port={mqttPort}",
                $"--Store:Path={store}",
                $"--Registry:Path={registry}",
                $"--Analytics:ModelDirectory={Path.Combine(folder, "models")}",
                $"--Auth:SigningKey={SigningKey}",
                // A week would never reach the 30-day raw horizon: two days make retention delete (and compact
                // rollups) several times during the run. The job's interval is wall-clock time: every 2 min is
                // about every 10 simulated hours at 300×.
                "--Store:Retention:Raw=2.00:00:00",
                "--Store:Retention:Minute=4.00:00:00",
                $"--Store:Retention:Interval={options.RetentionEvery:c}",
                // The service is told the devices' cadence, as a deployment with these devices would be: device_silent's
                // defaults (meters 15 min, cameras 1 min) would call every thinned device silent until it learns.
                $"--Analytics:Silence:MeterInterval={options.Cadence.MeterEvery:c}",
                $"--Analytics:Silence:CameraInterval={options.Cadence.HeartbeatEvery:c}",
                $"--Analytics:Silence:ParkingInterval={options.Cadence.LotEvery:c}",
            };
            serviceArgs.AddRange(options.ServiceSettings);
            service = IngestProcess.Start("service-host", [.. serviceArgs]);
            await service.WaitUntilConnectedAsync(TimeSpan.FromSeconds(180));
            Log($"soak: service up in {clock.Elapsed.TotalSeconds:F1} s (pid {service.Id}), http {httpPort}, mqtt {mqttPort}");

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(20) };
            var samples = new List<SoakSample>();
            var feedProgress = new ProgressCapture();
            var feedStart = Stopwatch.StartNew();
            var cpuStart = service.CpuSeconds();
            var feedPhase = SoakPhase.Feed;
            DateTimeOffset Simulated()
            {
                if (feedPhase != SoakPhase.Feed) return start + options.Span;
                if (feedProgress.Simulated is { } seen) return seen;
                return options.Speed is { } speed ? Min(start + feedStart.Elapsed * speed, start + options.Span) : start;
            }

            async Task SampleAsync()
            {
                var metrics = await ScrapeAsync(http);
                var sample = SoakSample.From(metrics, clock.Elapsed.TotalSeconds, (Simulated() - start).TotalDays, feedPhase, service.CpuSeconds() - cpuStart, ProcessCpu.LoadAverage(), feedProgress.Sent);
                lock (samples) samples.Add(sample);
                Log(sample.Line());
            }

            using var stopSampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(options.SampleEvery);
                do
                {
                    try
                    {
                        await SampleAsync();
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException)
                    {
                        Log($"soak: sample failed: {ex.Message}");
                    }
                }
                while (await timer.WaitForNextTickAsync(stopSampling.Token).AsTask().ContinueWith(t => !t.IsCanceled && t.Result));
            });

            // The simulator's own command, in this process (its CPU is not the service's): same generator, pacing and
            // publishing as `simulators -- simulate`.
            var simulateArgs = new List<string>
            {
                "--communities", options.World.Communities.ToString(CultureInfo.InvariantCulture),
                "--households", options.World.Households.ToString(CultureInfo.InvariantCulture),
                "--cameras", options.World.Cameras.ToString(CultureInfo.InvariantCulture),
                "--gates", options.World.Gates.ToString(CultureInfo.InvariantCulture),
                "--lots", options.World.Lots.ToString(CultureInfo.InvariantCulture),
                "--start", start.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                "--duration", $"{options.Span.TotalMinutes.ToString(CultureInfo.InvariantCulture)}m",
                "--speed", options.Speed is { } sp ? sp.ToString(CultureInfo.InvariantCulture) : "max",
                "--seed", options.Seed.ToString(CultureInfo.InvariantCulture),
                "--scenario", options.Scenario,
                "--truth-out", truth,
                "--meter-every", $"{options.Cadence.MeterEvery.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s",
                "--lot-every", $"{options.Cadence.LotEvery.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s",
                "--heartbeat-every", $"{options.Cadence.HeartbeatEvery.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s",
                "--detection-factor", options.Cadence.DetectionFactor.ToString(CultureInfo.InvariantCulture),
                "--host", "127.0.0.1", "--port", mqttPort.ToString(CultureInfo.InvariantCulture),
                "--qos", "1", "--client-id", $"sensing-soak-{Environment.ProcessId}",
            };
            var summary = new StringWriter();
            var simulateExit = await SimulateCommand.RunAsync([.. simulateArgs], summary, feedProgress, interactive: true, TimeProvider.System, CancellationToken.None);
            var feedSeconds = feedStart.Elapsed.TotalSeconds;
            foreach (var line in summary.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)) Log(line.TrimEnd());
            if (simulateExit != 0)
            {
                throw new InvalidOperationException($"simulate exited with {simulateExit}: {summary}");
            }
            var sent = feedProgress.Sent = ParseSent(summary.ToString());

            // Drain: until everything sent is stored or dead-lettered (the broker's backlog and ingest's queue empty).
            feedPhase = SoakPhase.Drain;
            var drain = Stopwatch.StartNew();
            while (drain.Elapsed < options.MaxDrain && (service.Received < sent || service.QueueDepth > 0))
            {
                await Task.Delay(500);
            }
            var drainSeconds = drain.Elapsed.TotalSeconds;
            Log($"soak: feed done in {feedSeconds:F0} s, drained in {drainSeconds:F1} s ({service.Received:N0} of {sent:N0} received, queue {service.QueueDepth})");
            // A quiet tail: what the service holds once the traffic stops (pools trimmed, the last hour judged).
            feedPhase = SoakPhase.Idle;
            await Task.Delay(options.IdleTail);
            await SampleAsync();
            stopSampling.Cancel();
            await sampler;

            var end = await ScrapeAsync(http);
            var result = SoakAnalysis.Analyse(samples, options, planned, sent, feedSeconds, drainSeconds, clock.Elapsed.TotalSeconds, end, start, world.Devices.Count, world.Households.Count, plan.Truth.Count(t => t.ExpectAlert));
            result.Print(Console.Out);
            await File.WriteAllTextAsync(Path.Combine(options.Out, "soak-samples.csv"), SoakSample.Csv(samples));
            await File.WriteAllTextAsync(Path.Combine(options.Out, "soak.json"), JsonSerializer.Serialize(new { result, samples }, s_json));
            SoakChart.Write(Path.Combine(options.Out, "soak.png"), samples, result);
            Log($"soak: done in {clock.Elapsed.TotalMinutes:F1} min; results in {Path.GetFullPath(options.Out)} (soak.json, soak-samples.csv, soak.png)");
            return result.Flat ? 0 : 1;
        }
        finally
        {
            if (service is not null)
            {
                await service.StopAsync();
                service.Dispose();
            }
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static void Log(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static long ParseSent(string summary)
    {
        // "simulate: 1,234,567 messages in …"
        var text = summary["simulate: ".Length..summary.IndexOf(" messages", StringComparison.Ordinal)];
        return long.Parse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
    }

    /// <summary>Messages the cadences give per simulated span, before faults and incidents (for the plan line).</summary>
    internal static double ExpectedMessages(SoakOptions options)
    {
        var w = options.World;
        var c = options.Cadence;
        var seconds = options.Span.TotalSeconds;
        var perCommunity = 2.0 * w.Households * seconds / c.MeterEvery.TotalSeconds
            + (double)w.Cameras * seconds / c.HeartbeatEvery.TotalSeconds
            + w.Cameras * 0.0025 * c.DetectionFactor * seconds
            + (double)w.Lots * seconds / c.LotEvery.TotalSeconds
            + w.Households * 5.0 * seconds / 86_400;
        return perCommunity * w.Communities;
    }

    /// <summary>The service's <c>/metrics</c> as name (with labels) → value.</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient http)
    {
        var text = await http.GetStringAsync("/metrics");
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                values[line[..space]] = value;
            }
        }
        return values;
    }

    /// <summary>Takes the simulator's progress lines (stderr) and keeps the last simulated time and count.</summary>
    private sealed class ProgressCapture : TextWriter
    {
        private readonly StringBuilder _line = new();
        private DateTimeOffset? _simulated;
        private long _sent;

        public override Encoding Encoding => Encoding.UTF8;

        public DateTimeOffset? Simulated { get { lock (_line) return _simulated; } }

        public long Sent { get { lock (_line) return _sent; } set { lock (_line) _sent = value; } }

        public override void Write(char value)
        {
            lock (_line)
            {
                // Progress is written as "\r" + line (interactive: once a second), the summary as lines.
                if (value is not ('\n' or '\r')) { _line.Append(value); return; }
                var line = _line.ToString();
                _line.Clear();
                // "     1,234,567 sent       2,345/s  simulated 2026-11-17 20:00:00 +08:00"
                var at = line.IndexOf("simulated ", StringComparison.Ordinal);
                var sentAt = line.IndexOf(" sent", StringComparison.Ordinal);
                if (at >= 0 && DateTimeOffset.TryParse(line.AsSpan(at + "simulated ".Length).Trim(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var simulated))
                {
                    _simulated = simulated;
                }
                if (sentAt > 0 && long.TryParse(line.AsSpan(0, sentAt).Trim(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var sent))
                {
                    _sent = sent;
                }
                if (line.StartsWith("simulate:", StringComparison.Ordinal)) Console.Error.WriteLine(line);
            }
        }
    }
}

internal enum SoakPhase { Feed, Drain, Idle }

/// <summary>The soak's options (see <see cref="SoakCommand"/>).</summary>
internal sealed record SoakOptions
{
    public WorldOptions World { get; init; } = new() { Communities = 40, Households = 100, Cameras = 20, Gates = 4, Lots = 3 };
    public FeedCadence Cadence { get; init; } = new()
    {
        MeterEvery = TimeSpan.FromHours(1),
        HeartbeatEvery = TimeSpan.FromMinutes(15),
        LotEvery = TimeSpan.FromMinutes(5),
        DetectionFactor = 0.25,
    };
    public FaultRates Faults { get; init; } = new();
    public TimeSpan Span { get; init; } = TimeSpan.FromDays(7);
    /// <summary>Event time runs this many times faster than wall time; null: as fast as the broker takes it.</summary>
    public double? Speed { get; init; } = 300;
    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan RetentionEvery { get; init; } = TimeSpan.FromMinutes(2);
    public TimeSpan MaxDrain { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan IdleTail { get; init; } = TimeSpan.FromSeconds(30);
    public string Scenario { get; init; } = "all";
    public int Seed { get; init; } = 2026;
    public string Out { get; init; } = "soak-results";
    public bool Quick { get; init; }
    public List<string> ServiceSettings { get; init; } = [];

    public static SoakOptions Parse(IReadOnlyList<string> args)
    {
        var options = new SoakOptions();
        // --quick first, so explicit options given with it still win.
        if (args.Contains("--quick"))
        {
            options = options with
            {
                Quick = true,
                World = options.World with { Communities = 2 },
                Span = TimeSpan.FromHours(6),
                Speed = 1800,
                SampleEvery = TimeSpan.FromSeconds(1),
                RetentionEvery = TimeSpan.FromSeconds(5),
                IdleTail = TimeSpan.FromSeconds(2),
                MaxDrain = TimeSpan.FromSeconds(30),
            };
        }
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value");
            int Int(int min) => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min ? n : throw new FormatException($"{name} must be a whole number ≥ {min}");
            double Positive() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x > 0 ? x : throw new FormatException($"{name} must be a positive number");
            switch (name)
            {
                case "--quick": break;
                case "--communities": options = options with { World = options.World with { Communities = Int(1) } }; break;
                case "--households": options = options with { World = options.World with { Households = Int(0) } }; break;
                case "--cameras": options = options with { World = options.World with { Cameras = Int(0) } }; break;
                case "--gates": options = options with { World = options.World with { Gates = Int(0) } }; break;
                case "--lots": options = options with { World = options.World with { Lots = Int(0) } }; break;
                case "--days": options = options with { Span = TimeSpan.FromDays(Positive()) }; break;
                case "--hours": options = options with { Span = TimeSpan.FromHours(Positive()) }; break;
                case "--speed":
                    var speed = Value();
                    options = options with { Speed = speed == "max" ? null : double.TryParse(speed, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : throw new FormatException("--speed must be a positive number or 'max'") };
                    break;
                case "--sample-every": options = options with { SampleEvery = Durations.Parse(Value()) }; break;
                case "--retention-every": options = options with { RetentionEvery = Durations.Parse(Value()) }; break;
                case "--idle-tail": options = options with { IdleTail = Durations.Parse(Value()) }; break;
                case "--meter-every": options = options with { Cadence = options.Cadence with { MeterEvery = Durations.Parse(Value()) } }; break;
                case "--heartbeat-every": options = options with { Cadence = options.Cadence with { HeartbeatEvery = Durations.Parse(Value()) } }; break;
                case "--lot-every": options = options with { Cadence = options.Cadence with { LotEvery = Durations.Parse(Value()) } }; break;
                case "--detection-factor": options = options with { Cadence = options.Cadence with { DetectionFactor = Positive() } }; break;
                case "--scenario": options = options with { Scenario = Value() }; break;
                case "--seed": options = options with { Seed = Int(0) }; break;
                case "--out": options = options with { Out = Value() }; break;
                case "--no-faults": options = options with { Faults = FaultRates.None }; break;
                default:
                    if (name.StartsWith("--", StringComparison.Ordinal) && name.Contains(':') && name.Contains('='))
                    {
                        options.ServiceSettings.Add(name);
                        break;
                    }
                    throw new FormatException($"unknown option '{name}'");
            }
        }
        if (options.SampleEvery < TimeSpan.FromMilliseconds(200)) throw new FormatException("--sample-every must be at least 200 ms");
        if (Array.IndexOf(Scenarios.Presets, options.Scenario) < 0) throw new FormatException($"--scenario must be one of {string.Join(", ", Scenarios.Presets)}");
        try
        {
            options.World.Validate();
            options.Cadence.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new FormatException(ex.Message);
        }
        return options;
    }
}
