using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Spool;
using Sensing.Storage;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Faults;

/// <summary>
/// Issue 9, a full disk under the spool: a real InfluxDB frozen (SIGSTOP) so every batch must go to the spool, and the
/// spool on a 2 MB tmpfs that fills. Ingest must say so once, show it (/healthz reads <see cref="StoreWriter.SpoolProblem"/>,
/// /metrics <c>sensing_spool_blocked</c>), stop acknowledging rather than acknowledge what it cannot keep, leave a spool
/// that reads back whole, carry on by itself when the disk has room again, and in the end have stored every message
/// the device published, once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SpoolDiskFullTests(ITestOutputHelper output) : IDisposable
{
    private const int Devices = 10;
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-fault-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [SmallDiskFact]
    public async Task A_full_spool_disk_stops_acknowledgements_loses_nothing_and_recovers_by_itself()
    {
        var influx = new InfluxServer();
        await influx.InitializeAsync().Within();
        using var disk = SmallDisk.Mount(2 * 1024 * 1024);
        var log = new LogBook();
        var port = LoopbackPorts.Free();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Mqtt:Host"] = "127.0.0.1",
            ["Mqtt:ClientId"] = "ingest-diskfull-" + Guid.NewGuid().ToString("N"),
            ["Store:Kind"] = "influxdb",
            ["Store:Url"] = influx.Url.ToString(),
            ["Store:Database"] = "sensing_diskfull",
            ["Registry:Path"] = Path.Combine(_folder, "registry.json"),
            ["Spool:Directory"] = disk.Path,
            ["Spool:SegmentBytes"] = (256 * 1024).ToString(CultureInfo.InvariantCulture),
            ["Spool:StoreTimeoutMilliseconds"] = "300",
            ["Ingest:BatchSize"] = "100",
            ["Ingest:BatchDelayMilliseconds"] = "10",
        });
        builder.Services.AddLogging(l => l.AddProvider(log));
        builder.Services.AddSensingStore(builder.Configuration);
        builder.Services.AddSensingIngest(builder.Configuration);
        using var host = builder.Build();
        var metrics = host.Services.GetRequiredService<IngestMetrics>();
        var writer = host.Services.GetRequiredService<StoreWriter>();
        var store = host.Services.GetRequiredService<IReadingStore>();

        await host.StartAsync().Within();
        var sent = 0;
        var paused = false;
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(metrics.BrokerConnected && metrics.PipelineReady), "ingest to connect");
            influx.Pause();
            paused = true;

            using var device = new MqttClientFactory().CreateMqttClient();
            await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("diskfull-gates")
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build()).Within();
            // A 400-byte attribute per reading, so 2 MB fill with a few thousand messages.
            var note = new string('x', 400);
            using var stopPublishing = new CancellationTokenSource();
            var publisher = Task.Run(async () =>
            {
                while (!stopPublishing.IsCancellationRequested)
                {
                    var n = sent;
                    var topic = $"sensing/c9/gate/c9-gate-{n % Devices}";
                    var payload = $$"""{"ts":{{T0.AddSeconds(n).ToUnixTimeMilliseconds()}},"event":"pass","direction":"in","note":"{{note}}"}""";
                    var result = await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                    Assert.True(result.IsSuccess, result.ReasonString);
                    sent++;
                }
            });

            await TestTimeouts.Until(() => Task.FromResult(writer.SpoolProblem is not null || publisher.IsFaulted), "the spool's disk to fill", TimeSpan.FromSeconds(90));
            var problem = writer.SpoolProblem;
            output.WriteLine($"injected: 2 MB tmpfs spool + InfluxDB SIGSTOP; full after {Volatile.Read(ref sent)} sent, {metrics.MessagesAcknowledged} acknowledged, spool {writer.SpoolDepth} batches / {writer.SpoolBytes} bytes, disk free {disk.FreeBytes} bytes");
            output.WriteLine($"healthz spool_problem: {problem}");
            Assert.Contains("No space left on device", problem);

            // Backpressure: while the disk is full, nothing more is acknowledged, though the device keeps publishing.
            var ackedAtFull = metrics.MessagesAcknowledged;
            var sentAtFull = Volatile.Read(ref sent);
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(ackedAtFull, metrics.MessagesAcknowledged);
            Assert.True(Volatile.Read(ref sent) > sentAtFull + 100, "the device kept publishing to the broker");
            var samples = Samples(writer);
            Assert.Equal(1, samples["sensing_spool_blocked"]);
            Assert.True(samples["sensing_spool_append_failures_total"] >= 2, "the disk was retried");
            // Reported once per spell, though every retry fails.
            foreach (var line in log.Lines.Where(l => l.Level >= LogLevel.Warning)) output.WriteLine($"log {line.Level}: {line.Message}");
            Assert.Equal(1, log.Count(LogLevel.Error, "could not append"));
            Assert.Equal(1, log.Count(LogLevel.Error, "Intake waits:"));

            // No corruption: a copy of the spool as it is now reads back every batch it acknowledged, whole.
            var depth = writer.SpoolDepth;
            var copy = Path.Combine(_folder, "spool-copy");
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(disk.Path)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            var readBack = 0;
            using (var reopened = ReadingSpool.Open(new SpoolOptions { Directory = copy, SegmentBytes = 256 * 1024 }, NullLogger.Instance))
            {
                Assert.True(reopened.Depth >= depth, $"the copy holds {reopened.Depth} batches, the spool {depth}");
                while (reopened.TryPeek(out var entry, out var batch))
                {
                    Assert.All(batch!.Readings, r => Assert.Equal(Metrics.GatePass, r.Metric));
                    readBack++;
                    reopened.Commit(entry);
                }
            }
            output.WriteLine($"spool copy read back whole: {readBack} batches");

            // Space returns (an operator cleans up): ingest carries on by itself, the store still frozen.
            disk.Resize(64 * 1024 * 1024);
            await TestTimeouts.Until(() => Task.FromResult(writer.SpoolProblem is null && metrics.MessagesAcknowledged > ackedAtFull), "acknowledgements to resume once the disk has room");
            output.WriteLine($"space returned: acknowledgements resumed ({metrics.MessagesAcknowledged} acknowledged, {Volatile.Read(ref sent)} sent), spool {writer.SpoolDepth} batches");
            Assert.Equal(1, log.Count(LogLevel.Warning, "takes writes again"));

            stopPublishing.Cancel();
            await publisher.Within();
            influx.Resume();
            paused = false;
            await TestTimeouts.Until(() => Task.FromResult(metrics.MessagesAcknowledged == sent && writer.SpoolDepth == 0 && writer.State == StoreState.Ok),
                "everything to be acknowledged and the spool to drain into the store", TimeSpan.FromSeconds(90));

            var times = new List<DateTimeOffset>();
            for (var d = 0; d < Devices; d++)
            {
                var points = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, T0.AddDays(-1), T0.AddDays(30), Device: $"c9-gate-{d}", Limit: 100_000), CancellationToken.None).Within();
                times.AddRange(points.Select(p => p.Time));
            }
            var distinct = times.Distinct().Count();
            var lost = Enumerable.Range(0, sent).Count(n => !times.Contains(T0.AddSeconds(n)));
            output.WriteLine($"sent {sent}, acknowledged {metrics.MessagesAcknowledged}, received {metrics.MessagesReceived}, stored {distinct}, lost {lost}, duplicated {times.Count - distinct}, dead-lettered {metrics.DeadLetters}, append failures {Samples(writer)["sensing_spool_append_failures_total"]}");
            Assert.Equal(0, lost);
            Assert.Equal(sent, times.Count);
            Assert.Equal(0, metrics.DeadLetters);
            await device.DisconnectAsync().Within();
        }
        finally
        {
            if (paused) influx.Resume();
            await host.StopAsync().Within();
            await influx.DisposeAsync();
        }
    }

    private static Dictionary<string, double> Samples(IMetricsSource source)
    {
        var samples = new List<MetricSample>();
        source.Collect(samples);
        return samples.Where(s => s.Labels is null).ToDictionary(s => s.Name, s => s.Value);
    }
}
