using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;
using Sensing.Storage;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Faults;

/// <summary>
/// Issue 9, devices that misbehave, against broker, intake, pipeline and DuckDB composed as the host composes them, fed by
/// real MQTT clients on loopback: a clock hours ahead and one hours behind (dead-lettered with the skew in the reason,
/// the device's later good readings kept), a replayed old message (stored once, its consumption not counted twice),
/// and a device flooding thousands of messages while another reports at its normal pace (the flood is refused at the
/// broker beyond the device's rate, counted; the other device's readings all arrive, promptly).
/// </summary>
[Trait("Category", "Integration")]
public sealed class DeviceMisbehaviourTests(ITestOutputHelper output) : IDisposable
{
    private const string FloodPassword = "flood-secret";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-fault-tests", Guid.NewGuid().ToString("N"));
    private readonly int _port = LoopbackPorts.Free();

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private IHost Build(StoredClock stored)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:Port"] = _port.ToString(CultureInfo.InvariantCulture),
            ["Mqtt:Host"] = "127.0.0.1",
            ["Mqtt:ClientId"] = "ingest-misbehaviour-" + Guid.NewGuid().ToString("N"),
            ["Store:Path"] = Path.Combine(_folder, "sensing.duckdb"),
            ["Registry:Path"] = Path.Combine(_folder, "registry.json"),
            ["Ingest:BatchDelayMilliseconds"] = "10",
            ["Ingest:MaxClockAheadSeconds"] = "600",
            ["Ingest:MaxClockBehindSeconds"] = "7200",
            // The devices without credentials publish anonymously beside the credentialled flooder.
            ["Broker:AllowAnonymous"] = "true",
        });
        builder.Services.AddLogging();
        builder.Services.AddSensingStore(builder.Configuration);
        builder.Services.AddSingleton<IStoredReadingsListener>(stored);
        builder.Services.AddSensingIngest(builder.Configuration);
        return builder.Build();
    }

    private async Task<IMqttClient> ConnectAsync(string clientId, string? username = null, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithClientId(clientId).WithProtocolVersion(MqttProtocolVersion.V500);
        if (username is not null) options.WithCredentials(username, password);
        var result = await client.ConnectAsync(options.Build()).Within();
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, string payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private static string Epoch(DateTimeOffset time) => time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Wrong_clocks_replays_and_a_flood_do_not_harm_other_devices()
    {
        var stored = new StoredClock();
        using var host = Build(stored);
        var metrics = host.Services.GetRequiredService<IngestMetrics>();
        var store = host.Services.GetRequiredService<IReadingStore>();
        var access = host.Services.GetRequiredService<BrokerAccess>();
        await host.StartAsync().Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(metrics.BrokerConnected && metrics.PipelineReady), "ingest to connect");
            var registry = host.Services.GetRequiredService<DeviceRegistry>();
            registry.Upsert(new Device("c1-gate-flood", DeviceKind.Gate, "c1", "g1"));
            registry.SetCredential(new DeviceCredential("c1-gate-flood", PasswordHash.Create(FloodPassword)));
            // Whole milliseconds, as the payloads carry them.
            var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

            // 1. Wrong clocks: three hours ahead, five hours behind; the same devices' next good readings are kept.
            using var devices = await ConnectAsync("misbehaving-devices");
            Assert.True((await PublishAsync(devices, "sensing/c1/gate/c1-gate-ahead", $$"""{"ts":{{Epoch(now.AddHours(3))}},"event":"pass","direction":"in"}""").Within()).IsSuccess);
            Assert.True((await PublishAsync(devices, "sensing/c1/gate/c1-gate-behind", $$"""{"ts":{{Epoch(now.AddHours(-5))}},"event":"pass","direction":"in"}""").Within()).IsSuccess);
            Assert.True((await PublishAsync(devices, "sensing/c1/gate/c1-gate-ahead", $$"""{"ts":{{Epoch(now)}},"event":"pass","direction":"in"}""").Within()).IsSuccess);
            Assert.True((await PublishAsync(devices, "sensing/c1/gate/c1-gate-behind", $$"""{"ts":{{Epoch(now)}},"event":"pass","direction":"in"}""").Within()).IsSuccess);

            // 2. A replayed old message: the same register payload again, later, twice.
            var first = $$"""{"ts":{{Epoch(now.AddMinutes(-30))}},"type":"water","total":100.0,"household":"h-0901"}""";
            var second = $$"""{"ts":{{Epoch(now.AddMinutes(-15))}},"type":"water","total":100.5,"household":"h-0901"}""";
            foreach (var payload in new[] { first, second, first, second, first })
            {
                Assert.True((await PublishAsync(devices, "sensing/c1/meter/c1-wm-0901", payload).Within()).IsSuccess);
            }

            // 3. A flood: one credentialled gate publishes 3,000 messages as fast as 50 concurrent publishes go, while
            // a camera reports every 50 ms.
            using var flooder = await ConnectAsync("c1-gate-flood", "c1-gate-flood", FloodPassword);
            using var camera = await ConnectAsync("c1-cam-0901");
            var cameraSent = new ConcurrentDictionary<DateTimeOffset, long>();
            var cameraStart = now.AddSeconds(-120);
            var normal = Task.Run(async () =>
            {
                for (var i = 0; i < 60; i++)
                {
                    var ts = cameraStart.AddSeconds(i);
                    cameraSent[ts] = Stopwatch.GetTimestamp();
                    var result = await PublishAsync(camera, "sensing/c1/camera/c1-cam-0901", $$"""{"ts":{{Epoch(ts)}},"event":"person","count":1}""");
                    Assert.True(result.IsSuccess, result.ReasonString);
                    await Task.Delay(50);
                }
            });
            const int FloodMessages = 3000;
            var accepted = 0;
            var refused = 0;
            string? refusal = null;
            var floodWatch = Stopwatch.StartNew();
            var floodStart = now.AddHours(-1);
            for (var chunk = 0; chunk < FloodMessages; chunk += 50)
            {
                var results = await Task.WhenAll(Enumerable.Range(chunk, 50).Select(i =>
                    PublishAsync(flooder, "sensing/c1/gate/c1-gate-flood", $$"""{"ts":{{Epoch(floodStart.AddMilliseconds(i))}},"event":"pass","direction":"in"}"""))).Within();
                foreach (var result in results)
                {
                    if (result.IsSuccess) accepted++;
                    else
                    {
                        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, result.ReasonCode);
                        refusal ??= result.ReasonString;
                        refused++;
                    }
                }
            }
            floodWatch.Stop();
            await normal.Within();

            var window = (From: now.AddHours(-6), To: now.AddHours(6));
            IReadOnlyList<Bucket> floodStored = [];
            await TestTimeouts.Until(async () =>
            {
                floodStored = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, window.From, window.To, Device: "c1-gate-flood"), CancellationToken.None);
                return stored.Count("c1-cam-0901") >= 60 && floodStored.Count >= accepted && metrics.QueueDepth == 0;
            }, "the camera's and the accepted flood's readings to be stored");

            // Wrong clocks: dead-lettered with the skew in the reason; the good readings stored.
            var letters = await store.DeadLettersAsync(null, 100, CancellationToken.None).Within();
            var ahead = Assert.Single(letters, l => l.Topic == "sensing/c1/gate/c1-gate-ahead");
            var behind = Assert.Single(letters, l => l.Topic == "sensing/c1/gate/c1-gate-behind");
            output.WriteLine($"wrong clock +3 h: {ahead.Reason}");
            output.WriteLine($"wrong clock -5 h: {behind.Reason}");
            Assert.StartsWith("clock skew: reading time", ahead.Reason);
            Assert.Contains("3.0 hours ahead", ahead.Reason);
            Assert.Contains("5.0 hours behind", behind.Reason);
            Assert.Equal(1, metrics.ClockSkewedMessages(ahead: true));
            Assert.Equal(1, metrics.ClockSkewedMessages(ahead: false));
            foreach (var gate in new[] { "c1-gate-ahead", "c1-gate-behind" })
            {
                var points = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, window.From, window.To, Device: gate), CancellationToken.None).Within();
                Assert.Equal(now.ToUnixTimeMilliseconds(), Assert.Single(points).Time.ToUnixTimeMilliseconds());
            }

            // Replays: two registers and one consumption of 0.5, though five messages came.
            var registers = await store.QueryAsync(new ReadingQuery(Metrics.WaterTotal, window.From, window.To, Device: "c1-wm-0901"), CancellationToken.None).Within();
            var used = await store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, window.From, window.To, Device: "c1-wm-0901"), CancellationToken.None).Within();
            output.WriteLine($"replay: 5 register messages sent (2 distinct), {registers.Count} registers stored, consumption {string.Join(", ", used.Select(u => u.Value))}");
            Assert.Equal(2, registers.Count);
            Assert.Equal(0.5, Assert.Single(used).Value, 9);

            // The flood: refused at the broker beyond the device's rate, counted; what was accepted is stored, once.
            var latencies = stored.Latencies("c1-cam-0901", cameraSent).Order().ToList();
            output.WriteLine($"flood: {FloodMessages} sent in {floodWatch.Elapsed.TotalSeconds:F1} s ({FloodMessages / floodWatch.Elapsed.TotalSeconds:F0}/s), {accepted} accepted, {refused} refused (quota exceeded: {refusal}), {floodStored.Count} stored, 0 lost of the accepted, refusals counted {access.Refusals("rate")}");
            output.WriteLine($"other device during the flood: 60 sent, {latencies.Count} stored, publish-to-store latency p50 {latencies[latencies.Count / 2]:F0} ms, max {latencies[^1]:F0} ms");
            Assert.Equal(accepted, floodStored.Count);
            Assert.Equal(refused, access.Refusals("rate"));
            Assert.True(refused > FloodMessages / 2, $"only {refused} of {FloodMessages} refused");
            // The burst plus the rate over the flood's duration, with a second of slack for a slow machine.
            Assert.InRange(accepted, 200, 200 + (int)(20 * (floodWatch.Elapsed.TotalSeconds + 1)));
            Assert.Equal(60, latencies.Count);
            Assert.True(latencies[^1] < 3000, $"the camera's slowest reading took {latencies[^1]:F0} ms to be stored");
        }
        finally
        {
            await host.StopAsync().Within();
        }
    }

    /// <summary>When each reading reached the store's listeners (the point analytics sees it), by device and time.</summary>
    private sealed class StoredClock : IStoredReadingsListener
    {
        private readonly ConcurrentDictionary<(string Device, DateTimeOffset Time), long> _at = new();

        public ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var reading in batch) _at.TryAdd((reading.Device, reading.Time), now);
            return ValueTask.CompletedTask;
        }

        public int Count(string device) => _at.Keys.Count(k => k.Device == device);

        public IEnumerable<double> Latencies(string device, IReadOnlyDictionary<DateTimeOffset, long> sent) =>
            sent.Where(s => _at.ContainsKey((device, s.Key))).Select(s => Stopwatch.GetElapsedTime(s.Value, _at[(device, s.Key)]).TotalMilliseconds);
    }
}
