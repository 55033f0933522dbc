using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Tiles;
using Sensing.Ingest.Registry;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The wall screen while the store does not answer: a real InfluxDB (Debian's influxd) frozen with SIGSTOP under a real
/// host. Before, every tile refresh waited for the store's reads (up to the HTTP client's 30 s) and then failed, so
/// `GET /api/tiles` and the hub's <c>Watch</c> failed and the screen kept its last push, "store OK" included, for the
/// whole outage. Now the tiles come within the read budget, with the store's figures of the last good read, aged.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WallScreenStoreOutageTests(InfluxServer influx) : IClassFixture<InfluxServer>
{
    [Fact]
    public async Task While_the_store_does_not_answer_the_tiles_keep_coming_with_its_last_figures_marked_by_age()
    {
        await using var host = await SensingTestHost.StartAsync(influx.StoreSettings("tiles"), failOnLoggedErrors: false); // background reads of the frozen store log their failures
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var registry = host.App.Services.GetRequiredService<DeviceRegistry>();
        using var admin = host.Http(await host.TokenAsync("admin"));
        var operatorToken = await host.TokenAsync("operator");
        using var operatorHttp = host.Http(operatorToken);

        // A community the screen has read before the outage, and one it first shows during it.
        var (community, unseen) = (Scenario.NewId("cs"), Scenario.NewId("cs"));
        var (meter, gate, lot) = (Scenario.NewId("wm"), Scenario.NewId("gate"), Scenario.NewId("lot"));
        await Scenario.RegisterDeviceAsync(admin, meter, "meter", community, "g1", household: Scenario.NewId("h"));
        await Scenario.RegisterDeviceAsync(admin, gate, "gate", community, "g1");
        await Scenario.RegisterDeviceAsync(admin, lot, "parking", community, "g1");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("gate"), "gate", unseen, "g1");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("wm"), "meter", unseen, "g1", household: Scenario.NewId("h"));

        var now = host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var t = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        await store.WriteAsync(
            [
                new Reading(gate, community, "g1", null, Metrics.GatePass, t.AddSeconds(-3), 1, "in"),
                new Reading(gate, community, "g1", null, Metrics.GatePass, t.AddSeconds(-2), 1, "out"),
                new Reading(gate, community, "g1", null, Metrics.GatePass, t.AddSeconds(-1), 1, "in"),
                new Reading(lot, community, "g1", null, Metrics.ParkingFree, t.AddSeconds(-5), 12, "P1"),
                new Reading(lot, community, "g1", null, Metrics.ParkingCapacity, t.AddSeconds(-5), 40, "P1"),
            ], CancellationToken.None).WaitAsync(Scenario.Timeout);
        registry.Seen(meter, t.AddMinutes(-1));
        registry.Seen(gate, t.AddSeconds(-1));

        // Passes stamped within the last seconds could fall before local midnight if the test ran right after it.
        double passesToday = new[] { -3, -2, -1 }.Count(s => LocalDate(t.AddSeconds(s)) == LocalDate(t));
        var before = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={community}");
        Assert.Equal(passesToday, Number(before, "gate_passes_today"));
        Assert.Equal(12, before.GetProperty("parking_free").GetDouble());
        Assert.Equal(JsonValueKind.Null, before.GetProperty("store_unreadable_since").ValueKind);
        Assert.Equal(t.AddSeconds(-1), AsOf(before, TileNames.GatePasses));
        var readBefore = host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();

        influx.Pause();
        DateTimeOffset pausedAt = host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        try
        {
            // A gate pass during the outage: ingest's registry sees the gate, the store cannot be asked to count it.
            registry.Seen(gate, pausedAt);
            var clock = Stopwatch.StartNew();
            var during = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={community}");
            Assert.True(clock.Elapsed < TileStoreReads.Budget + TimeSpan.FromSeconds(3), $"the tiles took {clock.Elapsed.TotalSeconds:F1} s");
            var unreadableSince = during.GetProperty("store_unreadable_since").GetDateTimeOffset();
            Assert.InRange(unreadableSince, pausedAt, pausedAt + TileStoreReads.Budget + TimeSpan.FromSeconds(3));
            Assert.Equal(1, during.GetProperty("households_monitored").GetInt32());
            Assert.Equal(passesToday, Number(during, "gate_passes_today"));
            Assert.Equal(12, during.GetProperty("parking_free").GetDouble());
            Assert.Equal(40, during.GetProperty("parking_capacity").GetDouble());
            // The count is as old as the read it came from, not as new as the gate's latest message.
            Assert.InRange(AsOf(during, TileNames.GatePasses)!.Value, readBefore.AddSeconds(-5), readBefore);
            Assert.Equal(t.AddSeconds(-5), AsOf(during, TileNames.Parking));
            Assert.Equal(t.AddMinutes(-1), AsOf(during, TileNames.Households));

            // The store is left alone for a while after a failed read: the next refreshes answer at once.
            clock.Restart();
            var again = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={unseen}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the second refresh took {clock.Elapsed.TotalSeconds:F1} s");
            // Nothing read for this community yet: no count rather than a zero, and its tile says there is no data.
            Assert.Equal(JsonValueKind.Null, again.GetProperty("gate_passes_today").ValueKind);
            Assert.Null(AsOf(again, TileNames.GatePasses));
            Assert.Empty(again.GetProperty("parking").EnumerateArray());
            Assert.Equal(1, again.GetProperty("households_monitored").GetInt32());

            // The charts say at once that the store is not answering (the screen keeps those it has), not after the
            // store's own half-minute timeout, and not as a server error.
            clock.Restart();
            var (chartsStatus, problem) = await Scenario.SendAsync(operatorHttp, HttpMethod.Get, $"/api/charts?community={community}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the charts took {clock.Elapsed.TotalSeconds:F1} s");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, chartsStatus);
            Assert.Equal("The store is not answering", problem!.Value.GetProperty("title").GetString());

            // The wall screen's hub answers too.
            await using var wall = await host.ConnectHubAsync("/hubs/cockpit", operatorToken);
            var watched = await wall.InvokeAsync<JsonElement>("Watch", community).WaitAsync(Scenario.Timeout);
            Assert.Equal(passesToday, Number(watched, "gate_passes_today"));
            Assert.Equal(JsonValueKind.String, watched.GetProperty("store_unreadable_since").ValueKind);

            Assert.Equal(1, await host.MetricAsync("sensing_tiles_store_unreadable"));
            Assert.True(await host.MetricAsync("sensing_tiles_store_read_failures_total") >= 1);
        }
        finally
        {
            influx.Resume();
        }

        // Back: within the retry period the store is read again, the mark goes and the figures are the store's.
        await store.WriteAsync([new Reading(gate, community, "g1", null, Metrics.GatePass, t, 1, "in")], CancellationToken.None).WaitAsync(Scenario.Timeout);
        var back = await SensingTestHost.EventuallyAsync(async () =>
        {
            var tiles = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={community}");
            return tiles.GetProperty("store_unreadable_since").ValueKind == JsonValueKind.Null ? new StrongBox<JsonElement>(tiles) : null;
        }, TileStoreReads.RetryEvery + TileStoreReads.Budget + TimeSpan.FromSeconds(10), "the tiles to read the store again");
        Assert.Equal(passesToday + 1, Number(back.Value, "gate_passes_today"));
        Assert.Equal(pausedAt, AsOf(back.Value, TileNames.GatePasses));
        Assert.Equal(0, await host.MetricAsync("sensing_tiles_store_unreadable"));
        var charts = await Scenario.GetJsonAsync(operatorHttp, $"/api/charts?community={community}");
        Assert.Equal(4, charts.GetProperty("gate_flow").GetProperty("points").EnumerateArray()
            .Sum(p => p.GetProperty("passes").ValueKind == JsonValueKind.Number ? p.GetProperty("passes").GetDouble() : 0));
    }

    [Fact]
    public async Task An_api_query_while_the_store_is_down_is_answered_503_with_retry_after_not_as_a_server_error()
    {
        await using var host = await SensingTestHost.StartAsync(influx.StoreSettings("api"), failOnLoggedErrors: false);
        using var admin = host.Http(await host.TokenAsync("admin"));
        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        var (community, gate) = (Scenario.NewId("cs"), Scenario.NewId("gate"));
        await Scenario.RegisterDeviceAsync(admin, gate, "gate", community, "g1");
        var now = DateTimeOffset.UtcNow;
        await host.App.Services.GetRequiredService<IReadingStore>()
            .WriteAsync([new Reading(gate, community, "g1", null, Metrics.GatePass, now.AddMinutes(-1), 1, "in")], CancellationToken.None).WaitAsync(Scenario.Timeout);
        var path = $"/api/readings?device={gate}&metric={Metrics.GatePass}";
        Assert.Single((await Scenario.GetJsonAsync(operatorHttp, path)).EnumerateArray());

        await influx.CrashAsync();
        try
        {
            using var response = await operatorHttp.GetAsync(path).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(TileStoreReads.RetryEvery.TotalSeconds), response.Headers.RetryAfter?.Delta);
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("The store is not answering", problem.GetProperty("title").GetString());
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            // A request the store could never answer is still the caller's error, not "try later".
            var (badStatus, _) = await Scenario.SendAsync(operatorHttp, HttpMethod.Get, $"/api/readings?device={gate}");
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, badStatus);
        }
        finally
        {
            await influx.RestartAsync();
        }
        // Back (once the client's circuit closes again): the same query answers.
        await SensingTestHost.EventuallyAsync(async () =>
        {
            using var response = await operatorHttp.GetAsync(path);
            return response.IsSuccessStatusCode ? "" : null;
        }, TimeSpan.FromSeconds(60), "the readings API to answer again");
    }

    private static DateTime LocalDate(DateTimeOffset time) =>
        TimeZoneInfo.ConvertTime(time, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai")).Date;

    private static double? Number(JsonElement tiles, string name) =>
        tiles.GetProperty(name).ValueKind == JsonValueKind.Null ? null : tiles.GetProperty(name).GetDouble();

    private static DateTimeOffset? AsOf(JsonElement tiles, string tile) =>
        tiles.GetProperty("freshness").GetProperty(tile).GetProperty("as_of") is { ValueKind: JsonValueKind.String } asOf ? asOf.GetDateTimeOffset() : null;
}
