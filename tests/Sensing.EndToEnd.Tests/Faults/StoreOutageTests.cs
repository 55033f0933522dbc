using System.Diagnostics;
using System.Globalization;
using Sensing.Telemetry;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests.Faults;

/// <summary>
/// The store goes away for minutes while devices keep publishing, and comes back: every reading the service acknowledged
/// ends up in the store exactly once, carried meanwhile by the local spool. Real parts throughout: MQTT over loopback, the
/// whole host, and a real InfluxDB (Debian's influxd) frozen with SIGSTOP, or killed with SIGKILL and started again on its
/// data. <c>SENSING_FAULT_OUTAGE_SECONDS</c> sets the frozen spell (default 120 s; the crash keeps influxd down a quarter
/// of it), <c>SENSING_FAULT_RATE</c> the devices' total rate (default 400 messages a second from 4 gates).
/// <para>
/// DuckDB has no outage of this kind to test: it is a file inside the service's own process, so it cannot hang or go away
/// while ingest runs. Its failures are the process's (a crash: <see cref="IngestKillTests"/>, which stores in DuckDB) and the
/// disk's (full or failing, where the spool lives too: the spool then refuses and ingest stops acknowledging, see
/// <c>ReadingSpoolTests</c>).
/// </para>
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class StoreOutageTests(InfluxServer influx, ITestOutputHelper output) : IClassFixture<InfluxServer>
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(EnvironmentInt("SENSING_FAULT_OUTAGE_SECONDS", 120));
    private static readonly int Rate = EnvironmentInt("SENSING_FAULT_RATE", 400);
    private const int Devices = 4;

    [Fact]
    public Task InfluxDB_frozen_for_minutes_under_load_every_acknowledged_reading_arrives_exactly_once() =>
        OutageAsync("influx-frozen", Outage, $"influxd frozen (SIGSTOP) for {Outage.TotalSeconds:0} s under {Rate} msg/s",
            down: () => { influx.Pause(); return Task.CompletedTask; },
            up: () => { influx.Resume(); return Task.CompletedTask; });

    [Fact]
    public Task InfluxDB_killed_and_restarted_under_load_every_acknowledged_reading_arrives_exactly_once()
    {
        var outage = Outage / 4;
        return OutageAsync("influx-killed", outage, $"influxd killed (SIGKILL) and restarted on its data after {outage.TotalSeconds:0} s under {Rate} msg/s",
            down: influx.CrashAsync, up: influx.RestartAsync);
    }

    private async Task OutageAsync(string name, TimeSpan outage, string fault, Func<Task> down, Func<Task> up)
    {
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Store:Kind"] = "influxdb",
            ["Store:Url"] = influx.Url.ToString(),
            ["Store:Database"] = "outage_" + Guid.NewGuid().ToString("N")[..8],
            ["Spool:StoreTimeoutMilliseconds"] = "500",
        }, failOnLoggedErrors: false); // the outage is expected to log errors
        var store = host.App.Services.GetService(typeof(IReadingStore)) as IReadingStore ?? throw new InvalidOperationException("no store");
        var spooledBefore = await MetricAsync(host, "sensing_spool_batches_total");
        var clock = Stopwatch.StartNew();
        await using var feed = await SteadyFeed.StartAsync(host.ConnectDeviceAsync, name.Replace("-", "", StringComparison.Ordinal), Devices, Rate);
        var during = new List<string>();
        await Task.Delay(TimeSpan.FromSeconds(5));
        var before = feed.Acknowledged;
        await down();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: store down ({name}) after {before} acknowledged messages");
        var outageClock = Stopwatch.StartNew();
        while (outageClock.Elapsed < outage)
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, Math.Max(0.1, (outage - outageClock.Elapsed).TotalSeconds))));
            var (_, health) = await host.HealthAsync();
            during.Add(health.GetProperty("store").GetString()!);
        }
        var acknowledgedDuringOutage = feed.Acknowledged - before;
        await up();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: store back after {outageClock.Elapsed.TotalSeconds:F0} s; {acknowledgedDuringOutage} messages acknowledged meanwhile; /healthz store: {string.Join(",", during.Distinct())}");
        // The devices keep publishing while the spool drains into the store behind them.
        await Task.Delay(TimeSpan.FromSeconds(5));
        await feed.StopAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: devices stopped; {feed.Acknowledged} of {feed.Sent} acknowledged");

        var drained = Stopwatch.StartNew();
        await SensingTestHost.EventuallyAsync(async () =>
        {
            var (_, health) = await host.HealthAsync();
            return health.GetProperty("store").GetString() == "ok" && health.GetProperty("spool_depth").GetInt32() == 0 ? "" : null;
        }, TimeSpan.FromSeconds(120), "the spool to drain into InfluxDB");
        var caughtUp = await feed.WaitUntilStoredAsync(async () => (long)(await store.QueryAsync(new ReadingQuery(Metrics.GatePass, feed.Start.AddDays(-1), feed.Start.AddDays(1),
            Community: feed.Community, Every: TimeSpan.FromDays(3650), Aggregation: Aggregation.Count), CancellationToken.None)).Sum(b => b.Value), TimeSpan.FromSeconds(30));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: spool drained {drained.Elapsed.TotalSeconds:F1} s after the devices stopped, store caught up {caughtUp.TotalSeconds:F1} s later");


        var ledger = await feed.LedgerAsync(async device =>
            (await store.QueryAsync(new ReadingQuery(Metrics.GatePass, feed.Start.AddDays(-1), feed.Start.AddDays(1), Device: device, Limit: 10_000_000), CancellationToken.None))
                .Select(b => b.Time).ToList());
        var spooled = await MetricAsync(host, "sensing_spool_batches_total") - spooledBefore;
        ledger.Print(output, $"{fault}, {spooled:0} batches spooled");
        output.WriteLine($"/metrics: received {await MetricAsync(host, "sensing_messages_received_total")}, stored {await MetricAsync(host, "sensing_readings_stored_total")} (writes, redelivered ones included), dead letters {await MetricAsync(host, "sensing_deadletters_total")}");

        Assert.True(ledger.Lost == 0, $"acknowledged readings missing from the store: {ledger.LostExamples}");
        Assert.True(acknowledgedDuringOutage > 0, "the devices must keep being served during the store's outage");
        Assert.Contains(during, s => s != "ok"); // the outage was visible on /healthz
        Assert.True(spooled > 0, "the outage must have sent batches to the spool, or this test proved nothing");
        Assert.Equal(feed.Sent, ledger.Acknowledged); // the store's outage is no reason to refuse a device
        Assert.Equal(0, ledger.Duplicated);
        Assert.Equal(ledger.Acknowledged, ledger.Stored);
        await host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>One sample of the host's <c>/metrics</c>, read as Prometheus does.</summary>
    internal static Task<double> MetricAsync(SensingTestHost host, string name) => host.MetricAsync(name);

    internal static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
