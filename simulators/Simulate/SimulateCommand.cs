using System.Globalization;
using System.Net.Sockets;
using MQTTnet.Exceptions;

namespace Sensing.Simulators.Simulate;

/// <summary><c>simulators -- simulate [options]</c>: a realistic feed of N communities to a broker or a file, with ground truth.</summary>
public static class SimulateCommand
{
    public const int Interrupted = 130;

    public const string Help = """
        usage: dotnet run -c Release --project simulators -- simulate [options]

        Publishes a realistic native-format feed of N communities (c1…cN) to an MQTT broker: household water and
        electricity meters every 15 min (cumulative registers; elderly living alone, working families, retired
        couples, empty flats each with their own day), gate passes peaking 7–9 and 17–20 Beijing time, lot
        counters every minute (full overnight), camera heartbeats every 60 s and detections; weekends and 2026
        public holidays; device faults; and optional labelled incidents with a ground-truth file.

        World (per community; defaults are a real community of ~5,000 residents)
          --communities N       communities c1…cN (1)
          --households N        households, each with a water and an electricity meter (2000)
          --cameras N           cameras (400)
          --gates N             gates (4)
          --lots N              parking lots; with 3 or more the last is a visitors' lot (3)
          --grids N             grids the households and devices are spread over (11)

        Time
          --start TIME          event time of the first instant, RFC 3339 (now, rounded down to the minute)
          --duration D          how much event time to generate: 30m, 6h, 1d, 7d (1d)
          --speed N|max         event time runs N× wall time; max = as fast as the broker takes it
                                (1; max with --dry-run)
          --rate N              cap on messages per wall-clock second, 0 = none (0)

        Cadence (defaults: a real community's traffic; thinner for long soaks)
          --meter-every D       meter registers (15m)
          --lot-every D         parking lot counters (1m)
          --heartbeat-every D   camera online heartbeats (1m)
          --detection-factor X  camera detections × X of the default one per camera per 400 s (1)

        Output
          --seed N              the same seed (and options) gives byte-identical output (2026)
          --format F            payload format: native (default); tasmota, chirpstack, hikvision or vendors publish
                                electricity meters, water meters and lots, gates (vendors: all) as those vendors do
          --host H --port P     broker (localhost:1883)
          --username U --password P
          --qos 0|1             MQTT QoS (1)
          --client-id ID        MQTT client id (sensing-simulate-<pid>)
          --dry-run             publish nothing; generate only (measures generation speed)
          --out FILE.jsonl      with --dry-run: write {"time","topic","payload"} lines instead

        Scenarios and ground truth
          --scenario NAME|FILE  none | welfare-mix | welfare-eval | facilities | all, or a scenario .json
                                file (none); welfare-eval is the welfare detector's evaluation (30–90 days)
          --truth-out FILE      ground truth as JSON lines: subject, kind, community, grid, household,
                                device, onset, end, depth, expect_alert (scenario incidents and device faults)
          --registry-out FILE   the simulated registry (the service's Registry:Path format), with the away
                                spells of holiday confounders

        Faults (fraction of devices over the run; malformed: of messages)
          --silent-rate X (0.001)  --flapping-rate X (0.005, cameras)  --skew-rate X (0.0005)
          --reset-rate X (0.0005, meters)  --malformed-rate X (0.0002)
          --loss-rate X (0, of meter messages: lost readings)  --no-faults

        Progress goes to stderr (every second on a terminal, every 10 s when redirected); a summary to stdout.
        Ctrl+C stops cleanly with the summary (exit code 130).
        """;

