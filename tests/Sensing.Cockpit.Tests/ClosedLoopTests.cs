using System.Net;
using System.Text.Json;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>The closed loop over HTTP: an alert is acknowledged, then resolved, and the wall's closure rate shows it.</summary>
public sealed class ClosedLoopTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Fact]
    public async Task Worker_acknowledges_then_resolves_and_closure_rate_goes_up()
    {
        var alert = await Scenario.RaiseAsync(Host, "c1", "g1");
        await Scenario.RaiseAsync(Host, "c1", "g2"); // stays open: the rate is a share, not a count
        using var worker1 = await fixture.HttpAsync("worker1");
        using var operatorHttp = await fixture.HttpAsync("operator");
        var before = await Scenario.GetJsonAsync(operatorHttp, "/api/tiles?community=c1");
        var rateBefore = before.GetProperty("closure_rate").GetDouble();
        var openBefore = before.GetProperty("open_alerts").GetInt32();

        var (ackStatus, ack) = await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/ack");
        Assert.Equal(HttpStatusCode.OK, ackStatus);
        Assert.Equal("acknowledged", ack!.Value.GetProperty("status").GetString());
        Assert.Equal("worker1", ack.Value.GetProperty("updated_by").GetString());
        Assert.Equal("acknowledged", Scenario.Single(await Scenario.GetJsonAsync(worker1, "/api/alerts"), alert.Id).GetProperty("status").GetString());
        // Acknowledged is still open work.
        Assert.Equal(openBefore, (await Scenario.GetJsonAsync(operatorHttp, "/api/tiles?community=c1")).GetProperty("open_alerts").GetInt32());
        var (ackAgain, _) = await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/ack");
        Assert.Equal(HttpStatusCode.Conflict, ackAgain);

        var (resolveStatus, resolved) = await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/resolve", new { note = "pipe fixed" });
        Assert.Equal(HttpStatusCode.OK, resolveStatus);
        Assert.Equal("resolved", resolved!.Value.GetProperty("status").GetString());
        Assert.Equal("pipe fixed", resolved.Value.GetProperty("note").GetString());
        Assert.Equal("worker1", resolved.Value.GetProperty("updated_by").GetString());
        Assert.True(resolved.Value.GetProperty("sequence").GetInt64() > ack.Value.GetProperty("sequence").GetInt64());
        var listed = Scenario.Single(await Scenario.GetJsonAsync(operatorHttp, "/api/alerts?status=resolved&community=c1"), alert.Id);
        Assert.Equal("pipe fixed", listed.GetProperty("note").GetString());

        var (resolveAgain, conflict) = await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/resolve", new { note = "again" });
        Assert.Equal(HttpStatusCode.Conflict, resolveAgain);
        Assert.Contains("already resolved", conflict!.Value.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var (ackResolved, _) = await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/{alert.Id}/ack");
        Assert.Equal(HttpStatusCode.Conflict, ackResolved);

        var after = await Scenario.GetJsonAsync(operatorHttp, "/api/tiles?community=c1");
        Assert.True(after.GetProperty("closure_rate").GetDouble() > rateBefore, $"closure rate {rateBefore} → {after.GetProperty("closure_rate")}");
        Assert.Equal(openBefore - 1, after.GetProperty("open_alerts").GetInt32());
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Resolve_without_a_body_is_allowed_and_straight_from_open()
    {
        var alert = await Scenario.RaiseAsync(Host, "c1", "g1");
        using var operatorHttp = await fixture.HttpAsync("operator");

        var (status, resolved) = await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/{alert.Id}/resolve");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("resolved", resolved!.Value.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, resolved.Value.GetProperty("note").ValueKind);
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [InlineData("ack")]
    [InlineData("resolve")]
    public async Task Unknown_alert_is_404(string action)
    {
        using var operatorHttp = await fixture.HttpAsync("operator");
        var (status, _) = await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/a-{Guid.NewGuid():N}/{action}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Closure_rate_is_null_where_nothing_was_ever_raised()
    {
        using var operatorHttp = await fixture.HttpAsync("operator");
        var tiles = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={Scenario.NewId("quiet")}");
        Assert.Equal(JsonValueKind.Null, tiles.GetProperty("closure_rate").ValueKind);
        Assert.Equal(0, tiles.GetProperty("open_alerts").GetInt32());
        Host.AssertNoLoggedErrors();
    }
}
