using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sensing.Telemetry;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests.Faults;

/// <summary>
/// The broker (a real mosquitto) is stopped and started again on the same port while devices publish: ingest reconnects and
/// stores new readings within 5 s of the broker being back, the cockpit shows the spell without the broker while it lasts
/// (<c>/healthz</c> <c>mqtt.disconnected_since</c>, the tiles' <c>broker</c>) and the gap (from, to) afterwards, and what the
/// devices had acknowledged is stored exactly once.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class BrokerRestartTests(ITestOutputHelper output)
{
    private const int Devices = 4;
    private static readonly TimeSpan Down = TimeSpan.FromSeconds(15);

    [MosquittoFact]
    public async Task Broker_restarted_under_load_ingest_resumes_within_5_s_and_the_cockpit_shows_the_gap()
    {
        var rate = StoreOutageTests.EnvironmentInt("SENSING_FAULT_RATE", 400);
        await using var broker = await MosquittoServer.StartAsync();
        // The restart is expected to log warnings (drops, refused attempts), not errors.
        await using var host = await SensingTestHost.StartAsync(broker.IngestSettings("fault-broker-restart"));
        var token = await host.TokenAsync("operator");
        using var api = host.Http(token);
        await using var feed = await SteadyFeed.StartAsync(id => broker.ConnectClientAsync(id), "brokerrestart", Devices, rate);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(4));

        // SIGTERM, as an operator's restart: mosquitto saves ingest's session and what it queued for it.
        await broker.StopAsync();
        var stoppedAt = DateTimeOffset.UtcNow;
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: broker stopped; devices had {feed.Acknowledged} PUBACKs");

        // While it is away, the cockpit says so, and since when.
        var (status, health) = await UntilAsync(host.HealthAsync, h => !h.Body.GetProperty("mqtt").GetProperty("connected").GetBoolean(), "/healthz to show the broker gone");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var since = health.GetProperty("mqtt").GetProperty("disconnected_since").GetDateTimeOffset();
        Assert.InRange(since, stoppedAt.AddSeconds(-2), stoppedAt.AddSeconds(5));
        var tiles = await UntilAsync(() => TilesAsync(api), t => t.TryGetProperty("broker", out var b) && !b.GetProperty("connected").GetBoolean(), "the tiles to show the broker gone");
        Assert.Equal(since, tiles.GetProperty("broker").GetProperty("disconnected_since").GetDateTimeOffset());
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: /healthz mqtt.disconnected_since {since:O}; tiles broker {tiles.GetProperty("broker")}");

        await Task.Delay(Down - (DateTimeOffset.UtcNow - stoppedAt));
        var storedBefore = await StoreOutageTests.MetricAsync(host, "sensing_readings_stored_total");
        await broker.StartAsync();
        var upAt = DateTimeOffset.UtcNow;
        var up = Stopwatch.StartNew();
        // Resumed = the first reading stored after the broker is back (devices reconnect at once and publish again).
        while (await StoreOutageTests.MetricAsync(host, "sensing_readings_stored_total") <= storedBefore && up.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20);
        }
        var resumed = up.Elapsed;
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: broker back; first new reading stored {resumed.TotalSeconds:F2} s later");

        var (_, back) = await UntilAsync(host.HealthAsync, h => h.Body.GetProperty("mqtt").GetProperty("connected").GetBoolean(), "/healthz to show the broker back");
        var mqtt = back.GetProperty("mqtt");
        var gap = mqtt.GetProperty("last_gap");
        var (from, to) = (gap.GetProperty("from").GetDateTimeOffset(), gap.GetProperty("to").GetDateTimeOffset());
        Assert.Equal(since, from);
        Assert.InRange(to, upAt.AddSeconds(-1), upAt.AddSeconds(10));
        Assert.Equal(JsonValueKind.Null, mqtt.GetProperty("disconnected_since").ValueKind);
        Assert.Equal(1, mqtt.GetProperty("gaps").GetInt64());
        var after = await UntilAsync(() => TilesAsync(api), t => t.GetProperty("broker").GetProperty("connected").GetBoolean(), "the tiles to show the broker back");
        Assert.Equal(from, after.GetProperty("broker").GetProperty("last_gap").GetProperty("from").GetDateTimeOffset());
        Assert.Equal(to, after.GetProperty("broker").GetProperty("last_gap").GetProperty("to").GetDateTimeOffset());
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: gap recorded {from:HH:mm:ss.fff}–{to:HH:mm:ss.fff} ({gap.GetProperty("seconds").GetDouble():F1} s)");

        await Task.Delay(TimeSpan.FromSeconds(4));
        await feed.StopAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: feed stopped; {feed.SlotsWithoutBroker} publishing slots passed while the devices had no broker");
        var store = (IReadingStore)host.App.Services.GetService(typeof(IReadingStore))!;
        await feed.WaitUntilStoredAsync(async () => (long)(await store.QueryAsync(new ReadingQuery(Metrics.GatePass, feed.Start.AddDays(-1), feed.Start.AddDays(1),
            Community: feed.Community, Every: TimeSpan.FromDays(3650), Aggregation: Aggregation.Count), CancellationToken.None)).Sum(b => b.Value), TimeSpan.FromSeconds(30));
        var ledger = await feed.LedgerAsync(async device =>
            (await store.QueryAsync(new ReadingQuery(Metrics.GatePass, feed.Start.AddDays(-1), feed.Start.AddDays(1), Device: device, Limit: 10_000_000), CancellationToken.None))
                .Select(b => b.Time).ToList());
        ledger.Print(output, $"mosquitto stopped (SIGTERM) for {Down.TotalSeconds:0} s and started on the same port under {rate} msg/s; ingest resumed {resumed.TotalSeconds:F2} s after the broker was back");

        Assert.True(resumed <= TimeSpan.FromSeconds(5), $"ingest stored nothing new until {resumed.TotalSeconds:F1} s after the broker was back (at most 5 s)");
        Assert.True(ledger.Lost == 0, $"acknowledged readings missing from the store: {ledger.LostExamples}");
        Assert.Equal(0, ledger.Duplicated);
        // The devices lost their broker too. Whether a publish in flight at the SIGTERM goes unacknowledged depends on timing
        // (mosquitto may acknowledge all it read before closing), so the proof is the slots that passed without a broker.
        Assert.True(feed.SlotsWithoutBroker > 0, "the devices never saw the broker gone");
        host.AssertNoLoggedErrors();
    }

    private static async Task<JsonElement> TilesAsync(HttpClient api)
    {
        using var json = JsonDocument.Parse(await api.GetStringAsync("/api/tiles?community=brokerrestart"));
        return json.RootElement.Clone();
    }

    private static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (condition(value)) return value;
            if (deadline.Elapsed > TimeSpan.FromSeconds(30)) Assert.Fail($"Timed out after 30 s waiting for {what}; last: {value}");
            await Task.Delay(100);
        }
    }
}