    /// <summary>The console entry point: wires stdout, stderr and Ctrl+C.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        using var stop = new CancellationTokenSource();
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            // First Ctrl+C: stop generating, drain and print the summary. A second one ends the process at once.
            if (stop.IsCancellationRequested)
                return;
            e.Cancel = true;
            stop.Cancel();
        }
        Console.CancelKeyPress += OnCancel;
        try
        {
            return await RunAsync(args, Console.Out, Console.Error, !Console.IsErrorRedirected, TimeProvider.System, stop.Token);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool interactive, TimeProvider time, CancellationToken stop)
    {
        SimulateOptions options;
        IReadOnlyList<IncidentSpec> scenario;
        DateTimeOffset start;
        try
        {
            options = SimulateOptions.Parse(args);
            if (options.Help)
            {
                await output.WriteLineAsync(Help);
                return 0;
            }
            start = options.Start ?? FloorToMinute(time.GetUtcNow().ToOffset(ChinaCalendar.LocalOffset));
            scenario = options.Scenario.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                ? Scenarios.ReadFile(options.Scenario, start)
                : Scenarios.Preset(options.Scenario, options.Duration, options.World.Households);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IOException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            await error.WriteLineAsync($"simulate: {ex.Message}");
            await error.WriteLineAsync("simulate --help lists the options.");
            return 2;
        }

        var world = SimulatedWorld.Create(options.World, options.Seed);
        FeedPlan plan;
        try
        {
            plan = FeedPlan.Create(world, start, options.Duration, scenario, options.Faults);
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"simulate: {ex.Message}");
            return 2;
        }
        if (options.RegistryOut is { } registryPath)
            TruthFile.WriteRegistry(registryPath, world, plan.Away, FeedFormats.Create(options.Format));
        // The truth describes the whole planned run; a run stopped early says where it stopped in its summary.
        if (options.TruthOut is { } truthPath)
            TruthFile.Write(truthPath, plan.Truth);

        var speed = options.SpeedGiven ? options.Speed : options.DryRun ? null : options.Speed;
        IMessageSink sink;
        try
        {
            sink = !options.DryRun ? await MqttPublishSink.ConnectAsync(
                    new BrokerOptions(options.Host, options.Port, options.Username, options.Password, options.Qos,
                        options.ClientId ?? $"sensing-simulate-{Environment.ProcessId}"),
                    world.Devices.Count, stop)
                : options.Out is { } outPath ? new JsonLinesSink(outPath)
                : new DiscardingSink();
        }
        catch (Exception ex) when (ex is MqttCommunicationException or SocketException or OperationCanceledException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"simulate: cannot {(options.DryRun ? "open " + options.Out : $"connect to {options.Host}:{options.Port}")}: {ex.Message}");
            return 1;
        }

        var generator = new FeedGenerator(plan, FeedFormats.Create(options.Format), options.Cadence);
        var progress = new ProgressLine(error, interactive, time);
        var faults = new long[4];
        var last = start;
        var exitCode = 0;
        var wallStart = time.GetTimestamp();
        await using (sink)
        {
            try
            {
                while (!stop.IsCancellationRequested && generator.TryNext(out var message))
                {
                    var paced = speed is not null || options.Rate > 0;
                    if (paced)
                        await PaceAsync(message.Time - start, generator.Count, speed, options.Rate, time, wallStart, stop);
                    await sink.WriteAsync(message, stop);
                    faults[(int)message.Fault]++;
                    last = message.Time;
                    if (paced || (generator.Count & 1023) == 0)
                        progress.Report(generator.Count, last, force: false);
                }
                await sink.FlushAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is MqttCommunicationException or InvalidOperationException or IOException)
            {
                await error.WriteLineAsync();
                await error.WriteLineAsync($"simulate: publishing failed: {ex.Message}");
                exitCode = 1;
            }
        }
        var elapsed = time.GetElapsedTime(wallStart);
        if (stop.IsCancellationRequested)
            exitCode = Interrupted;
        progress.Finish();

        var count = generator.Count;
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        var end = start + options.Duration;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"simulate: {count:N0} messages in {seconds:F1} s ({count / seconds:N0}/s); event time {start:yyyy-MM-dd HH:mm zzz} → {(exitCode == 0 ? end : last):yyyy-MM-dd HH:mm:ss zzz}; " +
            $"{world.Communities.Count} {(world.Communities.Count == 1 ? "community" : "communities")}, {world.Devices.Count:N0} devices, seed {options.Seed}, {(options.DryRun ? options.Out ?? "dry run" : $"{options.Host}:{options.Port} QoS {(int)options.Qos}")}"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"simulate: faults in the stream: {faults[(int)MessageFault.Malformed]:N0} malformed, {faults[(int)MessageFault.ClockSkew]:N0} clock-skewed, {faults[(int)MessageFault.CounterReset]:N0} counter resets; " +
            $"{plan.Truth.Count:N0} truth labels{(options.TruthOut is null ? "" : " in " + options.TruthOut)}{(options.RegistryOut is null ? "" : "; registry in " + options.RegistryOut)}"));
        if (exitCode == Interrupted)
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"simulate: interrupted at event time {last:yyyy-MM-dd HH:mm:ss zzz}; the truth file covers the whole planned run"));
        return exitCode;
    }

    /// <summary>
    /// Holds a message back until its event time is due at <paramref name="speed"/>× and the rate cap allows it.
    /// Waits shorter than a couple of milliseconds are skipped: timers cannot do better, and the next wait catches up.
    /// </summary>
    private static async ValueTask PaceAsync(TimeSpan eventOffset, long count, double? speed, double rate, TimeProvider time, long wallStart, CancellationToken stop)
    {
        var due = speed is { } s ? eventOffset / s : TimeSpan.Zero;
        if (rate > 0)
        {
            var byRate = TimeSpan.FromSeconds(count / rate);
            if (byRate > due)
                due = byRate;
        }
        var wait = due - time.GetElapsedTime(wallStart);
        if (wait > TimeSpan.FromMilliseconds(2))
            await Task.Delay(wait, time, stop);
    }

    private static DateTimeOffset FloorToMinute(DateTimeOffset time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerMinute, time.Offset);

    /// <summary>Messages sent, current rate and simulated time on stderr: a refreshed line on a terminal, a line every 10 s otherwise.</summary>
    private sealed class ProgressLine(TextWriter error, bool interactive, TimeProvider time)
    {
        private readonly TimeSpan _every = interactive ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(10);
        private long _lastAt = time.GetTimestamp();
        private long _lastCount;
        private bool _written;

        public void Report(long count, DateTimeOffset eventTime, bool force)
        {
            var elapsed = time.GetElapsedTime(_lastAt);
            if (!force && elapsed < _every)
                return;
            var rate = (count - _lastCount) / Math.Max(elapsed.TotalSeconds, 1e-6);
            var line = string.Create(CultureInfo.InvariantCulture, $"{count,14:N0} sent  {rate,10:N0}/s  simulated {eventTime:yyyy-MM-dd HH:mm:ss zzz}");
            if (interactive)
                error.Write("\r" + line);
            else
                error.WriteLine(line);
            _written = true;
            _lastAt = time.GetTimestamp();
            _lastCount = count;
        }

        public void Finish()
        {
            if (interactive && _written)
                error.WriteLine();
        }
    }
}
