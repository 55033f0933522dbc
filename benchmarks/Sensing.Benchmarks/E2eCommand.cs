using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Cockpit;
using Sensing.Cockpit.Access;
using Sensing.Testing;
using static Sensing.Benchmarks.BrokerLoadCommand;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>e2e</c>: the whole speed story in one run on one machine.
/// <list type="number">
/// <item>The raw ceiling: MQTTnet publishers → broker → a bare subscriber that only counts, as fast as the publishers
/// go, at QoS 0 and QoS 1, through mosquitto (Debian's, own port and config) and through the service's embedded MQTTnet
/// broker alone in a child process.</item>
/// <item>The real pipeline: the service host (<c>service-host</c>, a child process: ingest → normalize → DuckDB store →
/// analytics → alert book and SignalR) with the same feed offered in steps of rising rate, then bisected between the last
/// sustained step and the first failed one (<c>--bisect</c>, 3 steps); a step is sustained when the
/// service takes ≥ 93 % of the offered rate, sheds nothing and ends with less than half a second of backlog. Per step:
/// msg/s, p50/p99 device-to-store latency, the service's CPU and the machine's. Per configuration: the highest
/// sustained rate, and its ratio to the same broker's ceiling at the same QoS.</item>
/// <item>Device to alert: at <c>--alert-rate</c> (20,000 msg/s) of background through mosquitto at QoS 1, a gate's
/// door forced open every 250 ms (a different gate each time); latency from the payload's <c>ts</c> (the wall clock at
/// publish) to the <c>gate_forced</c> alert arriving at an operator's SignalR connection (the wall screen).</item>
/// <item>Against Node-RED: the same feed through a Node-RED 4 flow (mqtt in → function → influxdb batch) and through
/// Sensing (<c>Store:Kind=influxdb</c>) into one InfluxDB 1.x, rates counted in InfluxDB.</item>
/// </list>
/// Writes <c>e2e.json</c>, <c>e2e-steps.csv</c> and <c>e2e.png</c> (rate and latency against offered load) to <c>--out</c>.
/// <code>
/// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- e2e [--quick] [--runs 3] [--out DIR] [--communities 40]
///   [--steps 5000,10000,…] [--step-seconds 8] [--brokers mosquitto,embedded] [--qos 0,1] [--influx-pipeline] [--no-peer]
///   [--alert-rate 20000] [--alert-seconds 12] [--peer-messages 300000] [--peer-warmup 100000] [--peer-brokers mosquitto,embedded]
///   [--connections 4] [--bisect 3]
/// </code>
/// </summary>
public static class E2eCommand
{
    private const string Password = "e2e-benchmark";
    private const string SigningKey = "e2e-benchmark-signing-key-0123456789abcdef";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = E2eOptions.Parse(args);
        var folder = Directory.CreateTempSubdirectory("sensing-e2e-").FullName;
        Directory.CreateDirectory(options.Out);
        try
        {
            var clock = Stopwatch.StartNew();
            var feed = new E2eFeed(options.Communities);
            var registry = Path.Combine(folder, "world.json");
            feed.WriteRegistry(registry);
            var (topicBytes, payloadBytes) = feed.MeanSizes();
            var machine = Machine();
            Log($"e2e: {machine}; load average {ProcessCpu.LoadAverage():F1}");
            Log(string.Create(CultureInfo.InvariantCulture,
                $"e2e: {feed.Communities} communities, {feed.Devices:N0} devices and {feed.Households:N0} households registered; messages {topicBytes:F0} B topic + {payloadBytes:F0} B payload on average (simulator's native format)"));

            var runs = new List<E2eRun>();
            for (var r = 1; r <= options.Runs; r++)
            {
                Log($"e2e: run {r} of {options.Runs}");
                var run = new E2eRun { Run = r, LoadAverageAtStart = ProcessCpu.LoadAverage() };
                foreach (var broker in options.Brokers)
                {
                    foreach (var qos in options.Qos)
                    {
                        run.Ceilings.Add(await CeilingAsync(options, feed, broker, qos));
                    }
                }
                foreach (var broker in options.Brokers)
                {
                    foreach (var qos in options.Qos)
                    {
                        // --alert-seconds 0 skips the probe (it would otherwise report "0 of 0 alerts").
                        var probe = broker == "mosquitto" && qos == 1 && options.AlertSeconds > 0;
                        run.Pipelines.Add(await PipelineAsync(options, feed, registry, folder, broker, qos, "duckdb", null, probe, run));
                    }
                }
                if (options.Peer || options.InfluxPipeline)
                {
                    await PeerAsync(options, feed, registry, folder, run);
                }
                run.LoadAverageAtEnd = ProcessCpu.LoadAverage();
                runs.Add(run);
            }

            var summary = E2eSummary.From(runs, machine, feed, topicBytes, payloadBytes, options);
            summary.Print(Console.Out);
            await File.WriteAllTextAsync(Path.Combine(options.Out, "e2e.json"), JsonSerializer.Serialize(new { summary, runs }, s_json));
            await File.WriteAllTextAsync(Path.Combine(options.Out, "e2e-steps.csv"), E2eSummary.StepsCsv(runs));
            E2eChart.Write(Path.Combine(options.Out, "e2e.png"), runs, summary);
            Log($"e2e: done in {clock.Elapsed.TotalMinutes:F1} min; results in {Path.GetFullPath(options.Out)} (e2e.json, e2e-steps.csv, e2e.png)");
            return 0;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    internal static void Log(string line)
    {
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
    }

    // ---------------------------------------------------------------- ceiling

    private static async Task<CeilingResult> CeilingAsync(E2eOptions options, E2eFeed feed, string broker, int qos)
    {
        await using var server = await BrokerUnderTest.StartAsync(broker);
        var level = (MqttQualityOfServiceLevel)qos;
        await using var counter = await CountingSubscriber.ConnectAsync(server.Port, level);
        await using var publisher = await LoadPublisher.ConnectAsync(feed, server.Port, options.Connections, $"e2e-ceiling-{Guid.NewGuid():N}");
        var warmUp = TimeSpan.FromSeconds(1);
        var measured = TimeSpan.FromSeconds(options.CeilingSeconds);
        var run = publisher.RunAsync(rate: 0, warmUp + measured, level);
        await Task.Delay(warmUp);
        var (received0, published0, at0, machine0) = (counter.Received, publisher.Published, Stopwatch.GetTimestamp(), ProcessCpu.Machine());
        var brokerCpu0 = server.CpuSeconds();
        await Task.Delay(measured);
        var (received1, published1, seconds, machine1) = (counter.Received, publisher.Published, Stopwatch.GetElapsedTime(at0).TotalSeconds, ProcessCpu.Machine());
        var brokerCpu1 = server.CpuSeconds();
        await run;
        var result = new CeilingResult(broker, qos, (received1 - received0) / seconds, (published1 - published0) / seconds,
            (brokerCpu1 - brokerCpu0) / seconds, MachineBusy(machine0, machine1));
        Log(string.Create(CultureInfo.InvariantCulture,
            $"ceiling {broker} QoS {qos}: {result.ReceivedPerSecond:N0} msg/s at the counting subscriber ({result.PublishedPerSecond:N0} msg/s published); broker CPU {result.BrokerCores:F2} cores, machine {result.MachineBusy:P0} busy"));
        return result;
    }

    // ---------------------------------------------------------------- pipeline

    private static async Task<PipelineResult> PipelineAsync(E2eOptions options, E2eFeed feed, string registry, string folder, string broker, int qos,
        string store, Uri? influx, bool alertProbe, E2eRun run)
    {
        var level = (MqttQualityOfServiceLevel)qos;
        var ceiling = run.Ceilings.FirstOrDefault(c => c.Broker == broker && c.Qos == qos)?.ReceivedPerSecond;
        await using var service = await ServiceUnderTest.StartAsync(options, broker, registry, folder, store, influx, $"pipeline{run.Run}");
        Log($"pipeline {broker} QoS {qos} {store}: service up in {service.StartSeconds:F1} s (registry of {feed.Devices:N0} devices), RSS {service.Process.RssBytes() / 1e6:F0} MB");
        await using var publisher = await LoadPublisher.ConnectAsync(feed, service.MqttPort, options.Connections, $"e2e-load-{Guid.NewGuid():N}");
        var result = new PipelineResult { Broker = broker, Qos = qos, Store = store, Ceiling = ceiling };
        int? sustainedOffer = null, failedOffer = null;
        foreach (var offered in options.Steps)
        {
            // Beyond the broker's own ceiling the question is answered (and the publishers would only queue).
            if (ceiling is { } c && offered > c * 1.05 && !options.Uncapped) break;
            var step = await StepAsync(options, service.Process, publisher, offered, level);
            result.Steps.Add(step);
            LogStep(step, "");
            if (!step.Sustained) { failedOffer = offered; break; }
            sustainedOffer = offered;
        }
        // The ladder's rungs are far apart near the limit (7,500 → 10,000 → 15,000): bisect between the last sustained
        // rung and the first that failed, so the sustained rate is the service's and not the ladder's.
        for (var b = 0; b < options.Bisect && sustainedOffer is { } low && failedOffer is { } high && high - low > Math.Max(250, low / 20); b++)
        {
            var offered = (low + high) / 2 / 250 * 250;
            if (offered <= low) break;
            var step = await StepAsync(options, service.Process, publisher, offered, level);
            result.Steps.Add(step);
            LogStep(step, " (bisecting)");
            if (step.Sustained) sustainedOffer = offered; else failedOffer = offered;
        }
        result.Sustained = result.Steps.Where(s => s.Sustained).OrderBy(s => s.Offered).Select(s => (double?)s.TakenPerSecond).LastOrDefault();
        if (alertProbe)
        {
            result.Alert = await AlertProbeAsync(options, feed, service, publisher, level);
        }
        result.PeakRssBytes = service.Process.PeakRssBytes();
        result.PeakHeapBytes = service.Process.PeakHeapBytes;
        result.DeadLetters = service.Process.DeadLetters;
        Log(string.Create(CultureInfo.InvariantCulture,
            $"pipeline {broker} QoS {qos} {store}: sustained {result.Sustained ?? 0:N0} msg/s = {(result.Sustained ?? 0) / (ceiling ?? double.NaN):F2} of the ceiling; peak RSS {result.PeakRssBytes / 1e6:F0} MB, managed heap {result.PeakHeapBytes / 1e6:F0} MB, {result.DeadLetters} dead letters"));
        return result;
    }

    private static void LogStep(StepResult step, string note) => Log(string.Create(CultureInfo.InvariantCulture,
        $"  offered {step.Offered,6:N0}{note}: took {step.TakenPerSecond,7:N0} msg/s, backlog {step.BacklogAtEnd,7:N0}, store p50/p99 {step.StoreP50Ms,6:F0}/{step.StoreP99Ms,6:F0} ms, service {step.ServiceCores:F2} cores and {step.AllocatedPerMessage / 1024:F1} KB allocated/msg, machine {step.MachineBusy:P0}, drained in {step.DrainSeconds:F1} s{(step.Sustained ? "" : "  NOT SUSTAINED: " + step.Why)}"));

    private static async Task<StepResult> StepAsync(E2eOptions options, IngestProcess service, LoadPublisher publisher, int offered, MqttQualityOfServiceLevel qos)
    {
        var warmUp = TimeSpan.FromSeconds(1);
        var length = TimeSpan.FromSeconds(options.StepSeconds);
        var attempted0 = publisher.Attempted;
        var dropped0 = service.Qos0Dropped;
        var processed0 = Processed(service);
        var run = publisher.RunAsync(offered, length, qos);
        await Task.Delay(warmUp);
        service.Mark();
        // Taken = processed (stored or dead-lettered), not received: ingest reads ahead into its queue.
        var (taken0, at0, cpu0, machine0, allocated0) = (Processed(service), Stopwatch.GetTimestamp(), service.CpuSeconds(), ProcessCpu.Machine(), service.AllocatedBytes);
        await Task.Delay(length - warmUp);
        var (taken1, seconds, cpu1, machine1, allocated1) = (Processed(service), Stopwatch.GetElapsedTime(at0).TotalSeconds, service.CpuSeconds(), ProcessCpu.Machine(), service.AllocatedBytes);
        // The stats line comes every 100 ms: both figures of one moment.
        var backlog = publisher.Attempted - attempted0 - (Processed(service) - processed0) - (service.Qos0Dropped - dropped0);
        var latency = service.Latency;
        await run;
        var offeredDone = publisher.Attempted - attempted0;

        // Drain before the next step, so each step starts from an empty pipeline.
        var drain = Stopwatch.StartNew();
        var last = -1L;
        var still = Stopwatch.StartNew();
        while (Processed(service) - processed0 + service.Qos0Dropped - dropped0 < offeredDone && drain.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(100);
            var now = Processed(service);
            if (now != last) { last = now; still.Restart(); }
            // QoS 0 may be lost at the broker (a full queue): stop waiting once nothing moves.
            if (qos == MqttQualityOfServiceLevel.AtMostOnce && still.Elapsed > TimeSpan.FromSeconds(3)) break;
            if (service.HasExited) throw new InvalidOperationException($"the service exited: {service.Log()}");
        }
        var lost = offeredDone - (Processed(service) - processed0) - (service.Qos0Dropped - dropped0);
        var taken = (taken1 - taken0) / seconds;
        var shed = service.Qos0Dropped - dropped0;
        string? why = null;
        if (taken < 0.93 * offered) why = string.Create(CultureInfo.InvariantCulture, $"took {taken / offered:P0} of the offered rate");
        else if (shed > 0 || lost > 0) why = $"{shed:N0} shed by ingest, {Math.Max(0, lost):N0} lost before ingest (QoS 0)";
        else if (backlog > offered * 0.5 + 1000) why = string.Create(CultureInfo.InvariantCulture, $"backlog of {backlog:N0} ({backlog / (double)offered:F1} s) at the step's end");
        return new StepResult(offered, taken, backlog, latency.Count, latency.P50, latency.P99, (cpu1 - cpu0) / seconds, MachineBusy(machine0, machine1),
            drain.Elapsed.TotalSeconds, shed, Math.Max(0, lost), why is null, why,
            taken1 > taken0 ? (double)(allocated1 - allocated0) / (taken1 - taken0) : 0);
    }

    /// <summary>
    /// Messages the service has taken in and finished (stored or dead-lettered): received less what its queue still
    /// holds and less the QoS 0 messages it shed (ingest counts those as received too).
    /// </summary>
    private static long Processed(IngestProcess service) => service.Received - service.QueueDepth - service.Qos0Dropped;

    // ---------------------------------------------------------------- device to alert

    private static async Task<AlertResult> AlertProbeAsync(E2eOptions options, E2eFeed feed, ServiceUnderTest service, LoadPublisher publisher, MqttQualityOfServiceLevel qos)
    {
        var pending = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var latencies = new ConcurrentBag<double>();
        var toBook = new ConcurrentBag<double>();
        // One gate per probe, a forced door every 250 ms: the detector's cool-down would merge a second forced door of the
        // same gate into one alert. The wall screen shows one community per connection: one connection per community probed.
        var probes = (int)(options.AlertSeconds * 4);
        var gates = feed.Gates.Take(Math.Min(probes, feed.Gates.Count)).ToList();
        var hubs = new List<HubConnection>();
        try
        {
            // One sign-in for all the connections: sign-ins are rate-limited per address.
            var token = await service.SignInAsync();
            foreach (var community in gates.Select(feed.CommunityOf).Distinct())
            {
                var hub = await service.ConnectWallScreenAsync(token);
                hub.On<Alert>("alert", alert =>
                {
                    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    if (alert.Kind == AlertKinds.GateForced && alert.Device is { } device && pending.TryRemove(device, out var sentAt))
                    {
                        latencies.Add(now - sentAt);
                        if (alert.ReceivedAt is { } taken) toBook.Add(taken.ToUnixTimeMilliseconds() - sentAt);
                    }
                });
                await hub.InvokeAsync<object>("Watch", community);
                hubs.Add(hub);
            }
            return await ProbeAsync(options, feed, service, publisher, qos, pending, latencies, toBook, gates);
        }
        finally
        {
            foreach (var hub in hubs) await hub.DisposeAsync();
        }
    }

    private static async Task<AlertResult> ProbeAsync(E2eOptions options, E2eFeed feed, ServiceUnderTest service, LoadPublisher publisher, MqttQualityOfServiceLevel qos,
        ConcurrentDictionary<string, long> pending, ConcurrentBag<double> latencies, ConcurrentBag<double> toBook, List<int> gates)
    {
        using var probe = await LoadPublisher.ConnectAsync(service.MqttPort, $"e2e-probe-{Guid.NewGuid():N}");
        var duration = TimeSpan.FromSeconds(options.AlertSeconds);
        var background = publisher.RunAsync(options.AlertRate, duration + TimeSpan.FromSeconds(2), qos);
        var processed0 = Processed(service.Process);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(2));
        var sent = 0;
        foreach (var gate in gates)
        {
            if (clock.Elapsed > duration + TimeSpan.FromSeconds(2)) break;
            var now = DateTimeOffset.UtcNow;
            var (topic, payload) = feed.Forced(gate, now);
            pending[feed.DeviceId(gate)] = now.ToUnixTimeMilliseconds();
            await probe.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            sent++;
            await Task.Delay(250);
        }
        var backgroundRate = (Processed(service.Process) - processed0) / clock.Elapsed.TotalSeconds;
        await background;
        var wait = Stopwatch.StartNew();
        while (!pending.IsEmpty && wait.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(100);
        var sorted = latencies.Order().ToArray();
        var book = toBook.Order().ToArray();
        var result = new AlertResult(options.AlertRate, backgroundRate, sent, sorted.Length,
            sorted.Length == 0 ? null : Percentile(sorted, 0.5), sorted.Length == 0 ? null : Percentile(sorted, 0.99), sorted.Length == 0 ? null : sorted[^1])
        {
            ToBookP50Ms = book.Length == 0 ? null : Percentile(book, 0.5),
            ToBookP99Ms = book.Length == 0 ? null : Percentile(book, 0.99),
        };
        Log(string.Create(CultureInfo.InvariantCulture,
            $"  device to alert at {options.AlertRate:N0} msg/s offered ({backgroundRate:N0} taken): {result.Received} of {sent} gate_forced alerts on the wall screen, p50 {result.P50Ms:F0} ms, p99 {result.P99Ms:F0} ms, max {result.MaxMs:F0} ms; device to the alert book p50 {result.ToBookP50Ms:F0} ms, p99 {result.ToBookP99Ms:F0} ms"));
        return result;
    }

    internal static double Percentile(double[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    // ---------------------------------------------------------------- against Node-RED

    private static async Task PeerAsync(E2eOptions options, E2eFeed feed, string registry, string folder, E2eRun run)
    {
        var influx = new InfluxServer { DataSettings = ["max-values-per-tag = 0", "max-series-per-database = 0"] };
        await influx.InitializeAsync();
        try
        {
            await PeerWithInfluxAsync(options, feed, registry, folder, run, influx);
        }
        finally
        {
            await influx.DisposeAsync();
        }
    }

    private static async Task PeerWithInfluxAsync(E2eOptions options, E2eFeed feed, string registry, string folder, E2eRun run, InfluxServer influx)
    {
        using var http = new HttpClient { BaseAddress = influx.Url, Timeout = TimeSpan.FromSeconds(120) };
        if (options.InfluxPipeline)
        {
            run.Pipelines.Add(await PipelineAsync(options, feed, registry, folder, "mosquitto", 1, "influxdb", influx.Url, false, run));
        }
        if (!options.Peer) return;

        var peerDirectory = await NodeRedPeer.SetUpAsync();
        // Node-RED first, then Sensing, each with its own database and its own fresh mosquitto.
        {
            await using var mosquitto = await MosquittoServer.StartAsync();
            await using var nodeRed = await NodeRedPeer.StartAsync(peerDirectory, mosquitto.Port, influx.Url, "nodered");
            Log($"peer: Node-RED {nodeRed.Version} flow up, subscribed to mosquitto {mosquitto.Port}");
            run.NodeRed = await FeedIntoInfluxAsync(options, feed, http, mosquitto.Port, "nodered", () => nodeRed.CpuSeconds(), () => nodeRed.PeakRssBytes(), "Node-RED");
            if (run.NodeRed.Stored < run.NodeRed.Published / 2) Log("peer: Node-RED stored less than half the feed; its log:\n" + nodeRed.Log());
        }
        // Through its own fresh mosquitto like Node-RED: PUBACK only once InfluxDB has the readings.
        if (options.PeerBrokers.Contains("mosquitto")) run.SensingInflux = await SensingPeerAsync("mosquitto", "sensing", "Sensing through mosquitto");
        // As the one-machine setup runs: the publishers connect to the service's embedded broker, no mosquitto (a PUBACK
        // once the message is in ingest's queue; the Mqtt folder's README). The service's CPU is then the broker's too.
        if (options.PeerBrokers.Contains("embedded")) run.SensingEmbeddedInflux = await SensingPeerAsync("embedded", "sensing_embedded", "Sensing with its embedded broker");

        async Task<PeerResult> SensingPeerAsync(string broker, string database, string who)
        {
            PeerResult result;
            await using (var service = await ServiceUnderTest.StartAsync(options, broker, registry, folder, "influxdb", influx.Url, database))
            {
                result = await FeedIntoInfluxAsync(options, feed, http, service.MqttPort, database, () => service.Process.CpuSeconds(), () => service.Process.PeakRssBytes(), who);
            }
            Log(string.Create(CultureInfo.InvariantCulture,
                $"peer: {who} {result.MessagesPerSecond:N0} msg/s vs Node-RED (through mosquitto) {run.NodeRed!.MessagesPerSecond:N0} msg/s into InfluxDB = {result.MessagesPerSecond / run.NodeRed.MessagesPerSecond:F2}×"));
            return result;
        }
    }

    /// <summary>
    /// Publishes <c>--peer-warmup</c> messages and waits until InfluxDB has written them, then publishes <c>--peer-messages</c>
    /// as fast as the publishers go (QoS 1, the same publishers, so the feed goes on where the warm-up left it) and watches
    /// InfluxDB's own write counter (<c>/debug/vars</c>, <c>write.pointReq</c>) until it stops moving; the rate is the messages
    /// InfluxDB holds at the end beyond those it held after the warm-up (counted with InfluxQL, meter consumptions that
    /// Sensing derives left out) over the time from the first measured publish to the last point written.
    /// </summary>
    private static async Task<PeerResult> FeedIntoInfluxAsync(E2eOptions options, E2eFeed feed, HttpClient influx, int mqttPort, string database,
        Func<double> cpu, Func<long> peakRss, string who)
    {
        await using var publisher = await LoadPublisher.ConnectAsync(feed, mqttPort, options.Connections, $"e2e-peer-{Guid.NewGuid():N}");
        long warmedUp = 0;
        if (options.PeerWarmup > 0)
        {
            await publisher.RunAsync(rate: 0, TimeSpan.FromMinutes(5), MqttQualityOfServiceLevel.AtLeastOnce, options.PeerWarmup);
            warmedUp = await UntilWarmedUpAsync(influx, database, options.PeerWarmup);
            Log(string.Create(CultureInfo.InvariantCulture, $"peer {who}: warmed up with {warmedUp:N0} of {options.PeerWarmup:N0} messages (not counted)"));
        }
        var points0 = await PointsWrittenAsync(influx);
        var cpu0 = cpu();
        var clock = Stopwatch.StartNew();
        var publish = publisher.RunAsync(rate: 0, TimeSpan.FromMinutes(10), MqttQualityOfServiceLevel.AtLeastOnce, options.PeerMessages);
        var published = publish.ContinueWith(_ => clock.Elapsed, TaskScheduler.Default);
        // Done when the publisher is done and InfluxDB has seen no new point for 5 s.
        var (lastMove, lastPoints) = await UntilInfluxIsStillAsync(influx, publish, clock, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10));
        await publish;
        var cpuSeconds = cpu() - cpu0;
        var stored = await MessagesInInfluxAsync(influx, database) - warmedUp;
        var seconds = Math.Max(lastMove.TotalSeconds, 0.001);
        var result = new PeerResult(who, options.PeerMessages, stored, lastMove.TotalSeconds, stored / seconds,
            options.PeerMessages / (await published).TotalSeconds, lastPoints - points0, cpuSeconds / seconds, peakRss());
        Log(string.Create(CultureInfo.InvariantCulture,
            $"peer {who}: {stored:N0} of {options.PeerMessages:N0} messages in InfluxDB ({result.PointsWritten:N0} points) after {result.Seconds:F1} s = {result.MessagesPerSecond:N0} msg/s (published at {result.PublishedPerSecond:N0} msg/s); {result.Cores:F2} cores, peak RSS {result.PeakRssBytes / 1e6:F0} MB"));
        return result;
    }

    /// <summary>
    /// Waits until <paramref name="publish"/> is done and InfluxDB's write counter has not moved for <paramref name="still"/>
    /// (or <paramref name="limit"/> has passed on <paramref name="clock"/>); returns when on that clock the counter last
    /// moved, and its value then.
    /// </summary>
    private static async Task<(TimeSpan LastMove, long Points)> UntilInfluxIsStillAsync(HttpClient influx, Task publish, Stopwatch clock, TimeSpan still, TimeSpan limit)
    {
        var last = await PointsWrittenAsync(influx);
        var lastMove = clock.Elapsed;
        while ((!publish.IsCompleted || clock.Elapsed - lastMove <= still) && clock.Elapsed <= limit)
        {
            await Task.Delay(250);
            var points = await PointsWrittenAsync(influx);
            if (points != last) { last = points; lastMove = clock.Elapsed; }
        }
        return (lastMove, last);
    }

    /// <summary>
    /// Waits until <paramref name="database"/> holds the warm-up's messages, or their count has not moved for 10 s (a peer
    /// that lost some); returns the count. InfluxDB's points standing still for 3 s, the wait before, was not enough: in
    /// one run Node-RED had written none of its warm-up by then, so the warm-up was counted in the measured feed (400,000
    /// of 300,000 messages).
    /// </summary>
    private static async Task<long> UntilWarmedUpAsync(HttpClient influx, string database, long expected)
    {
        var clock = Stopwatch.StartNew();
        long last = -1;
        var lastMove = TimeSpan.Zero;
        while (true)
        {
            var held = await MessagesInInfluxAsync(influx, database);
            if (held >= expected || clock.Elapsed > TimeSpan.FromMinutes(3)) return held;
            if (held != last) (last, lastMove) = (held, clock.Elapsed);
            else if (clock.Elapsed - lastMove > TimeSpan.FromSeconds(10)) return held;
            await Task.Delay(500);
        }
    }

    private static async Task<long> PointsWrittenAsync(HttpClient influx)
    {
        using var vars = JsonDocument.Parse(await influx.GetStringAsync("debug/vars"));
        return vars.RootElement.TryGetProperty("write", out var write) ? write.GetProperty("values").GetProperty("pointReq").GetInt64() : 0;
    }

    private static async Task<long> MessagesInInfluxAsync(HttpClient influx, string database)
    {
        // One point per message, except that Sensing also stores each meter's derived consumption and each lot's capacity
        // beside its free spaces: leave those out.
        const string query = """SELECT count("value") FROM "meter","gate","parking","camera" WHERE "metric" !~ /(consumption|capacity)$/""";
        using var response = await influx.GetAsync($"query?db={Uri.EscapeDataString(database)}&q={Uri.EscapeDataString(query)}");
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        long total = 0;
        foreach (var result in json.RootElement.GetProperty("results").EnumerateArray())
        {
            if (!result.TryGetProperty("series", out var series)) continue;
            foreach (var s in series.EnumerateArray())
            {
                foreach (var row in s.GetProperty("values").EnumerateArray()) total += row[1].GetInt64();
            }
        }
        return total;
    }

    // ---------------------------------------------------------------- helpers

    private static double MachineBusy((double Busy, double Total) before, (double Busy, double Total) after) =>
        after.Total > before.Total ? (after.Busy - before.Busy) / (after.Total - before.Total) : 0;

    private static string Machine()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? "Linux"
            : "Linux";
        var memory = File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessorCount} vCPU {cpu}, {long.Parse(memory, CultureInfo.InvariantCulture) / 1024 / 1024} GiB, {os}, .NET {Environment.Version}");
    }

