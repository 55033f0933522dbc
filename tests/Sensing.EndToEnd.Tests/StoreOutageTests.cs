using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Ingest.Spool;
using Sensing.Telemetry;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests;

/// <summary>
/// The store goes away under load and comes back: every reading the service acknowledged to its devices ends up in
/// the store exactly once, carried meanwhile by the local spool. Real parts throughout: MQTT over loopback, the
/// whole host, and a real InfluxDB (Debian's influxd) frozen with SIGSTOP for the outage.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class StoreOutageTests(InfluxServer influx, ITestOutputHelper output) : IClassFixture<InfluxServer>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task InfluxDB_down_under_load_every_acknowledged_reading_arrives_exactly_once()
    {
        const int total = 6000;
        const int outageAfter = 1500;
        var outage = TimeSpan.FromSeconds(8);
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Store:Kind"] = "influxdb",
            ["Store:Url"] = influx.Url.ToString(),
            ["Store:Database"] = "outage_" + Guid.NewGuid().ToString("N")[..8],
            ["Spool:StoreTimeoutMilliseconds"] = "500",
        }, failOnLoggedErrors: false); // the outage is expected to log errors
        var writer = host.App.Services.GetRequiredService<StoreWriter>();
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var spooledBefore = SpooledBatches(writer);

        using var gate = await host.ConnectDeviceAsync("outage-gate");
        var acknowledged = 0;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            if (i == outageAfter)
            {
                influx.Pause();
                output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: store frozen (SIGSTOP) after {acknowledged} acknowledged messages");
                _ = Task.Delay(outage).ContinueWith(_ =>
                {
                    influx.Resume();
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: store resumed (SIGCONT)");
                }, TaskScheduler.Default);
            }
            // Returns once the service has acknowledged (QoS 1 PUBACK), which it does only when the reading is durable.
            await SensingTestHost.PublishAsync(gate, "sensing/c1/gate/gate-outage",
                $$"""{"ts":{{T0.AddSeconds(i).ToUnixTimeMilliseconds()}},"event":"pass","direction":"{{(i % 2 == 0 ? "in" : "out")}}"}""");
            acknowledged++;
        }
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: all {acknowledged} messages acknowledged; spool depth {writer.SpoolDepth}, store {writer.State}");

        await SensingTestHost.EventuallyAsync(() => Task.FromResult(writer.SpoolDepth == 0 && writer.State == StoreState.Ok ? "" : null),
            TimeSpan.FromSeconds(90), "the spool to drain into InfluxDB");

        var counts = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, T0, T0.AddSeconds(total), Device: "gate-outage",
            Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Count), CancellationToken.None);
        var stored = (long)counts.Sum(b => b.Value);
        var spooled = SpooledBatches(writer) - spooledBefore;
        output.WriteLine($"sent {total}, acknowledged {acknowledged}, stored {stored}, lost {acknowledged - Math.Min(stored, acknowledged)}, duplicated {Math.Max(0, stored - acknowledged)}; {spooled} batches went through the spool");

        Assert.True(spooled > 0, "the outage must have sent batches to the spool, or this test proved nothing");
        Assert.Equal(total, acknowledged);
        Assert.Equal(acknowledged, stored);
        await host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(10));
    }

    private static double SpooledBatches(StoreWriter writer)
    {
        var samples = new List<MetricSample>();
        writer.Collect(samples);
        return samples.Single(s => s.Name == "sensing_spool_batches_total").Value;
    }
}
