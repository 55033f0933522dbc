using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;
using Sensing.Storage;

namespace Sensing.Ingest.Tests;

/// <summary>Broker, intake, pipeline and DuckDB store composed as the host composes them, fed by a real MQTT client.</summary>
[Trait("Category", "Integration")]
public sealed class MqttIngestIntegrationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-ingest-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }


    [Fact]
    public async Task Published_meter_pair_and_malformed_message_end_up_in_the_store()
    {
        var port = LoopbackPorts.Free();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mqtt:Host"] = "127.0.0.1",
            ["Mqtt:ClientId"] = "ingest-test-" + Guid.NewGuid().ToString("N"),
            ["Store:Path"] = Path.Combine(_folder, "sensing.duckdb"),
            ["Registry:Path"] = Path.Combine(_folder, "registry.json"),
            ["Ingest:BatchDelayMilliseconds"] = "10",
        });
        builder.Services.AddLogging();
        builder.Services.AddSensingStore(builder.Configuration);
        builder.Services.AddSensingIngest(builder.Configuration);
        using var host = builder.Build();
        var metrics = host.Services.GetRequiredService<IngestMetrics>();
        var store = host.Services.GetRequiredService<IReadingStore>();

        await host.StartAsync().Within();
        try
        {
            // Messages published before the intake subscribed would reach nobody: wait for it first.
            await TestTimeouts.Until(() => Task.FromResult(metrics.BrokerConnected && metrics.PipelineReady), "ingest to connect to the embedded broker");

            using var device = new MqttClientFactory().CreateMqttClient();
            await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("test-device").Build()).Within();
            var messages = new (string Topic, string Payload)[]
            {
                ("sensing/c5/meter/c5-wm-0001", """{"ts":"2026-11-20T07:00:00+08:00","type":"electricity","total":5021.25,"household":"h-0501"}"""),
                ("sensing/c5/meter/c5-wm-0001", """{"ts":"2026-11-20T08:00:00+08:00","type":"electricity","total":5022.0,"household":"h-0501"}"""),
                ("sensing/c5/meter/c5-wm-0001", """{"ts":"2026-11-20T08:15:00+08:00","type":"electricity","total":"lots","household":"h-0501"}"""),
            };
            foreach (var (topic, payload) in messages)
            {
                var result = await device.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(topic)
                    .WithPayload(payload)
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build()).Within();
                Assert.True(result.IsSuccess, result.ReasonString);
            }

            var from = new DateTimeOffset(2026, 11, 19, 0, 0, 0, TimeSpan.Zero);
            var to = new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero);
            IReadOnlyList<Bucket> used = [];
            IReadOnlyList<DeadLetter> letters = [];
            await TestTimeouts.Until(async () =>
            {
                used = await store.QueryAsync(new ReadingQuery(Metrics.ElectricityConsumption, from, to, Device: "c5-wm-0001"), CancellationToken.None);
                letters = await store.DeadLettersAsync(null, 10, CancellationToken.None);
                return used.Count == 1 && letters.Count == 1;
            }, "the consumption reading and the dead letter to be stored");

            var registers = await store.QueryAsync(new ReadingQuery(Metrics.ElectricityTotal, from, to, Device: "c5-wm-0001"), CancellationToken.None).Within();
            Assert.Equal(
                [new Bucket(new DateTimeOffset(2026, 11, 19, 23, 0, 0, TimeSpan.Zero), 5021.25), new Bucket(new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), 5022.0)],
                registers);
            Assert.Equal(new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), used[0].Time);
            Assert.Equal(0.75, used[0].Value, 9);

            var letter = letters[0];
            Assert.Equal("sensing/c5/meter/c5-wm-0001", letter.Topic);
            Assert.Equal("meter: field 'total' must be a number", letter.Reason);
            Assert.Equal("native", letter.Format);
            Assert.Equal(System.Text.Encoding.UTF8.GetBytes(messages[2].Payload), letter.Payload);

            // The unknown device was registered as unassigned in the community its topic names.
            Assert.Equal(new Device("c5-wm-0001", DeviceKind.Meter, "c5", null), host.Services.GetRequiredService<DeviceRegistry>().FindDevice("c5-wm-0001"));
            await TestTimeouts.Until(() => Task.FromResult(metrics.QueueDepth == 0), "the queue to drain");
            Assert.Equal(3, metrics.MessagesReceived);
            Assert.Equal(3, metrics.ReadingsStored);
            Assert.Equal(1, metrics.DeadLetters);

            await device.DisconnectAsync().Within();
        }
        finally
        {
            await host.StopAsync().Within();
        }

        // On shutdown the registry file keeps the device registered on first sight.
        var saved = DeviceRegistry.ReadFile(Path.Combine(_folder, "registry.json"));
        Assert.Contains(new Device("c5-wm-0001", DeviceKind.Meter, "c5", null), saved.Devices);
    }
}