    /// <summary>A broker for the ceiling: Debian's mosquitto, or the embedded MQTTnet broker alone in a child process.</summary>
    private sealed class BrokerUnderTest : IAsyncDisposable
    {
        private MosquittoServer? _mosquitto;
        private Process? _child;

        public int Port { get; private set; }

        public static async Task<BrokerUnderTest> StartAsync(string kind)
        {
            var broker = new BrokerUnderTest();
            if (kind == "mosquitto")
            {
                broker._mosquitto = await MosquittoServer.StartAsync();
                broker.Port = broker._mosquitto.Port;
                return broker;
            }
            broker.Port = SensingTestHost.FreePort();
            broker._child = SelfProcess.Start("broker-host", ["--port", broker.Port.ToString(CultureInfo.InvariantCulture)]);
            var ready = await broker._child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            if (ready != "ready") throw new InvalidOperationException($"the embedded broker did not start: {ready} {await broker._child.StandardError.ReadToEndAsync()}");
            return broker;
        }

        /// <summary>The broker process's CPU seconds so far.</summary>
        public double CpuSeconds() => _child is { } child ? ProcessCpu.Seconds(child.Id) : _mosquitto?.ProcessId is { } pid ? ProcessCpu.Seconds(pid) : 0;

        public async ValueTask DisposeAsync()
        {
            if (_mosquitto is not null) await _mosquitto.DisposeAsync();
            if (_child is { } child)
            {
                child.StandardInput.Close();
                try { await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
                catch (TimeoutException) { child.Kill(entireProcessTree: true); }
                child.Dispose();
            }
        }
    }

