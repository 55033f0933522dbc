using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Brokers;

/// <summary>
/// Two ingest instances (two service hosts, each its own DuckDB) in one MQTT 5 shared subscription group on a real
/// mosquitto split one feed: every message is stored by exactly one of them. Meter registers, subscribed unshared,
/// reach both whole, so both derive the same consumption.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SharedSubscriptionTests(ITestOutputHelper output)
{
    private const int Passes = 100_000;
    private const int Meters = 20;
    private const int RegistersPerMeter = 30;

    [MosquittoFact]
    public async Task Two_instances_in_a_shared_group_store_every_message_once_between_them()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var start = BrokerFeed.RecentStart();
        var hosts = new List<SensingTestHost>();
        var publishers = await BrokerFeed.PublishersAsync(broker, "fleet", 4);
        try
        {
            foreach (var name in new[] { "ingest-a", "ingest-b" })
            {
                var settings = broker.IngestSettings(name);
                settings["Mqtt:SharedGroup"] = "ingest";
                settings["Mqtt:Topics:0"] = "sensing/+/gate/#";
                settings["Mqtt:Topics:1"] = "sensing/+/parking/#";
                settings["Mqtt:Topics:2"] = "sensing/+/camera/#";
                settings["Mqtt:UnsharedTopics:0"] = "sensing/+/meter/#";
                hosts.Add(await SensingTestHost.StartAsync(settings));
            }

            var feed = BrokerFeed.GatePasses("c9", start, 0, Passes);
            feed.AddRange(MeterRegisters(start));
            var clock = Stopwatch.StartNew();
            await FeedPublisher.PublishAsync(publishers, feed).WaitAsync(BrokerFeed.Long);
            var published = clock.Elapsed;
            await BrokerFeed.UntilAsync(async () =>
            {
                long total = 0;
                foreach (var host in hosts) total += await BrokerFeed.StoredPassCountAsync(host, "c9", start);
                return total >= Passes;
            }, $"{Passes:N0} passes stored between the two instances", TimeSpan.FromSeconds(240));
            var stored = clock.Elapsed;

            var a = await BrokerFeed.StoredPassesAsync(hosts[0], "c9", start);
            var b = await BrokerFeed.StoredPassesAsync(hosts[1], "c9", start);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Passes:N0} passes + {Meters * RegistersPerMeter} registers published in {published.TotalSeconds:F1} s, all stored after {stored.TotalSeconds:F1} s; instance a stored {a.Count:N0}, b {b.Count:N0}"));
            Assert.Empty(a.Intersect(b));
            Assert.True(a.Union(b).ToHashSet().SetEquals(Enumerable.Range(0, Passes).Select(i => start.AddMilliseconds(i))));
            // Both took part: the broker spreads the group's messages over its members.
            Assert.InRange(a.Count, Passes / 10, Passes - Passes / 10);

            // Each instance got every register of every meter, in order, and derived the same, right consumption. The
            // registers were published last and the wait above counted passes only: wait for the consumptions too.
            await BrokerFeed.UntilAsync(async () =>
            {
                foreach (var host in hosts)
                {
                    var store = host.App.Services.GetRequiredService<IReadingStore>();
                    for (var m = 0; m < Meters; m++)
                    {
                        var used = await store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, start.AddDays(-1), start.AddDays(1), Device: $"c7-wm-{m:D2}"), CancellationToken.None);
                        if (used.Count < RegistersPerMeter - 1) return false;
                    }
                }
                return true;
            }, "every meter's consumptions stored by both instances", TimeSpan.FromSeconds(60));
            foreach (var host in hosts)
            {
                var store = host.App.Services.GetRequiredService<IReadingStore>();
                for (var m = 0; m < Meters; m++)
                {
                    var device = $"c7-wm-{m:D2}";
                    var used = await store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, start.AddDays(-1), start.AddDays(1), Device: device), CancellationToken.None);
                    Assert.Equal(RegistersPerMeter - 1, used.Count);
                    Assert.All(used, u => Assert.Equal(0.001 * (m + 1), u.Value, 9));
                }
                host.AssertNoLoggedErrors();
            }
        }
        finally
        {
            BrokerFeed.Dispose(publishers);
            foreach (var host in hosts) await host.DisposeAsync();
        }
    }

    /// <summary>Meter m's register grows by (m + 1) litres every 15 minutes.</summary>
    private static IEnumerable<(string Topic, byte[] Payload)> MeterRegisters(DateTimeOffset start)
    {
        for (var r = 0; r < RegistersPerMeter; r++)
        {
            for (var m = 0; m < Meters; m++)
            {
                var ts = start.AddMinutes(-15 * (RegistersPerMeter - r)).ToUnixTimeMilliseconds();
                var total = 100 + 0.001 * (m + 1) * r;
                yield return ($"sensing/c7/meter/c7-wm-{m:D2}", Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $$"""{"ts":{{ts}},"type":"water","total":{{total:R}},"household":"h-7{{m:D2}}"}""")));
            }
        }
    }
}
