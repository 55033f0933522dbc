using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Brokers;

/// <summary>
/// The service against a real mosquitto (<c>Mqtt:Embedded=false</c>): its persistent session across an ingest restart,
/// a broker restart, and the state <c>/healthz</c> shows meanwhile.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MosquittoIngestTests(ITestOutputHelper output)
{
    [MosquittoFact]
    public async Task Messages_published_while_ingest_is_down_are_stored_exactly_once_when_it_returns()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var settings = broker.IngestSettings("ingest-restart");
        var data = SensingTestHost.NewDataDirectory();
        var start = BrokerFeed.RecentStart();
        var publishers = await BrokerFeed.PublishersAsync(broker, "gates", 2);
        try
        {
            await using (var first = await SensingTestHost.StartAsync(settings, dataDirectory: data))
            {
                var (_, health) = await first.HealthAsync();
                Assert.False(health.GetProperty("mqtt").GetProperty("session_present").GetBoolean());
                await FeedPublisher.PublishAsync(publishers, BrokerFeed.GatePasses("c9", start, 0, 500));
                await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(first, "c9", start) == 500, "the first 500 passes to be stored");
                first.AssertNoLoggedErrors();
            }

            // Ingest is down; its session is not: the broker queues these for it.
            await FeedPublisher.PublishAsync(publishers, BrokerFeed.GatePasses("c9", start, 500, 3000));

            await using var second = await SensingTestHost.StartAsync(settings, dataDirectory: data);
            var (_, reconnected) = await second.HealthAsync();
            Assert.True(reconnected.GetProperty("mqtt").GetProperty("session_present").GetBoolean(), reconnected.ToString());
            await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(second, "c9", start) >= 3500, "the 3,000 passes published while ingest was down");
            // Give any redelivery time to land, then count once more: each message exactly once.
            await Task.Delay(500);
            var stored = await BrokerFeed.StoredPassesAsync(second, "c9", start);
            Assert.Equal(3500, stored.Count);
            Assert.Equal(BrokerFeed.GatePasses("c9", start, 0, 3500).Count, stored.Count);
            Assert.True(stored.SetEquals(Enumerable.Range(0, 3500).Select(i => start.AddMilliseconds(i))));
            Assert.Equal(3500, await BrokerFeed.StoredPassCountAsync(second, "c9", start));
            second.AssertNoLoggedErrors();
        }
        finally
        {
            BrokerFeed.Dispose(publishers);
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [MosquittoFact]
    public async Task After_a_broker_restart_ingest_reconnects_to_its_session_and_carries_on()
    {
        await using var broker = await MosquittoServer.StartAsync();
        await using var host = await SensingTestHost.StartAsync(broker.IngestSettings("ingest-broker-restart"));
        var start = BrokerFeed.RecentStart();

        var before = await BrokerFeed.PublishersAsync(broker, "before", 1);
        await FeedPublisher.PublishAsync(before, BrokerFeed.GatePasses("c8", start, 0, 1000));
        BrokerFeed.Dispose(before);
        await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(host, "c8", start) == 1000, "the passes published before the restart");

        await broker.StopAsync();
        var (down, _) = await BrokerFeed.HealthUntilAsync(host, (_, mqtt) => !mqtt.GetProperty("connected").GetBoolean(), "ingest to notice the broker is gone");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down);

        var clock = Stopwatch.StartNew();
        await broker.StartAsync();
        var (_, back) = await BrokerFeed.HealthUntilAsync(host, (status, mqtt) => status == HttpStatusCode.OK && mqtt.GetProperty("connected").GetBoolean(), "ingest to reconnect", TimeSpan.FromSeconds(30));
        output.WriteLine($"reconnected {clock.Elapsed.TotalSeconds:F1} s after the broker came back: {back}");
        var mqtt = back.GetProperty("mqtt");
        Assert.Equal(1, mqtt.GetProperty("reconnects").GetInt64());
        // mosquitto saved the session to its persistence file on SIGTERM and restored it.
        Assert.True(mqtt.GetProperty("session_present").GetBoolean());
        // What went wrong last while it was away: the drop, or a refused attempt while mosquitto was down.
        Assert.False(string.IsNullOrEmpty(mqtt.GetProperty("last_error").GetString()));

        var after = await BrokerFeed.PublishersAsync(broker, "after", 1);
        await FeedPublisher.PublishAsync(after, BrokerFeed.GatePasses("c8", start, 1000, 1000));
        BrokerFeed.Dispose(after);
        await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(host, "c8", start) == 2000, "the passes published after the restart");
        Assert.True((await BrokerFeed.StoredPassesAsync(host, "c8", start)).SetEquals(Enumerable.Range(0, 2000).Select(i => start.AddMilliseconds(i))));
        host.AssertNoLoggedErrors();
    }

    [MosquittoFact]
    public async Task Two_instances_with_one_client_id_are_told_to_use_their_own()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var settings = broker.IngestSettings("ingest-twin");
        await using var first = await SensingTestHost.StartAsync(settings);
        await using var second = await SensingTestHost.StartAsync(settings, waitUntilHealthy: false);

        // The broker gives the session to the newcomer and closes the other's connection, in turn: both notice the
        // pattern and say what to change.
        await BrokerFeed.UntilAsync(() => Task.FromResult(first.LoggedErrors.Count > 0 && second.LoggedErrors.Count > 0), "both instances to report the take-overs", TimeSpan.FromSeconds(60));
        Assert.Contains("Give every ingest instance its own Mqtt:ClientId", first.LoggedErrors[0], StringComparison.Ordinal);
        Assert.Contains("Give every ingest instance its own Mqtt:ClientId", second.LoggedErrors[0], StringComparison.Ordinal);
    }

    [MosquittoFact]
    public async Task Healthz_shows_the_broker_connection()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var settings = broker.IngestSettings("ingest-health");
        settings["Mqtt:ReceiveMaximum"] = "4000";
        await using var host = await SensingTestHost.StartAsync(settings);

        var (status, body) = await host.HealthAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("connected", body.GetProperty("broker").GetString());
        var mqtt = body.GetProperty("mqtt");
        Assert.Equal("127.0.0.1", mqtt.GetProperty("host").GetString());
        Assert.Equal(broker.Port, mqtt.GetProperty("port").GetInt32());
        Assert.False(mqtt.GetProperty("tls").GetBoolean());
        Assert.False(mqtt.GetProperty("embedded").GetBoolean());
        Assert.Equal("ingest-health", mqtt.GetProperty("client_id").GetString());
        Assert.Equal(4000, mqtt.GetProperty("receive_maximum").GetInt32());
        Assert.True(mqtt.GetProperty("connected").GetBoolean());
        Assert.Equal(0, mqtt.GetProperty("reconnects").GetInt64());
        Assert.Equal(0, mqtt.GetProperty("failed_attempts").GetInt32());
        // The native topics first, then the vendor formats' filters (Ingest:Formats).
        var subscriptions = mqtt.GetProperty("subscriptions").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal("sensing/#", subscriptions[0]);
        Assert.Contains("tele/+/SENSOR", subscriptions);
        Assert.True(DateTimeOffset.UtcNow - mqtt.GetProperty("since").GetDateTimeOffset() < TimeSpan.FromMinutes(1));
        Assert.Equal(JsonValueKind.Null, mqtt.GetProperty("last_error").ValueKind);
        host.AssertNoLoggedErrors();
    }
}