    /// <summary>
    /// The service in a child process (<c>service-host</c>), with its broker: a fresh mosquitto of its own (a stopped
    /// persistent session would otherwise keep collecting the next configuration's messages), or its embedded broker.
    /// </summary>
    internal sealed class ServiceUnderTest : IAsyncDisposable
    {
        private MosquittoServer? _mosquitto;
        private string _data = "";

        public IngestProcess Process { get; private set; } = null!;
        public int MqttPort { get; private set; }
        public int HttpPort { get; private set; }
        public double StartSeconds { get; private set; }

        public static async Task<ServiceUnderTest> StartAsync(E2eOptions options, string broker, string registry, string folder, string store, Uri? influx, string database)
        {
            var service = new ServiceUnderTest();
            var clock = Stopwatch.StartNew();
            if (broker == "mosquitto")
            {
                service._mosquitto = await MosquittoServer.StartAsync();
                service.MqttPort = service._mosquitto.Port;
            }
            else
            {
                service.MqttPort = SensingTestHost.FreePort();
            }
            service.HttpPort = SensingTestHost.FreePort();
            service._data = Path.Combine(folder, $"service-{Guid.NewGuid():N}"[..20]);
            Directory.CreateDirectory(service._data);
            // The service keeps its registry file up to date: each run gets its own copy.
            var registryCopy = Path.Combine(service._data, "registry.json");
            File.Copy(registry, registryCopy);
            var args = new List<string>
            {
                $"--urls=http://127.0.0.1:{service.HttpPort}",
                "--Demo:Enabled=false",
                "--Broker:AllowAnonymous=true", // the load publishers are anonymous, as a rig's simulators are
                $"--Mqtt:Embedded={(broker == "mosquitto" ? "false" : "true")}",
                "--Mqtt:Host=127.0.0.1",
                $"--Mqtt:Port={service.MqttPort}",
                $"--Mqtt:ClientId=e2e-service-{Guid.NewGuid():N}",
                $"--Store:Path={Path.Combine(service._data, "sensing.duckdb")}",
                $"--Registry:Path={registryCopy}",
                $"--Analytics:ModelDirectory={Path.Combine(service._data, "models")}",
                $"--Auth:SigningKey={SigningKey}",
                "--Auth:Users:0:Username=operator",
                $"--Auth:Users:0:PasswordHash={PasswordHash.Create(Password)}",
                $"--Auth:Users:0:Role={Roles.Operator}",
                "--Auth:SignInPermitsPerMinute=1000",
            };
            if (store == "influxdb")
            {
                args.Add("--Store:Kind=influxdb");
                args.Add($"--Store:Url={influx}");
                args.Add($"--Store:Database={database}");
            }
            args.AddRange(options.ServiceSettings);
            service.Process = IngestProcess.Start("service-host", [.. args]);
            await service.Process.WaitUntilConnectedAsync(TimeSpan.FromSeconds(180));
            service.StartSeconds = clock.Elapsed.TotalSeconds;
            return service;
        }

