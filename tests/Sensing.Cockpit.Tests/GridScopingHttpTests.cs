using System.Net;
using System.Text.Json;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>A grid worker's token sees only its own grids' alerts, devices and readings over HTTP; the control room sees all.</summary>
public sealed class GridScopingHttpTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Fact]
    public async Task Worker_lists_only_alerts_of_its_grid_and_operator_lists_all()
    {
        var mine = await Scenario.RaiseAsync(Host, "c1", "g1");
        var otherGrid = await Scenario.RaiseAsync(Host, "c1", "g2");
        var otherCommunity = await Scenario.RaiseAsync(Host, "c2", "g1");
        var noGrid = await Scenario.RaiseAsync(Host, "c1", grid: null);

        using var worker1 = await fixture.HttpAsync("worker1");
        var seenByWorker = await Scenario.GetJsonAsync(worker1, "/api/alerts");
        Assert.Contains(mine.Id, Scenario.Ids(seenByWorker));
        Assert.DoesNotContain(otherGrid.Id, Scenario.Ids(seenByWorker));
        Assert.DoesNotContain(otherCommunity.Id, Scenario.Ids(seenByWorker));
        Assert.DoesNotContain(noGrid.Id, Scenario.Ids(seenByWorker));
        Assert.All(seenByWorker.EnumerateArray(), a =>
        {
            Assert.Equal("c1", a.GetProperty("community").GetString());
            Assert.Equal("g1", a.GetProperty("grid").GetString());
        });

        // Asking for another grid by filter does not widen the scope.
        var askedForG2 = await Scenario.GetJsonAsync(worker1, "/api/alerts?community=c1&grid=g2");
        Assert.Empty(askedForG2.EnumerateArray());
        var askedForC2 = await Scenario.GetJsonAsync(worker1, "/api/alerts?community=c2");
        Assert.Empty(askedForC2.EnumerateArray());

        using var operatorHttp = await fixture.HttpAsync("operator");
        var seenByOperator = await Scenario.GetJsonAsync(operatorHttp, "/api/alerts");
        Assert.Subset(Scenario.Ids(seenByOperator).ToHashSet(), new HashSet<string> { mine.Id, otherGrid.Id, otherCommunity.Id, noGrid.Id });

        // The contract's fields, as raised.
        var shown = Scenario.Single(seenByOperator, otherCommunity.Id);
        Assert.Equal("water_leak", shown.GetProperty("kind").GetString());
        Assert.Equal("warning", shown.GetProperty("severity").GetString());
        Assert.Equal("c2", shown.GetProperty("community").GetString());
        Assert.Equal("g1", shown.GetProperty("grid").GetString());
        Assert.Equal(otherCommunity.Device, shown.GetProperty("device").GetString());
        Assert.Equal(otherCommunity.StartedAt, shown.GetProperty("started_at").GetDateTimeOffset());
        Assert.Equal(otherCommunity.RaisedAt, shown.GetProperty("raised_at").GetDateTimeOffset());
        Assert.Equal("open", shown.GetProperty("status").GetString());
        Assert.Equal(2.5, shown.GetProperty("evidence").GetProperty("points")[0].GetProperty("observed").GetDouble());
        Assert.True(shown.TryGetProperty("household", out _));
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Alert_filters_status_community_grid_and_since_work()
    {
        // Raised in the future (event time runs ahead of the wall clock in a replay): 'since' can then isolate these.
        var t0 = DateTimeOffset.UtcNow + TimeSpan.FromDays(30 + Random.Shared.Next(1000));
        var early = await Scenario.RaiseAsync(Host, "c1", "g1", raisedAt: t0);
        var late = await Scenario.RaiseAsync(Host, "c1", "g1", raisedAt: t0 + TimeSpan.FromHours(2));
        var lateOtherGrid = await Scenario.RaiseAsync(Host, "c1", "g2", raisedAt: t0 + TimeSpan.FromHours(3));
        var lateOtherCommunity = await Scenario.RaiseAsync(Host, "c2", "g1", raisedAt: t0 + TimeSpan.FromHours(4));
        using (var worker1 = await fixture.HttpAsync("worker1"))
        {
            Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{late.Id}/ack")).Status);
        }

        using var http = await fixture.HttpAsync("operator");
        var since = Uri.EscapeDataString(Scenario.Iso(t0 + TimeSpan.FromHours(1)));

        var all = await Scenario.GetJsonAsync(http, $"/api/alerts?since={since}");
        Assert.Equal([lateOtherCommunity.Id, lateOtherGrid.Id, late.Id], Scenario.Ids(all).Where(id => id == late.Id || id == lateOtherGrid.Id || id == lateOtherCommunity.Id || id == early.Id));
        Assert.All(all.EnumerateArray(), a => Assert.True(a.GetProperty("raised_at").GetDateTimeOffset() >= t0 + TimeSpan.FromHours(1)));

        var sinceInclusive = await Scenario.GetJsonAsync(http, $"/api/alerts?since={Uri.EscapeDataString(Scenario.Iso(t0))}&community=c1&grid=g1");
        Assert.Equal([late.Id, early.Id], Scenario.Ids(sinceInclusive));

        var inC1 = await Scenario.GetJsonAsync(http, $"/api/alerts?since={since}&community=c1");
        Assert.Equal([lateOtherGrid.Id, late.Id], Scenario.Ids(inC1));

        var inC1G2 = await Scenario.GetJsonAsync(http, $"/api/alerts?since={since}&community=c1&grid=g2");
        Assert.Equal([lateOtherGrid.Id], Scenario.Ids(inC1G2));

        var acknowledged = await Scenario.GetJsonAsync(http, $"/api/alerts?since={since}&status=acknowledged");
        Assert.Equal([late.Id], Scenario.Ids(acknowledged));
        var open = await Scenario.GetJsonAsync(http, $"/api/alerts?since={Uri.EscapeDataString(Scenario.Iso(t0))}&status=open");
        Assert.Equal([lateOtherCommunity.Id, lateOtherGrid.Id, early.Id], Scenario.Ids(open));
        Assert.All(open.EnumerateArray(), a => Assert.Equal("open", a.GetProperty("status").GetString()));

        var (badStatus, problem) = await Scenario.SendAsync(http, HttpMethod.Get, "/api/alerts?status=closed");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.True(problem!.Value.GetProperty("errors").TryGetProperty("status", out _));
        var (badSince, _) = await Scenario.SendAsync(http, HttpMethod.Get, "/api/alerts?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badSince);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Worker_lists_only_devices_of_its_grid()
    {
        var ids = new Dictionary<string, (string Community, string? Grid)>
        {
            [Scenario.NewId("cam")] = ("c1", "g1"),
            [Scenario.NewId("wm")] = ("c1", "g1"),
            [Scenario.NewId("gate")] = ("c1", "g2"),
            // Another community than c2, whose cameras the tiles test counts.
            [Scenario.NewId("cam")] = ("c3", "g1"),
            [Scenario.NewId("lot")] = ("c1", null),
        };
        using (var admin = await fixture.HttpAsync("admin"))
        {
            foreach (var (id, (community, grid)) in ids)
            {
                var kind = id.StartsWith("cam", StringComparison.Ordinal) ? "camera" : id.StartsWith("wm", StringComparison.Ordinal) ? "meter" : id.StartsWith("gate", StringComparison.Ordinal) ? "gate" : "parking";
                await Scenario.RegisterDeviceAsync(admin, id, kind, community, grid);
            }
        }

        using var worker1 = await fixture.HttpAsync("worker1");
        var seen = await Scenario.GetJsonAsync(worker1, "/api/devices");
        var mine = ids.Where(d => d.Value == ("c1", "g1")).Select(d => d.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(mine, seen.EnumerateArray().Select(d => d.GetProperty("id").GetString()!).Where(ids.ContainsKey).ToList());
        Assert.All(seen.EnumerateArray(), d =>
        {
            Assert.Equal("c1", d.GetProperty("community").GetString());
            Assert.Equal("g1", d.GetProperty("grid").GetString());
        });
        var camera = Assert.Single(seen.EnumerateArray(), d => d.GetProperty("id").GetString() == mine.First(m => m.StartsWith("cam", StringComparison.Ordinal)));
        Assert.Equal("camera", camera.GetProperty("kind").GetString());
        Assert.Equal("never_seen", camera.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, camera.GetProperty("last_seen").ValueKind);
        Assert.Empty((await Scenario.GetJsonAsync(worker1, "/api/devices?community=c3")).EnumerateArray());

        using var operatorHttp = await fixture.HttpAsync("operator");
        var all = await Scenario.GetJsonAsync(operatorHttp, "/api/devices");
        Assert.Subset(all.EnumerateArray().Select(d => d.GetProperty("id").GetString()!).ToHashSet(), ids.Keys.ToHashSet());
        var unassigned = Assert.Single(all.EnumerateArray(), d => d.GetProperty("id").GetString() == ids.Single(d => d.Value.Grid is null).Key);
        Assert.Equal("unassigned", unassigned.GetProperty("status").GetString());
        var inC3 = await Scenario.GetJsonAsync(operatorHttp, "/api/devices?community=c3");
        Assert.Equal([ids.Single(d => d.Value.Community == "c3").Key], inC3.EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Worker_may_not_read_another_grids_device_or_a_whole_community()
    {
        var mine = Scenario.NewId("wm");
        var theirs = Scenario.NewId("wm");
        using (var admin = await fixture.HttpAsync("admin"))
        {
            await Scenario.RegisterDeviceAsync(admin, mine, "meter", "c1", "g1");
            await Scenario.RegisterDeviceAsync(admin, theirs, "meter", "c1", "g2");
        }

        using var worker1 = await fixture.HttpAsync("worker1");
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1, HttpMethod.Get, $"/api/readings?device={mine}&metric=water.consumption")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker1, HttpMethod.Get, $"/api/readings?device={theirs}&metric=water.consumption")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker1, HttpMethod.Get, "/api/readings?community=c1&metric=gate.pass")).Status);

        using var operatorHttp = await fixture.HttpAsync("operator");
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(operatorHttp, HttpMethod.Get, $"/api/readings?device={theirs}&metric=water.consumption")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(operatorHttp, HttpMethod.Get, "/api/readings?community=c1&metric=gate.pass&every=1h&agg=count")).Status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Tiles_of_another_community_are_forbidden_to_a_worker_and_complete_for_an_operator()
    {
        // A small community of its own, fed over MQTT: a camera that is online, a gate pass, a parking lot, a monitored household.
        var camera = Scenario.NewId("cam");
        var gate = Scenario.NewId("gate");
        var lot = Scenario.NewId("lot");
        var meter = Scenario.NewId("wm");
        var household = Scenario.NewId("h");
        using (var admin = await fixture.HttpAsync("admin"))
        {
            await Scenario.RegisterHouseholdAsync(admin, household, "c2", "g1");
            await Scenario.RegisterDeviceAsync(admin, camera, "camera", "c2", "g1");
            await Scenario.RegisterDeviceAsync(admin, gate, "gate", "c2", "g1");
            await Scenario.RegisterDeviceAsync(admin, lot, "parking", "c2", "g1");
            await Scenario.RegisterDeviceAsync(admin, meter, "meter", "c2", "g1", household);
        }
        var alert = await Scenario.RaiseAsync(Host, "c2", "g1");
        using (var device = await Host.ConnectDeviceAsync(Scenario.NewId("tiles")))
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await SensingTestHost.PublishAsync(device, $"sensing/c2/camera/{camera}", $$"""{"ts":{{now}},"event":"online"}""");
            await SensingTestHost.PublishAsync(device, $"sensing/c2/gate/{gate}", $$"""{"ts":{{now}},"event":"pass","direction":"in","credential":"face"}""");
            await SensingTestHost.PublishAsync(device, $"sensing/c2/parking/{lot}", $$"""{"ts":{{now}},"lot":"P1","free":12,"capacity":200}""");
        }

        using var worker1 = await fixture.HttpAsync("worker1");
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker1, HttpMethod.Get, "/api/tiles?community=c2")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1, HttpMethod.Get, "/api/tiles?community=c1")).Status);

        using var operatorHttp = await fixture.HttpAsync("operator");
        Assert.Equal(HttpStatusCode.BadRequest, (await Scenario.SendAsync(operatorHttp, HttpMethod.Get, "/api/tiles")).Status);
        var tiles = await SensingTestHost.EventuallyAsync(async () =>
        {
            var t = await Scenario.GetJsonAsync(operatorHttp, "/api/tiles?community=c2");
            return t.GetProperty("parking_capacity").GetDouble() > 0 && t.GetProperty("gate_passes_today").GetDouble() > 0 && t.GetProperty("cameras_online").GetInt32() > 0
                ? new[] { t } : null;
        }, Scenario.Timeout, "the c2 tiles to show the published readings");
        var figures = tiles[0];
        Assert.Equal("c2", figures.GetProperty("community").GetString());
        Assert.Equal(1, figures.GetProperty("cameras_online").GetInt32());
        Assert.Equal(1, figures.GetProperty("cameras_total").GetInt32());
        Assert.Equal(1, figures.GetProperty("gate_passes_today").GetDouble());
        Assert.Equal(12, figures.GetProperty("parking_free").GetDouble());
        Assert.Equal(200, figures.GetProperty("parking_capacity").GetDouble());
        Assert.Equal(1, figures.GetProperty("households_monitored").GetInt32());

        // Open alerts and closure rate agree with the alert list of the same community.
        var c2Alerts = (await Scenario.GetJsonAsync(operatorHttp, "/api/alerts?community=c2")).EnumerateArray().ToList();
        Assert.Contains(c2Alerts, a => a.GetProperty("id").GetString() == alert.Id);
        var openCount = c2Alerts.Count(a => a.GetProperty("status").GetString() != "resolved");
        Assert.Equal(openCount, figures.GetProperty("open_alerts").GetInt32());
        var resolvedCount = c2Alerts.Count - openCount;
        Assert.Equal((double)resolvedCount / c2Alerts.Count, figures.GetProperty("closure_rate").GetDouble(), 6);
        Host.AssertNoLoggedErrors();
    }
}
