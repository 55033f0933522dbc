using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Tiles;
using Sensing.Ingest.Registry;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The wall screen's server side against a real host and a real DuckDB file: <c>GET /api/charts</c> (figures checked
/// against the readings written, who may ask), and the tiles' per-tile <c>as_of</c> (freshness) and device health.
/// Each test works in a community of its own.
/// </summary>
public sealed class WallScreenApiTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;
    private IReadingStore Store => Host.App.Services.GetRequiredService<IReadingStore>();
    private DeviceRegistry Registry => Host.App.Services.GetRequiredService<DeviceRegistry>();

    [Fact]
    public async Task Charts_give_gate_passes_per_hour_and_lot_occupancy_as_written()
    {
        var community = Scenario.NewId("cc");
        var gate = Scenario.NewId("gate");
        var lot = Scenario.NewId("lot");
        using var admin = await fixture.HttpAsync("admin");
        await Scenario.RegisterDeviceAsync(admin, gate, "gate", community, "g1");
        await Scenario.RegisterDeviceAsync(admin, lot, "parking", community, "g1");

        var hour = await CurrentHourAwayFromItsEndAsync();
        var now = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var readings = new List<Reading>();
        void Pass(DateTimeOffset at, string direction = "in") => readings.Add(new Reading(gate, community, "g1", null, Metrics.GatePass, at, 1, direction));
        for (var i = 0; i < 3; i++) Pass(hour.AddHours(-5).AddMinutes(10 + i), i == 1 ? "out" : "in");
        for (var i = 0; i < 7; i++) Pass(hour.AddHours(-2).AddMinutes(5 * i + 1));
        Pass(hour + (now - hour) / 2);                    // the current, partial hour
        Pass(hour.AddHours(-30));                         // before the window: not charted
        readings.Add(new Reading(gate, community, "g1", null, Metrics.GateDenied, hour.AddHours(-2).AddMinutes(3), 1, "in")); // not a pass
        void Count(DateTimeOffset at, double free, double capacity)
        {
            readings.Add(new Reading(lot, community, "g1", null, Metrics.ParkingFree, at, free, "P9"));
            readings.Add(new Reading(lot, community, "g1", null, Metrics.ParkingCapacity, at, capacity, "P9"));
        }
        Count(hour.AddHours(-3).AddMinutes(10), 10, 40);
        Count(hour.AddHours(-3).AddMinutes(40), 30, 40); // the hour's mean: 20 free of 40, half occupied
        Count(hour.AddHours(-1).AddMinutes(20), 4, 40);  // 90 % occupied
        await Store.WriteAsync(readings, CancellationToken.None).WaitAsync(Scenario.Timeout);
        var gateSeen = hour + (now - hour) / 2;
        Registry.Seen(gate, gateSeen);

        using var operatorHttp = await fixture.HttpAsync("operator");
        var charts = await Scenario.GetJsonAsync(operatorHttp, $"/api/charts?community={community}&hours=24");
        Assert.Equal(community, charts.GetProperty("community").GetString());
        Assert.Equal(24, charts.GetProperty("hours").GetInt32());
        Assert.Equal(3600, charts.GetProperty("every_s").GetDouble());
        Assert.Equal(hour.AddHours(-23), charts.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(hour.AddHours(1), charts.GetProperty("to").GetDateTimeOffset());

        var flow = charts.GetProperty("gate_flow");
        Assert.Equal(gateSeen, flow.GetProperty("as_of").GetDateTimeOffset());
        var points = flow.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(24, points.Count);
        for (var i = 0; i < 24; i++)
        {
            var at = hour.AddHours(i - 23);
            Assert.Equal(at, points[i].GetProperty("t").GetDateTimeOffset());
            var expected = i == 18 ? 3 : i == 21 ? 7 : i == 23 ? 1 : 0; // hours -5, -2 and the current one
            Assert.Equal(expected, points[i].GetProperty("passes").GetDouble());
        }

        var lots = charts.GetProperty("parking").EnumerateArray().ToList();
        var p9 = Assert.Single(lots);
        Assert.Equal("P9", p9.GetProperty("lot").GetString());
        Assert.Equal(lot, p9.GetProperty("device").GetString());
        Assert.Equal(hour.AddHours(-1).AddMinutes(20), p9.GetProperty("as_of").GetDateTimeOffset());
        var occupancy = p9.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(24, occupancy.Count);
        Assert.Equal(20, occupancy[20].GetProperty("free").GetDouble());
        Assert.Equal(40, occupancy[20].GetProperty("capacity").GetDouble());
        Assert.Equal(0.5, occupancy[20].GetProperty("occupancy").GetDouble(), 6);
        Assert.Equal(0.9, occupancy[22].GetProperty("occupancy").GetDouble(), 6);
        // An hour the counter did not report is a gap, not an empty lot.
        Assert.Equal(JsonValueKind.Null, occupancy[21].GetProperty("occupancy").ValueKind);
        Assert.Equal(JsonValueKind.Null, occupancy[23].GetProperty("free").ValueKind);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Gate_flow_after_the_newest_gate_data_is_unknown_not_zero()
    {
        var community = Scenario.NewId("cc");
        var gate = Scenario.NewId("gate");
        using var admin = await fixture.HttpAsync("admin");
        await Scenario.RegisterDeviceAsync(admin, gate, "gate", community, "g1");
        var hour = await CurrentHourAwayFromItsEndAsync();
        // The gates went quiet (an outage) four hours ago.
        await Store.WriteAsync([new Reading(gate, community, "g1", null, Metrics.GatePass, hour.AddHours(-6).AddMinutes(5), 1, "in")], CancellationToken.None).WaitAsync(Scenario.Timeout);
        Registry.Seen(gate, hour.AddHours(-4).AddMinutes(30));

        using var engineer = await fixture.HttpAsync("engineer");
        var points = (await Scenario.GetJsonAsync(engineer, $"/api/charts?community={community}&hours=8"))
            .GetProperty("gate_flow").GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(8, points.Count);
        Assert.Equal(0, points[0].GetProperty("passes").GetDouble());  // hour -7: data came after it, so none
        Assert.Equal(1, points[1].GetProperty("passes").GetDouble());  // hour -6
        Assert.Equal(0, points[3].GetProperty("passes").GetDouble());  // hour -4: the gate last spoke within it
        for (var i = 4; i < 8; i++) Assert.Equal(JsonValueKind.Null, points[i].GetProperty("passes").ValueKind);
    }

    [Fact]
    public async Task Charts_are_for_the_control_room_and_refuse_workers_and_bad_questions()
    {
        var community = Scenario.NewId("cc");
        using var admin = await fixture.HttpAsync("admin");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("gate"), "gate", community, "g1");

        foreach (var user in new[] { "admin", "operator", "engineer" })
        {
            using var http = await fixture.HttpAsync(user);
            var (status, _) = await Scenario.SendAsync(http, HttpMethod.Get, $"/api/charts?community={community}");
            Assert.Equal(HttpStatusCode.OK, status);
        }
        // A worker's own community and grid included: the charts mix every grid's gates and lots.
        using var worker = await fixture.HttpAsync("worker1");
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker, HttpMethod.Get, "/api/charts?community=c1")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker, HttpMethod.Get, $"/api/charts?community={community}")).Status);
        using var anonymous = Host.Http();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/charts?community={community}")).StatusCode);

        using var operatorHttp = await fixture.HttpAsync("operator");
        var (missing, problem) = await Scenario.SendAsync(operatorHttp, HttpMethod.Get, "/api/charts");
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.True(problem!.Value.GetProperty("errors").TryGetProperty("community", out _));
        var (tooLong, tooLongProblem) = await Scenario.SendAsync(operatorHttp, HttpMethod.Get, $"/api/charts?community={community}&hours=1000");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong);
        Assert.True(tooLongProblem!.Value.GetProperty("errors").TryGetProperty("hours", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await Scenario.SendAsync(operatorHttp, HttpMethod.Get, "/api/charts?community=no-such-community")).Status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Each_tile_carries_the_time_of_the_newest_data_behind_it()
    {
        var community = Scenario.NewId("cc");
        var (meter, camera, gate, lot) = (Scenario.NewId("wm"), Scenario.NewId("cam"), Scenario.NewId("gate"), Scenario.NewId("lot"));
        using var admin = await fixture.HttpAsync("admin");
        await Scenario.RegisterDeviceAsync(admin, meter, "meter", community, "g1", household: Scenario.NewId("h"));
        await Scenario.RegisterDeviceAsync(admin, camera, "camera", community, "g1");
        await Scenario.RegisterDeviceAsync(admin, gate, "gate", community, "g2");
        await Scenario.RegisterDeviceAsync(admin, lot, "parking", community, "g2");

        var now = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var t = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        Registry.Seen(meter, t.AddMinutes(-14));
        Registry.Seen(camera, t.AddSeconds(-20));
        Registry.Seen(gate, t.AddHours(-3)); // gates quiet for three hours: that tile is stale, the others are not
        await Store.WriteAsync(
            [new Reading(lot, community, "g2", null, Metrics.ParkingFree, t.AddSeconds(-40), 12, "P1"),
             new Reading(lot, community, "g2", null, Metrics.ParkingCapacity, t.AddSeconds(-40), 50, "P1")],
            CancellationToken.None).WaitAsync(Scenario.Timeout);

        using var operatorHttp = await fixture.HttpAsync("operator");
        var before = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var tiles = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={community}");
        var after = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var freshness = tiles.GetProperty("freshness");
        DateTimeOffset AsOf(string tile) => freshness.GetProperty(tile).GetProperty("as_of").GetDateTimeOffset();
        double Period(string tile) => freshness.GetProperty(tile).GetProperty("period_s").GetDouble();

        Assert.Equal(t.AddMinutes(-14), AsOf(TileNames.Households));
        Assert.Equal(900, Period(TileNames.Households));
        Assert.Equal(t.AddSeconds(-20), AsOf(TileNames.Cameras));
        Assert.Equal(t.AddHours(-3), AsOf(TileNames.GatePasses));
        Assert.True(now - AsOf(TileNames.GatePasses) > TimeSpan.FromSeconds(2 * Period(TileNames.GatePasses)), "three hours exceed twice the gates' period");
        Assert.Equal(t.AddSeconds(-40), AsOf(TileNames.Parking));
        Assert.True(now - AsOf(TileNames.Parking) < TimeSpan.FromSeconds(2 * Period(TileNames.Parking)));
        foreach (var tile in new[] { TileNames.OpenAlerts, TileNames.ClosureRate, TileNames.TimeToClose })
        {
            Assert.InRange(AsOf(tile), before, after);
        }
        Assert.InRange(AsOf(TileNames.DeviceHealth), before - DeadLetteringDevices.ScanEvery - TimeSpan.FromSeconds(1), after);
        Assert.Equal(t.AddSeconds(-20), tiles.GetProperty("data_as_of").GetDateTimeOffset());

        // A community with no devices yet has no data behind its device tiles: null, which the page shows as "no data".
        var emptyCommunity = Scenario.NewId("cc");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("cam"), "camera", emptyCommunity, "g1");
        var empty = (await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={emptyCommunity}")).GetProperty("freshness");
        foreach (var tile in new[] { TileNames.Households, TileNames.Cameras, TileNames.GatePasses, TileNames.Parking })
        {
            Assert.Equal(JsonValueKind.Null, empty.GetProperty(tile).GetProperty("as_of").ValueKind);
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Device_health_names_the_devices_whose_messages_were_dead_lettered()
    {
        // A host of its own with no community yet, so no tile has been computed and the dead letters are not scanned
        // until the tiles below ask (scans are at most every ScanEvery, for all communities at once).
        await using var host = await SensingTestHost.StartAsync();
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var community = Scenario.NewId("cc");
        var bad = Scenario.NewId("wm");
        var now = host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        await store.WriteDeadLettersAsync(
            [new DeadLetter($"sensing/{community}/meter/{bad}", "{\"total\":\"lots\"}"u8.ToArray(), 16, now, "meter: field 'total' must be a number", "native"),
             new DeadLetter($"sensing/{community}/meter/{bad}", "{}"u8.ToArray(), 2, now, "meter: field 'type' is missing", "native"),
             new DeadLetter("sensing/another-community/gate/x-1", "{}"u8.ToArray(), 2, now, "gate: field 'event' is missing", "native"),
             new DeadLetter($"sensing/{community}/gate/old-1", "{}"u8.ToArray(), 2, now - TimeSpan.FromHours(2), "gate: field 'event' is missing", "native")],
            CancellationToken.None).WaitAsync(Scenario.Timeout);
        using var admin = host.Http(await host.TokenAsync("admin"));
        await Scenario.RegisterDeviceAsync(admin, bad, "meter", community, "g1", household: Scenario.NewId("h"));

        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        var tiles = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={community}");
        // Two letters of one device count once; another community's device and a letter older than the hour do not count.
        Assert.Equal(1, tiles.GetProperty("deadlettering_devices").GetInt32());
        Assert.Equal([bad], tiles.GetProperty("deadlettering_device_ids").EnumerateArray().Select(e => e.GetString()));
        var scanned = tiles.GetProperty("freshness").GetProperty(TileNames.DeviceHealth).GetProperty("as_of").GetDateTimeOffset();
        Assert.InRange(scanned, now, host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow());
        host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Metrics_say_how_long_the_garbage_collector_paused_the_service()
    {
        // The host runs in this process: a full blocking collection here pauses the service too.
        var before = await Host.MetricAsync("dotnet_gc_pause_seconds_total");
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var after = await Host.MetricAsync("dotnet_gc_pause_seconds_total");
        var last = await Host.MetricAsync("dotnet_gc_last_full_blocking_pause_seconds");

        Assert.True(after > before, $"pause total {before} s before a full collection, {after} s after");
        Assert.InRange(last, double.Epsilon, after);
    }

    [Fact]
    public async Task Metrics_count_the_stores_batches_by_whether_they_were_checked_for_stored_duplicates_and_appended_directly()
    {
        var community = Scenario.NewId("cc");
        var meter = Scenario.NewId("wm");
        // Ahead of anything another test of this host wrote: newer than the file's newest, never seen for this meter.
        var time = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow().AddSeconds(30);
        Reading[] batch = [new Reading(meter, community, "g1", null, Metrics.WaterConsumption, time, 1)];
        var (checkedBefore, uncheckedBefore) = (await BatchesAsync("yes"), await BatchesAsync("no"));
        var directBefore = await Host.MetricAsync("sensing_duckdb_batches_appended_directly_total");

        await Store.WriteAsync(batch, CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal((checkedBefore, uncheckedBefore + 1), (await BatchesAsync("yes"), await BatchesAsync("no")));
        Assert.Equal(directBefore + 1, await Host.MetricAsync("sensing_duckdb_batches_appended_directly_total"));
        await Store.WriteAsync(batch, CancellationToken.None).WaitAsync(Scenario.Timeout); // redelivered
        Assert.Equal((checkedBefore + 1, uncheckedBefore + 1), (await BatchesAsync("yes"), await BatchesAsync("no")));
        Assert.Equal(directBefore + 1, await Host.MetricAsync("sensing_duckdb_batches_appended_directly_total"));

        Task<double> BatchesAsync(string check) => Host.MetricAsync($"sensing_duckdb_batches_total{{duplicate_check=\"{check}\"}}");
    }

    /// <summary>The current UTC hour, waiting out its last half minute so the test and the host agree on it.</summary>
    private async Task<DateTimeOffset> CurrentHourAwayFromItsEndAsync()
    {
        var time = Host.App.Services.GetRequiredService<TimeProvider>();
        var now = time.GetUtcNow();
        var hour = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
        if (hour.AddHours(1) - now < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(hour.AddHours(1) - now + TimeSpan.FromSeconds(1));
            hour = hour.AddHours(1);
        }
        return hour;
    }
}