        /// <summary>Signs in as the operator; returns the bearer token.</summary>
        public async Task<string> SignInAsync()
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
            var response = await http.PostAsJsonAsync("/api/auth/token", new { username = "operator", password = Password });
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.GetProperty("access_token").GetString()!;
        }

        /// <summary>An operator's SignalR connection to the wall screen's hub, as the cockpit page holds it.</summary>
        public async Task<HubConnection> ConnectWallScreenAsync(string token)
        {
            var hub = new HubConnectionBuilder()
                .WithUrl(new Uri($"http://127.0.0.1:{HttpPort}/hubs/cockpit"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
                .AddJsonProtocol(o => CockpitHost.ConfigureJson(o.PayloadSerializerOptions))
                .Build();
            await hub.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return hub;
        }

        public async ValueTask DisposeAsync()
        {
            await Process.StopAsync();
            Process.Dispose();
            if (_mosquitto is not null) await _mosquitto.DisposeAsync();
            try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>Starts this program again with another command (the way <see cref="BrokerLoadCommand"/> starts ingest).</summary>
internal static class SelfProcess
{
    public static Process Start(string command, IEnumerable<string> arguments, bool redirect = true)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = redirect, RedirectStandardError = redirect, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        start.ArgumentList.Add(command);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return Process.Start(start) ?? throw new InvalidOperationException($"could not start {command}");
    }
}

/// <summary>Command-line options of <see cref="E2eCommand"/>; <c>--quick</c> shortens every phase (a few minutes in all).</summary>
public sealed record E2eOptions
{
    public bool Quick { get; init; }
    public int Runs { get; init; } = 1;
    public string Out { get; init; } = Path.Combine("BenchmarkDotNet.Artifacts", "e2e");
    public int Communities { get; init; } = 40;
    public int[] Steps { get; init; } = [1_000, 2_500, 5_000, 7_500, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000];
    public int StepSeconds { get; init; } = 8;
    public int CeilingSeconds { get; init; } = 8;
    public string[] Brokers { get; init; } = ["mosquitto", "embedded"];
    /// <summary>
    /// How Sensing gets the peer comparison's feed (<c>--peer-brokers</c>): through a mosquitto of its own as Node-RED
    /// does, and with its embedded broker as the one-machine setup runs (no mosquitto at all).
    /// </summary>
    public string[] PeerBrokers { get; init; } = ["mosquitto", "embedded"];
    public int[] Qos { get; init; } = [0, 1];
    public bool Peer { get; init; } = true;
    public bool InfluxPipeline { get; init; }
    public int AlertRate { get; init; } = 20_000;
    public int AlertSeconds { get; init; } = 12;
    public long PeerMessages { get; init; } = 300_000;
    /// <summary>
    /// Messages fed to each peer first and not counted (<c>--peer-warmup</c>): both start cold, and in a 20-second run
    /// the .NET JIT was a quarter of the service's CPU (V8's compiler is in Node-RED's the same way), which is start-up,
    /// not the sustained rate the comparison is about.
    /// </summary>
    public long PeerWarmup { get; init; } = 100_000;
    public int Connections { get; init; } = 4;
    /// <summary>Step beyond the broker's measured ceiling too (<c>--uncapped</c>; e.g. to hold a rate while profiling).</summary>
    public bool Uncapped { get; init; }
    /// <summary>Extra steps bisecting between the last sustained rung and the first failed one (<c>--bisect N</c>; 0: the ladder alone).</summary>
    public int Bisect { get; init; } = 3;
    /// <summary>Further <c>--Section:Key=value</c> arguments, passed to the service.</summary>
    public string[] ServiceSettings { get; init; } = [];

    public static E2eOptions Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var o = quick
            ? new E2eOptions { Quick = true, Steps = [1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 40_000], StepSeconds = 4, CeilingSeconds = 4, AlertSeconds = 6, PeerMessages = 60_000, PeerWarmup = 20_000, Bisect = 2 }
            : new E2eOptions();
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return o with
        {
            Runs = Int("--runs", o.Runs),
            Out = Value("--out") ?? o.Out,
            Communities = Int("--communities", o.Communities),
            Steps = Value("--steps") is { } steps ? [.. steps.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] : o.Steps,
            StepSeconds = Math.Max(2, Int("--step-seconds", o.StepSeconds)),
            CeilingSeconds = Math.Max(1, Int("--ceiling-seconds", o.CeilingSeconds)),
            Brokers = Value("--brokers") is { } brokers ? [.. brokers.Split(',').Where(b => b is "mosquitto" or "embedded")] : o.Brokers,
            Qos = Value("--qos") is { } qos ? [.. qos.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] : o.Qos,
            Peer = !args.Contains("--no-peer"),
            PeerBrokers = Value("--peer-brokers") is { } peerBrokers ? [.. peerBrokers.Split(',').Where(b => b is "mosquitto" or "embedded")] : o.PeerBrokers,
            InfluxPipeline = args.Contains("--influx-pipeline"),
            Uncapped = args.Contains("--uncapped"),
            Bisect = Math.Max(0, Int("--bisect", o.Bisect)),
            AlertRate = Int("--alert-rate", o.AlertRate),
            AlertSeconds = Int("--alert-seconds", o.AlertSeconds),
            PeerMessages = Int("--peer-messages", (int)o.PeerMessages),
            PeerWarmup = Math.Max(0, Int("--peer-warmup", (int)o.PeerWarmup)),
            Connections = Int("--connections", o.Connections),
            ServiceSettings = [.. args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains(':', StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal))],
        };
    }
}
