using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Alerts;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>The same scoping over SignalR: workers hear their grids only, wall screens the community they watch.</summary>
public sealed class GridScopingHubTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Fact]
    public async Task Alert_reaches_the_worker_of_its_grid_and_the_wall_watching_its_community_only()
    {
        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        await using var worker2 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker2"));
        await using var wallC1 = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        await using var wallC2 = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var toWorker1 = Scenario.Listen(worker1, "alert");
        var toWorker2 = Scenario.Listen(worker2, "alert");
        var toWallC1 = Scenario.Listen(wallC1, "alert");
        var toWallC2 = Scenario.Listen(wallC2, "alert");
        var tilesC1 = await wallC1.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
        Assert.Equal("c1", tilesC1.GetProperty("community").GetString());
        await wallC2.InvokeAsync<JsonElement>("Watch", "c2").WaitAsync(Scenario.Timeout);

        var alert = await Scenario.RaiseAsync(Host, "c1", "g1");

        var heard = await Scenario.NextAboutAsync(toWorker1, alert.Id, "worker1");
        Assert.Equal("c1", heard.GetProperty("community").GetString());
        Assert.Equal("g1", heard.GetProperty("grid").GetString());
        Assert.Equal("open", heard.GetProperty("status").GetString());
        Assert.Equal("water_leak", heard.GetProperty("kind").GetString());
        var onWall = await Scenario.NextAboutAsync(toWallC1, alert.Id, "the wall watching c1");
        Assert.Equal(heard.GetProperty("sequence").GetInt64(), onWall.GetProperty("sequence").GetInt64());
        await Scenario.AssertNoneAboutAsync(toWorker2, alert.Id, "worker2 (grid g2)");
        await Scenario.AssertNoneAboutAsync(toWallC2, alert.Id, "the wall watching c2");

        // An alert of g2 goes the other way.
        var other = await Scenario.RaiseAsync(Host, "c1", "g2");
        await Scenario.NextAboutAsync(toWorker2, other.Id, "worker2");
        await Scenario.AssertNoneAboutAsync(toWorker1, other.Id, "worker1 (grid g1)");
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Watching_another_community_leaves_the_previous_one()
    {
        await using var wall = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("engineer"));
        var alerts = Scenario.Listen(wall, "alert");
        await wall.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
        await wall.InvokeAsync<JsonElement>("Watch", "c2").WaitAsync(Scenario.Timeout);

        var inC1 = await Scenario.RaiseAsync(Host, "c1", "g1");
        var inC2 = await Scenario.RaiseAsync(Host, "c2", "g1");

        await Scenario.NextAboutAsync(alerts, inC2.Id, "the wall now watching c2");
        await Scenario.AssertNoneAboutAsync(alerts, inC1.Id, "a wall that left c1");
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Worker_cannot_open_the_cockpit_hub_and_operator_cannot_open_the_worker_hub()
    {
        var workerToken = await fixture.TokenAsync("worker1");
        var operatorToken = await fixture.TokenAsync("operator");

        await Assert.ThrowsAnyAsync<Exception>(() => Host.ConnectHubAsync("/hubs/cockpit", workerToken));
        await Assert.ThrowsAnyAsync<Exception>(() => Host.ConnectHubAsync("/hubs/worker", operatorToken));
        await Assert.ThrowsAnyAsync<Exception>(() => Host.ConnectHubAsync("/hubs/worker", "garbage"));
        await Assert.ThrowsAnyAsync<Exception>(() => Host.ConnectHubAsync("/hubs/cockpit", "garbage"));

        // The refusals are about the role, not a broken hub: the right roles get in.
        await using var worker = await Host.ConnectHubAsync("/hubs/worker", workerToken);
        await using var wall = await Host.ConnectHubAsync("/hubs/cockpit", operatorToken);
        Assert.Equal(HubConnectionState.Connected, worker.State);
        Assert.Equal(HubConnectionState.Connected, wall.State);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Worker_acknowledges_and_resolves_over_the_hub_and_the_wall_sees_each_change()
    {
        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        await using var wall = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var wallUpdates = Scenario.Listen(wall, "alertUpdated");
        var workerUpdates = Scenario.Listen(worker1, "alertUpdated");
        await wall.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
        var alert = await Scenario.RaiseAsync(Host, "c1", "g1");

        var acknowledged = await worker1.InvokeAsync<JsonElement>("Acknowledge", alert.Id).WaitAsync(Scenario.Timeout);
        Assert.Equal("acknowledged", acknowledged.GetProperty("status").GetString());
        var ackOnWall = await Scenario.NextAboutAsync(wallUpdates, alert.Id, "the wall's alertUpdated (acknowledged)");
        Assert.Equal("acknowledged", ackOnWall.GetProperty("status").GetString());
        Assert.Equal("worker1", ackOnWall.GetProperty("updated_by").GetString());
        Assert.Equal("acknowledged", (await Scenario.NextAboutAsync(workerUpdates, alert.Id, "worker1's own alertUpdated")).GetProperty("status").GetString());

        var resolved = await worker1.InvokeAsync<JsonElement>("Resolve", alert.Id, "valve closed, tenant informed").WaitAsync(Scenario.Timeout);
        Assert.Equal("resolved", resolved.GetProperty("status").GetString());
        var resolveOnWall = await Scenario.NextAboutAsync(wallUpdates, alert.Id, "the wall's alertUpdated (resolved)");
        Assert.Equal("resolved", resolveOnWall.GetProperty("status").GetString());
        Assert.Equal("valve closed, tenant informed", resolveOnWall.GetProperty("note").GetString());
        Assert.Equal("worker1", resolveOnWall.GetProperty("updated_by").GetString());
        Assert.True(resolveOnWall.GetProperty("sequence").GetInt64() > ackOnWall.GetProperty("sequence").GetInt64());

        var refused = await Assert.ThrowsAsync<HubException>(() => worker1.InvokeAsync<JsonElement>("Acknowledge", alert.Id).WaitAsync(Scenario.Timeout));
        Assert.Contains("already resolved", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<HubException>(() => worker1.InvokeAsync<JsonElement>("Resolve", alert.Id, "again").WaitAsync(Scenario.Timeout));
        await Assert.ThrowsAsync<HubException>(() => worker1.InvokeAsync<JsonElement>("Acknowledge", "a-0000000000000000").WaitAsync(Scenario.Timeout));
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Worker_cannot_act_on_another_grids_alert_over_the_hub()
    {
        await using var worker2 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker2"));
        var alert = await Scenario.RaiseAsync(Host, "c1", "g1");

        await Assert.ThrowsAsync<HubException>(() => worker2.InvokeAsync<JsonElement>("Acknowledge", alert.Id).WaitAsync(Scenario.Timeout));
        await Assert.ThrowsAsync<HubException>(() => worker2.InvokeAsync<JsonElement>("Resolve", alert.Id, "not mine").WaitAsync(Scenario.Timeout));

        using var operatorHttp = await fixture.HttpAsync("operator");
        var alerts = await Scenario.GetJsonAsync(operatorHttp, "/api/alerts?community=c1&grid=g1");
        Assert.Equal("open", Scenario.Single(alerts, alert.Id).GetProperty("status").GetString());
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task AlertsSince_returns_only_later_changes_of_the_callers_grids()
    {
        var before = await Scenario.RaiseAsync(Host, "c1", "g1");
        var sequence = Host.App.Services.GetRequiredService<AlertBook>().Sequence;
        var mine = await Scenario.RaiseAsync(Host, "c1", "g1");
        var otherGrid = await Scenario.RaiseAsync(Host, "c1", "g2");
        var otherCommunity = await Scenario.RaiseAsync(Host, "c2", "g1");
        using (var operatorHttp = await fixture.HttpAsync("operator"))
        {
            // A change to an older alert counts as new: the catch-up is by change, not by raise.
            await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/{before.Id}/ack");
        }

        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        var missed = await worker1.InvokeAsync<JsonElement[]>("AlertsSince", sequence).WaitAsync(Scenario.Timeout);
        Assert.Equal([mine.Id, before.Id], missed.Select(a => a.GetProperty("id").GetString()));
        Assert.All(missed, a => Assert.True(a.GetProperty("sequence").GetInt64() > sequence));
        Assert.Equal("acknowledged", missed[1].GetProperty("status").GetString());

        // Nothing after the newest change.
        var last = missed.Max(a => a.GetProperty("sequence").GetInt64());
        var caughtUp = await worker1.InvokeAsync<JsonElement[]>("AlertsSince", last).WaitAsync(Scenario.Timeout);
        Assert.DoesNotContain(caughtUp, a => a.GetProperty("id").GetString() is var id && (id == mine.Id || id == before.Id));
        Assert.All(caughtUp, a => Assert.Equal("g1", a.GetProperty("grid").GetString()));

        // The operator's catch-up on the wall hub has all three.
        await using var wall = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var wallMissed = await wall.InvokeAsync<JsonElement[]>("AlertsSince", sequence).WaitAsync(Scenario.Timeout);
        Assert.Equal([mine.Id, otherGrid.Id, otherCommunity.Id, before.Id], wallMissed.Select(a => a.GetProperty("id").GetString()));
        Host.AssertNoLoggedErrors();
    }
}
