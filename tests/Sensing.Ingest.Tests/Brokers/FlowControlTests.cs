using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Ingest.Pipeline;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Brokers;

/// <summary>
/// MQTT 5 flow control end to end: with the store frozen (a real influxd under SIGSTOP, no spool) ingest acknowledges
/// nothing, and mosquitto, honouring the Receive Maximum MQTTnet sent in CONNECT, hands it no more than that many
/// messages: the rest of a burst waits at the broker, not in ingest's memory. Without a Receive Maximum the whole
/// burst lands in ingest. When the store thaws, everything is stored. (mosquitto 2.0.11 keeps to the Receive Maximum
/// only until acknowledgements flow; ingest's own read-ahead limit bounds it after that, which the broker-load
/// benchmark measures: benchmarks/README.md.)
/// </summary>
[Trait("Category", "Integration")]
public sealed class FlowControlTests(InfluxServer influx, ITestOutputHelper output) : IClassFixture<InfluxServer>
{
    private const int Burst = 3000;

    [MosquittoTheory]
    [InlineData(300, 300)]
    [InlineData(0, Burst)]
    public async Task The_broker_sends_no_more_unacknowledged_messages_than_the_receive_maximum(int receiveMaximum, int expectedInIngest)
    {
        await using var broker = await MosquittoServer.StartAsync();
        var settings = broker.IngestSettings($"ingest-flow-{receiveMaximum}");
        settings["Mqtt:ReceiveMaximum"] = receiveMaximum.ToString(CultureInfo.InvariantCulture);
        settings["Ingest:BatchSize"] = "100";
        settings["Spool:Enabled"] = "false";
        settings["Store:Kind"] = "influxdb";
        settings["Store:Url"] = influx.Url.ToString();
        settings["Store:Database"] = "flow_" + Guid.NewGuid().ToString("N")[..8];
        // The frozen store makes writes time out and be retried: logged as errors, expected here.
        await using var host = await SensingTestHost.StartAsync(settings, failOnLoggedErrors: false);
        var metrics = host.App.Services.GetRequiredService<IngestMetrics>();
        var start = BrokerFeed.RecentStart();
        var publishers = await BrokerFeed.PublishersAsync(broker, "burst", 2);
        influx.Pause();
        try
        {
            await FeedPublisher.PublishAsync(publishers, BrokerFeed.GatePasses("c5", start, 0, Burst));
            await BrokerFeed.UntilAsync(() => Task.FromResult(metrics.MessagesReceived >= expectedInIngest), $"{expectedInIngest} messages in ingest", TimeSpan.FromSeconds(30));
            // Let the broker send whatever more it would.
            await Task.Delay(TimeSpan.FromSeconds(2));
            output.WriteLine($"Receive Maximum {receiveMaximum}: {metrics.MessagesReceived} of {Burst} messages in ingest while the store is frozen");
            Assert.Equal(expectedInIngest, metrics.MessagesReceived);
        }
        finally
        {
            influx.Resume();
            BrokerFeed.Dispose(publishers);
        }
        await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(host, "c5", start) == Burst, "the whole burst to be stored once the store thaws", TimeSpan.FromSeconds(90));
    }

    /// <summary>
    /// QoS 0 has no flow control: with the store frozen ingest keeps reading the connection (so the keep-alive's
    /// PINGRESP is not stuck behind the burst), takes what its queue has room for beside what QoS 1 is owed, and drops
    /// and counts the rest. Every message is accounted for: stored, or counted as dropped.
    /// </summary>
    [MosquittoFact]
    public async Task A_qos0_burst_beyond_the_queue_is_shed_and_counted_not_buffered()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var settings = broker.IngestSettings("ingest-qos0");
        settings["Mqtt:ReceiveMaximum"] = "300";
        settings["Ingest:QueueCapacity"] = "1000";
        settings["Ingest:BatchSize"] = "100";
        settings["Spool:Enabled"] = "false";
        settings["Store:Kind"] = "influxdb";
        settings["Store:Url"] = influx.Url.ToString();
        settings["Store:Database"] = "qos0_" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await SensingTestHost.StartAsync(settings, failOnLoggedErrors: false);
        var metrics = host.App.Services.GetRequiredService<IngestMetrics>();
        var connection = host.App.Services.GetRequiredService<Sensing.Ingest.Mqtt.BrokerConnection>();
        var start = BrokerFeed.RecentStart();
        var publishers = await BrokerFeed.PublishersAsync(broker, "qos0-burst", 2);
        influx.Pause();
        try
        {
            await FeedPublisher.PublishAsync(publishers, BrokerFeed.GatePasses("c4", start, 0, Burst), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce);
            await BrokerFeed.UntilAsync(() => Task.FromResult(metrics.MessagesReceived == Burst), "ingest to read the whole burst off the connection", TimeSpan.FromSeconds(30));
            var dropped = connection.Status.Qos0Dropped;
            output.WriteLine($"QoS 0 burst of {Burst} with the store frozen: {dropped} dropped, {metrics.QueueDepth} queued");
            // Room for QoS 0: the queue (1,000) less what QoS 1 is owed (300); the pipeline holds six batches (100 each)
            // besides, one in the frozen write and five normalized behind it. The depth counts both (received, not yet
            // acknowledged), and everything beyond them was shed.
            Assert.InRange(metrics.QueueDepth, 1200, 1300);
            Assert.InRange(dropped, Burst - 1300, Burst - 1200);
        }
        finally
        {
            influx.Resume();
            BrokerFeed.Dispose(publishers);
        }
        await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(host, "c4", start) + connection.Status.Qos0Dropped == Burst,
            "every message stored or counted as dropped", TimeSpan.FromSeconds(90));
        Assert.Equal(0, connection.Status.Reconnects);
        var (_, health) = await host.HealthAsync();
        Assert.Equal(connection.Status.Qos0Dropped, health.GetProperty("mqtt").GetProperty("qos0_dropped").GetInt64());
    }
}
