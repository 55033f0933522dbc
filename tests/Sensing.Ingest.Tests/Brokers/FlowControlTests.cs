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
/// burst lands in ingest. When the store thaws, everything is stored.
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
}
