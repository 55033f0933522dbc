using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Alerts;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>Alerts about one subject are one incident: the first rings the grid worker's phone, the rest update it.</summary>
public sealed class IncidentPushTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    internal static Alert NewAlert(string kind, DateTimeOffset raisedAt, string? household, string? device, AlertSeverity severity, string grid = "g1") => new()
    {
        Id = Alert.MakeId(kind, household ?? device!, raisedAt),
        Kind = kind,
        Severity = severity,
        Community = "c1",
        Grid = grid,
        Household = household,
        Device = device,
        StartedAt = raisedAt.AddMinutes(-30),
        RaisedAt = raisedAt,
        Evidence = new AlertEvidence("test alert", []),
    };

    internal static Task RaiseAsync(SensingTestHost host, Alert alert) =>
        ((IAlertSink)host.App.Services.GetRequiredService<AlertBook>()).RaiseAsync(alert, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);

    [Fact]
    public async Task A_households_second_alert_updates_its_incident_instead_of_ringing_again()
    {
        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        await using var wall = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var rings = Scenario.Listen(worker1, "alert");
        var updates = Scenario.Listen(worker1, "alertUpdated");
        var wallRings = Scenario.Listen(wall, "alert");
        var wallUpdates = Scenario.Listen(wall, "alertUpdated");
        await wall.InvokeAsync<System.Text.Json.JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);

        var household = Scenario.NewId("h");
        var now = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var drop = NewAlert(AlertKinds.LivingAloneDrop, now, household, null, AlertSeverity.Critical);
        await RaiseAsync(Host, drop);
        var first = await Scenario.NextAboutAsync(rings, drop.Id, "worker1's ring for the drop");
        Assert.Equal(drop.Id, first.GetProperty("incident").GetString());
        await Scenario.NextAboutAsync(wallRings, drop.Id, "the wall's ring for the drop");

        // An hour later the household's water meter goes silent.
        var silent = NewAlert(AlertKinds.DeviceSilent, now.AddHours(1), household, Scenario.NewId("wm"), AlertSeverity.Warning);
        await RaiseAsync(Host, silent);
        var update = await Scenario.NextAboutAsync(updates, silent.Id, "worker1's update for the silence");
        Assert.Equal(drop.Id, update.GetProperty("incident").GetString());
        Assert.Equal("device_silent", update.GetProperty("kind").GetString());
        Assert.Equal("open", update.GetProperty("status").GetString());
        await Scenario.NextAboutAsync(wallUpdates, silent.Id, "the wall's update for the silence");
        await Scenario.AssertNoneAboutAsync(rings, silent.Id, "worker1 (ring)");
        await Scenario.AssertNoneAboutAsync(wallRings, silent.Id, "the wall (ring)");

        // Both are listed, each with the incident, and a reconnecting client catches up on both.
        using var http = await fixture.HttpAsync("worker1");
        var listed = await Scenario.GetJsonAsync(http, "/api/alerts");
        Assert.Equal(drop.Id, Scenario.Single(listed, drop.Id).GetProperty("incident").GetString());
        Assert.Equal(drop.Id, Scenario.Single(listed, silent.Id).GetProperty("incident").GetString());
        var missed = await worker1.InvokeAsync<System.Text.Json.JsonElement[]>("AlertsSince", first.GetProperty("sequence").GetInt64() - 1).WaitAsync(Scenario.Timeout);
        Assert.Contains(missed, a => a.GetProperty("id").GetString() == silent.Id);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task A_camera_that_went_silent_and_then_reports_fire_rings_again_and_a_closed_incident_rings_anew()
    {
        await using var worker1 = await Host.ConnectHubAsync("/hubs/worker", await fixture.TokenAsync("worker1"));
        var rings = Scenario.Listen(worker1, "alert");
        var camera = Scenario.NewId("cam");
        var now = Host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();

        var silent = NewAlert(AlertKinds.DeviceSilent, now, null, camera, AlertSeverity.Warning);
        await RaiseAsync(Host, silent);
        await Scenario.NextAboutAsync(rings, silent.Id, "the silence");
        // Fire is more severe than anything the incident had: news, though part of it.
        var fire = NewAlert(AlertKinds.CameraEvent, now.AddMinutes(10), null, camera, AlertSeverity.Critical);
        await RaiseAsync(Host, fire);
        Assert.Equal(silent.Id, (await Scenario.NextAboutAsync(rings, fire.Id, "the fire")).GetProperty("incident").GetString());

        // The worker closes the case; the camera's next alert is a new incident.
        using var http = await fixture.HttpAsync("worker1");
        foreach (var id in new[] { silent.Id, fire.Id })
            Assert.Equal(System.Net.HttpStatusCode.OK, (await Scenario.SendAsync(http, HttpMethod.Post, $"/api/alerts/{id}/resolve", new { note = "camera replaced" })).Status);
        var again = NewAlert(AlertKinds.DeviceSilent, now.AddHours(2), null, camera, AlertSeverity.Warning);
        await RaiseAsync(Host, again);
        Assert.Equal(again.Id, (await Scenario.NextAboutAsync(rings, again.Id, "the new silence")).GetProperty("incident").GetString());
        Host.AssertNoLoggedErrors();
    }
}

/// <summary>Incidents are rebuilt from the stored alerts: a member raised after a restart still joins its incident.</summary>
public sealed class IncidentRestartTests
{
    [Fact]
    public async Task An_incident_open_before_a_restart_is_joined_after_it()
    {
        var dataDirectory = SensingTestHost.NewDataDirectory();
        try
        {
            var household = Scenario.NewId("h");
            var now = DateTimeOffset.UtcNow;
            var drop = IncidentPushTests.NewAlert(AlertKinds.LivingAloneDrop, now, household, null, AlertSeverity.Critical);
            await using (var first = await SensingTestHost.StartAsync(dataDirectory: dataDirectory))
            {
                await IncidentPushTests.RaiseAsync(first, drop);
                first.AssertNoLoggedErrors();
            }

            await using var second = await SensingTestHost.StartAsync(dataDirectory: dataDirectory);
            var leak = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, now.AddHours(3), household, Scenario.NewId("wm"), AlertSeverity.Warning);
            await IncidentPushTests.RaiseAsync(second, leak);
            using var http = second.Http(await second.TokenAsync("operator"));
            var listed = await Scenario.GetJsonAsync(http, "/api/alerts");
            Assert.Equal(drop.Id, Scenario.Single(listed, leak.Id).GetProperty("incident").GetString());
            second.AssertNoLoggedErrors();
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }
}
