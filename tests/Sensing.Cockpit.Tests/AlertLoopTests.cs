using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The grid workers' closed loop on a real host whose alert book runs on a fake clock: acknowledge, on the way,
/// resolve with a note; deadlines and both escalation steps; the audit trail; grid leaders.
/// </summary>
public sealed class AlertLoopTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Fact]
    public async Task On_the_way_then_resolve_records_who_and_when_and_the_audit_trail()
    {
        var raisedAt = fixture.Clock.GetUtcNow();
        var alert = await fixture.RaiseAsync("c1", "g1", AlertSeverity.Critical);
        Assert.Equal(raisedAt, alert.ReceivedAt);
        Assert.Equal(raisedAt + TimeSpan.FromMinutes(10), alert.RespondBy); // the critical default
        using var worker1 = await fixture.HttpAsync("worker1");

        fixture.Clock.Advance(TimeSpan.FromMinutes(3));
        var (status, way) = await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/on-the-way");
        Assert.Equal(HttpStatusCode.OK, status);
        var onTheWay = way!.Value;
        Assert.Equal("on_the_way", onTheWay.GetProperty("status").GetString());
        // Going without acknowledging first acknowledges too, at the same moment.
        Assert.Equal(raisedAt + TimeSpan.FromMinutes(3), onTheWay.GetProperty("acknowledged_at").GetDateTimeOffset());
        Assert.Equal("worker1", onTheWay.GetProperty("acknowledged_by").GetString());
        Assert.Equal(raisedAt + TimeSpan.FromMinutes(3), onTheWay.GetProperty("on_the_way_at").GetDateTimeOffset());
        Assert.Equal("worker1", onTheWay.GetProperty("on_the_way_by").GetString());
        Assert.Equal(JsonValueKind.Null, onTheWay.GetProperty("respond_by").ValueKind);
        Assert.Equal(HttpStatusCode.Conflict, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/on-the-way")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/ack")).Status);
        Assert.Equal("on_the_way", Scenario.Single(await Scenario.GetJsonAsync(worker1, "/api/alerts?status=on_the_way"), alert.Id).GetProperty("status").GetString());

        // Acknowledged in time: the deadline passing later changes nothing.
        fixture.Clock.Advance(TimeSpan.FromMinutes(20));
        await fixture.Book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal(AlertStatus.OnTheWay, fixture.Book.Find(alert.Id)!.Status);
        Assert.Null(fixture.Book.Find(alert.Id)!.Escalation);

        var (resolveStatus, resolvedBody) = await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/resolve", new { note = "阀门已关 valve closed" });
        Assert.Equal(HttpStatusCode.OK, resolveStatus);
        var resolved = resolvedBody!.Value;
        Assert.Equal("resolved", resolved.GetProperty("status").GetString());
        Assert.Equal(raisedAt + TimeSpan.FromMinutes(23), resolved.GetProperty("resolved_at").GetDateTimeOffset());
        Assert.Equal("worker1", resolved.GetProperty("resolved_by").GetString());
        Assert.Equal("阀门已关 valve closed", resolved.GetProperty("note").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/on-the-way")).Status);

        var actions = (await Scenario.GetJsonAsync(worker1, $"/api/alerts/{alert.Id}/actions")).EnumerateArray().ToList();
        Assert.Equal(["raised", "acknowledged", "on_the_way", "resolved"], actions.Select(a => a.GetProperty("action").GetString()));
        Assert.Equal([raisedAt, raisedAt.AddMinutes(3), raisedAt.AddMinutes(3), raisedAt.AddMinutes(23)], actions.Select(a => a.GetProperty("at").GetDateTimeOffset()));
        Assert.Equal(["system", "worker1", "worker1", "worker1"], actions.Select(a => a.GetProperty("by").GetString()));
        Assert.Equal(["system", "worker", "worker", "worker"], actions.Select(a => a.GetProperty("role").GetString()));
        Assert.Equal("阀门已关 valve closed", actions[3].GetProperty("note").GetString());
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Unacknowledged_alert_escalates_to_the_grid_leader_then_to_the_control_room()
    {
        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        await using var worker2 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker2"));
        await using var leader = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("leader1"));
        await using var wall = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        await wall.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
        var toWorker1 = Scenario.Listen(worker1, "alertUpdated");
        var toWorker2 = Scenario.Listen(worker2, "alertUpdated");
        var toLeader = Scenario.Listen(leader, "escalated");
        var leaderNews = Scenario.Listen(leader, "alert");
        var toWall = Scenario.Listen(wall, "alertUpdated");

        var receivedAt = fixture.Clock.GetUtcNow();
        var alert = await fixture.RaiseAsync("c1", "g1"); // a warning: 30 minutes, then 30 more for the leader
        Assert.Equal(receivedAt + TimeSpan.FromMinutes(30), alert.RespondBy);
        // The leader of g1 is not one of its workers: they hear of its alerts only when one escalates.
        await Scenario.AssertNoneAboutAsync(leaderNews, alert.Id, "the grid leader, before any escalation");

        fixture.Clock.Advance(TimeSpan.FromMinutes(29));
        await fixture.Book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal(AlertStatus.Open, fixture.Book.Find(alert.Id)!.Status);
        Assert.Null(fixture.Book.Find(alert.Id)!.Escalation);

        // First deadline: the grid leader.
        fixture.Clock.Advance(TimeSpan.FromMinutes(1));
        var toLeaderPush = await Scenario.NextAboutAsync(toLeader, alert.Id, "the grid leader's escalation");
        Assert.Equal("escalated", toLeaderPush.GetProperty("status").GetString());
        Assert.Equal("grid_leader", toLeaderPush.GetProperty("escalation").GetString());
        var escalatedAt = toLeaderPush.GetProperty("escalated_at").GetDateTimeOffset();
        Assert.InRange(escalatedAt, receivedAt + TimeSpan.FromMinutes(30), receivedAt + TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(5));
        Assert.Equal(escalatedAt + TimeSpan.FromMinutes(30), toLeaderPush.GetProperty("respond_by").GetDateTimeOffset());
        Assert.Equal("grid_leader", (await Scenario.NextAboutAsync(toWorker1, alert.Id, "worker1's update")).GetProperty("escalation").GetString());
        Assert.Equal("grid_leader", (await Scenario.NextAboutAsync(toWall, alert.Id, "the wall's update")).GetProperty("escalation").GetString());
        await Scenario.AssertNoneAboutAsync(toWorker2, alert.Id, "worker2 (grid g2)");

        // Second deadline: the control room.
        fixture.Clock.Advance(TimeSpan.FromMinutes(31));
        var onWall = await Scenario.NextAboutAsync(toWall, alert.Id, "the wall's control-room escalation");
        Assert.Equal("escalated", onWall.GetProperty("status").GetString());
        Assert.Equal("control_room", onWall.GetProperty("escalation").GetString());
        Assert.Equal(JsonValueKind.Null, onWall.GetProperty("respond_by").ValueKind);
        Assert.Equal("control_room", (await Scenario.NextAboutAsync(toLeader, alert.Id, "the leader hears it went on")).GetProperty("escalation").GetString());
        using var operatorHttp = await fixture.HttpAsync("operator");
        Assert.Contains(alert.Id, Scenario.Ids(await Scenario.GetJsonAsync(operatorHttp, "/api/alerts?status=escalated&community=c1")));

        // The leader answers it; nothing escalates any more.
        using var leaderHttp = await fixture.HttpAsync("leader1");
        var (ackStatus, ack) = await Scenario.SendAsync(leaderHttp, HttpMethod.Post, $"/api/alerts/{alert.Id}/ack");
        Assert.Equal(HttpStatusCode.OK, ackStatus);
        Assert.Equal("acknowledged", ack!.Value.GetProperty("status").GetString());
        Assert.Equal("control_room", ack.Value.GetProperty("escalation").GetString()); // the history stays
        Assert.Equal("leader1", ack.Value.GetProperty("acknowledged_by").GetString());
        Assert.Equal("acknowledged", (await Scenario.NextAboutAsync(toWall, alert.Id, "the wall sees it taken")).GetProperty("status").GetString());
        fixture.Clock.Advance(TimeSpan.FromHours(3));
        await fixture.Book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal(AlertStatus.Acknowledged, fixture.Book.Find(alert.Id)!.Status);

        var actions = (await Scenario.GetJsonAsync(operatorHttp, $"/api/alerts/{alert.Id}/actions")).EnumerateArray().ToList();
        Assert.Equal(["raised", "escalated", "escalated", "acknowledged"], actions.Select(a => a.GetProperty("action").GetString()));
        Assert.Equal([null, "grid_leader", "control_room", null], actions.Select(a => a.GetProperty("to").GetString()));
        Assert.Contains("leader1", actions[1].GetProperty("note").GetString(), StringComparison.Ordinal);
        Assert.Equal(["system", "system", "system", "leader1"], actions.Select(a => a.GetProperty("by").GetString()));
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task A_grid_without_a_leader_escalates_straight_to_the_control_room()
    {
        var alert = await fixture.RaiseAsync("c1", "g2");
        var noGrid = await fixture.RaiseAsync("c1", null);

        fixture.Clock.Advance(TimeSpan.FromMinutes(30));
        await SensingTestHost.EventuallyAsync(() => Task.FromResult(fixture.Book.Find(alert.Id)!.Escalation is not null && fixture.Book.Find(noGrid.Id)!.Escalation is not null ? "" : null),
            Scenario.Timeout, "both alerts to escalate");

        Assert.Equal(AlertEscalations.ControlRoom, fixture.Book.Find(alert.Id)!.Escalation);
        Assert.Equal(AlertEscalations.ControlRoom, fixture.Book.Find(noGrid.Id)!.Escalation);
        Assert.Contains("has no leader", fixture.Book.Find(alert.Id)!.Actions![^1].Note, StringComparison.Ordinal);
        Assert.Contains("no grid", fixture.Book.Find(noGrid.Id)!.Actions![^1].Note, StringComparison.Ordinal);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Deadlines_follow_severity_and_a_kinds_own_setting()
    {
        var now = fixture.Clock.GetUtcNow();
        Assert.Equal(now + TimeSpan.FromMinutes(10), (await fixture.RaiseAsync("c1", "g1", AlertSeverity.Critical)).RespondBy);
        Assert.Equal(now + TimeSpan.FromMinutes(30), (await fixture.RaiseAsync("c1", "g1", AlertSeverity.Warning)).RespondBy);
        Assert.Equal(now + TimeSpan.FromHours(2), (await fixture.RaiseAsync("c1", "g1", AlertSeverity.Info)).RespondBy);
        // Alerts:Deadlines:Kinds:gate_forced:Acknowledge:Warning = 5 minutes; its other severities keep the defaults.
        var forced = await fixture.RaiseAsync("c1", "g2", AlertSeverity.Warning, AlertKinds.GateForced);
        Assert.Equal(now + TimeSpan.FromMinutes(5), forced.RespondBy);
        Assert.Equal(now + TimeSpan.FromMinutes(10), (await fixture.RaiseAsync("c1", "g2", AlertSeverity.Critical, AlertKinds.GateForced)).RespondBy);

        fixture.Clock.Advance(TimeSpan.FromMinutes(5));
        await SensingTestHost.EventuallyAsync(() => Task.FromResult(fixture.Book.Find(forced.Id)!.Escalation), Scenario.Timeout, "the gate_forced alert to escalate at 5 minutes");
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Only_the_first_alert_of_an_incident_carries_a_deadline()
    {
        var household = Scenario.NewId("h");
        var started = DateTimeOffset.UtcNow - TimeSpan.FromHours(1);
        Alert Make(string kind) => new()
        {
            Id = Alert.MakeId(kind, household, started),
            Kind = kind,
            Severity = AlertSeverity.Warning,
            Community = "c1",
            Grid = "g1",
            Household = household,
            StartedAt = started,
            RaisedAt = started + TimeSpan.FromMinutes(10),
            Evidence = new AlertEvidence("test", []),
        };
        IAlertSink sink = fixture.Book;
        var first = Make(AlertKinds.LivingAloneDrop);
        var second = Make(AlertKinds.DeviceSilent);
        await sink.RaiseAsync(first, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
        await sink.RaiseAsync(second, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);

        Assert.NotNull(fixture.Book.Find(first.Id)!.RespondBy);
        var update = fixture.Book.Find(second.Id)!;
        Assert.Equal(first.Id, update.Incident);
        Assert.Null(update.RespondBy);
        Assert.Contains(first.Id, update.Actions![0].Note, StringComparison.Ordinal);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Worker_hub_on_the_way_and_catch_up_are_scoped_to_the_callers_grids()
    {
        var mine = await fixture.RaiseAsync("c1", "g1");
        var theirs = await fixture.RaiseAsync("c1", "g2");
        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        await using var leader = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("leader1"));

        var gone = await worker1.InvokeAsync<JsonElement>("OnTheWay", mine.Id).WaitAsync(Scenario.Timeout);
        Assert.Equal("on_the_way", gone.GetProperty("status").GetString());
        var refused = await Assert.ThrowsAsync<HubException>(() => worker1.InvokeAsync<JsonElement>("OnTheWay", theirs.Id).WaitAsync(Scenario.Timeout));
        Assert.Contains("not in your grids", refused.Message, StringComparison.Ordinal);
        Assert.Equal(AlertStatus.Open, fixture.Book.Find(theirs.Id)!.Status);
        await Assert.ThrowsAsync<HubException>(() => worker1.InvokeAsync<JsonElement>("OnTheWay", "a-nosuchalert").WaitAsync(Scenario.Timeout));

        // Catch-up: worker1 and g1's leader get g1's changes, never g2's.
        var sinceMine = mine.Sequence - 1;
        var caughtUp = await worker1.InvokeAsync<JsonElement>("AlertsSince", sinceMine).WaitAsync(Scenario.Timeout);
        Assert.Contains(mine.Id, Scenario.Ids(caughtUp));
        Assert.DoesNotContain(theirs.Id, Scenario.Ids(caughtUp));
        var leaderCaughtUp = await leader.InvokeAsync<JsonElement>("AlertsSince", sinceMine).WaitAsync(Scenario.Timeout);
        Assert.Contains(mine.Id, Scenario.Ids(leaderCaughtUp));
        Assert.DoesNotContain(theirs.Id, Scenario.Ids(leaderCaughtUp));
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task New_endpoints_are_scoped_to_the_callers_grids_and_roles()
    {
        var g1 = await fixture.RaiseAsync("c1", "g1");
        using var worker2 = await fixture.HttpAsync("worker2");
        using var leader = await fixture.HttpAsync("leader1");
        using var engineer = await fixture.HttpAsync("engineer");

        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker2, HttpMethod.Post, $"/api/alerts/{g1.Id}/on-the-way")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker2, HttpMethod.Get, $"/api/alerts/{g1.Id}/actions")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Scenario.SendAsync(worker2, HttpMethod.Get, "/api/alerts/a-nosuchalert/actions")).Status);
        // Engineers look, they do not answer alerts.
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(engineer, HttpMethod.Post, $"/api/alerts/{g1.Id}/on-the-way")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(engineer, HttpMethod.Get, $"/api/alerts/{g1.Id}/actions")).Status);
        // The leader of g1 sees g1's alerts and its trail, and not g2's.
        Assert.Contains(g1.Id, Scenario.Ids(await Scenario.GetJsonAsync(leader, "/api/alerts")));
        Assert.All((await Scenario.GetJsonAsync(leader, "/api/alerts")).EnumerateArray(), a => Assert.Equal("g1", a.GetProperty("grid").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(leader, HttpMethod.Get, $"/api/alerts/{g1.Id}/actions")).Status);

        // Closure: a worker's own grids only; another community is refused.
        var closure = await Scenario.GetJsonAsync(worker2, "/api/alerts/closure");
        Assert.Equal("c1", closure.GetProperty("community").GetString());
        Assert.All(closure.GetProperty("grids").EnumerateArray(), g => Assert.Equal("g2", g.GetProperty("grid").GetString()));
        Assert.Equal(0, (await Scenario.GetJsonAsync(worker2, "/api/alerts/closure?grid=g1")).GetProperty("total").GetProperty("raised").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(worker2, HttpMethod.Get, "/api/alerts/closure?community=c2")).Status);
        var tiles = await Scenario.GetJsonAsync(worker2, "/api/tiles?community=c1");
        Assert.All(tiles.GetProperty("closure").GetProperty("grids").EnumerateArray(), g => Assert.Equal("g2", g.GetProperty("grid").GetString()));
        using var operatorHttp = await fixture.HttpAsync("operator");
        Assert.Equal(HttpStatusCode.BadRequest, (await Scenario.SendAsync(operatorHttp, HttpMethod.Get, "/api/alerts/closure")).Status);

        var token = (await Scenario.SendAsync(Host.Http(), HttpMethod.Post, "/api/auth/token", new { username = "leader1", password = SensingTestHost.Password })).Body!.Value;
        Assert.Equal(["g1"], token.GetProperty("leads").EnumerateArray().Select(g => g.GetString()));
        Assert.Empty(token.GetProperty("grids").EnumerateArray());
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Closure_figures_per_grid_match_hand_computed_values()
    {
        var community = Scenario.NewId("cq");
        foreach (var grid in new[] { "gA", "gB", "gC" }) fixture.AddGrid(community, grid);
        using var operatorHttp = await fixture.HttpAsync("operator");
        async Task Act(Alert alert, string action, object? body = null) =>
            Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/{alert.Id}/{action}", body)).Status);

        var t0 = fixture.Clock.GetUtcNow();
        var a1 = await fixture.RaiseAsync(community, "gA");
        var a2 = await fixture.RaiseAsync(community, "gA");
        var a3 = await fixture.RaiseAsync(community, "gA");
        var b1 = await fixture.RaiseAsync(community, "gB");
        fixture.Clock.Advance(TimeSpan.FromSeconds(60));
        await Act(a1, "ack");                                   // a1 acknowledged after 60 s
        fixture.Clock.Advance(TimeSpan.FromSeconds(60));
        await Act(a2, "on-the-way");                            // a2 acknowledged (on the way) after 120 s
        fixture.Clock.Advance(TimeSpan.FromSeconds(180));
        await Act(a1, "resolve", new { note = "fixed" });       // a1 resolved after 300 s
        fixture.Clock.Advance(TimeSpan.FromSeconds(300));
        await Act(b1, "resolve", new { note = "false alarm" }); // b1 resolved after 600 s, never acknowledged
        await Act(a3, "ack");                                   // a3 acknowledged after 600 s
        var b2 = await fixture.RaiseAsync(community, "gB");     // received at t0 + 600 s
        fixture.Clock.Advance(TimeSpan.FromMinutes(31));        // b2 passes its 30 minutes; gB has no leader
        await SensingTestHost.EventuallyAsync(() => Task.FromResult(fixture.Book.Find(b2.Id)!.Escalation), Scenario.Timeout, "b2 to escalate");

        var report = await Scenario.GetJsonAsync(operatorHttp, $"/api/alerts/closure?community={community}");
        Assert.Equal(community, report.GetProperty("community").GetString());
        var grids = report.GetProperty("grids").EnumerateArray().ToList();
        Assert.Equal(["gA", "gB", "gC"], grids.Select(g => g.GetProperty("grid").GetString()));
        //                       raised ack resolved open escalated rate   ack mean/median  resolve mean/median
        AssertFigures(grids[0], 3, 3, 1, 2, 0, 1.0 / 3, 260, 120, 300, 300);
        AssertFigures(grids[1], 2, 0, 1, 1, 1, 0.5, null, null, 600, 600);
        AssertFigures(grids[2], 0, 0, 0, 0, 0, null, null, null, null, null);
        var total = report.GetProperty("total");
        Assert.False(total.TryGetProperty("grid", out _));
        AssertFigures(total, 5, 3, 2, 3, 1, 0.4, 260, 120, 450, 450);

        // Since t0 + 1 s: the alerts resolved before are left out, the unresolved ones are counted whatever their age.
        var since = t0 + TimeSpan.FromSeconds(1);
        var recent = await Scenario.GetJsonAsync(operatorHttp, $"/api/alerts/closure?community={community}&since={Scenario.Iso(since)}");
        Assert.Equal(since, recent.GetProperty("since").GetDateTimeOffset());
        var recentGrids = recent.GetProperty("grids").EnumerateArray().ToList();
        AssertFigures(recentGrids[0], 2, 2, 0, 2, 0, 0, 360, 360, null, null);
        AssertFigures(recentGrids[1], 1, 0, 0, 1, 1, 0, null, null, null, null);
        AssertFigures(recent.GetProperty("total"), 3, 2, 0, 3, 1, 0, 360, 360, null, null);
        var onlyA = await Scenario.GetJsonAsync(operatorHttp, $"/api/alerts/closure?community={community}&grid=gA");
        Assert.Equal(["gA"], onlyA.GetProperty("grids").EnumerateArray().Select(g => g.GetProperty("grid").GetString()));
        AssertFigures(onlyA.GetProperty("total"), 3, 3, 1, 2, 0, 1.0 / 3, 260, 120, 300, 300);

        // The tiles carry the same object, and their closure rate is its total's.
        var tiles = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={community}");
        Assert.Equal(0.4, tiles.GetProperty("closure_rate").GetDouble(), 9);
        Assert.Equal(3, tiles.GetProperty("open_alerts").GetInt32());
        AssertFigures(tiles.GetProperty("closure").GetProperty("total"), 5, 3, 2, 3, 1, 0.4, 260, 120, 450, 450);
        Assert.Equal(3, tiles.GetProperty("closure").GetProperty("grids").GetArrayLength());
        Host.AssertNoLoggedErrors();
    }

    private static void AssertFigures(JsonElement figures, int raised, int acknowledged, int resolved, int open, int escalated, double? rate,
        double? ackMean, double? ackMedian, double? resolveMean, double? resolveMedian)
    {
        Assert.Equal(raised, figures.GetProperty("raised").GetInt32());
        Assert.Equal(acknowledged, figures.GetProperty("acknowledged").GetInt32());
        Assert.Equal(resolved, figures.GetProperty("resolved").GetInt32());
        Assert.Equal(open, figures.GetProperty("open").GetInt32());
        Assert.Equal(escalated, figures.GetProperty("escalated").GetInt32());
        AssertNumber(rate, figures, "closure_rate");
        AssertNumber(ackMean, figures, "mean_time_to_acknowledge_s");
        AssertNumber(ackMedian, figures, "median_time_to_acknowledge_s");
        AssertNumber(resolveMean, figures, "mean_time_to_resolve_s");
        AssertNumber(resolveMedian, figures, "median_time_to_resolve_s");
    }

    private static void AssertNumber(double? expected, JsonElement figures, string name)
    {
        var value = figures.GetProperty(name);
        if (expected is null) Assert.True(value.ValueKind == JsonValueKind.Null, $"{name} should be null: {figures}");
        else Assert.True(value.ValueKind == JsonValueKind.Number && Math.Abs(value.GetDouble() - expected.Value) < 1e-6, $"{name} should be {expected}: {figures}");
    }
}
