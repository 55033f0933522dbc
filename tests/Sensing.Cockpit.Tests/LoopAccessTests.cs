using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>Demo users exist only in the demo; the loop's fields and audit trail survive a restart; bad deadlines stop the start.</summary>
public sealed class LoopAccessTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Theory]
    [InlineData("admin", "admin-demo")]
    [InlineData("operator", "operator-demo")]
    [InlineData("worker1", "worker-demo")]
    [InlineData("worker2", "worker-demo")]
    [InlineData("engineer", "engineer-demo")]
    [InlineData("leader1", "leader-demo")]
    public async Task With_the_demo_off_no_demo_login_works(string user, string password)
    {
        using var http = Host.Http();
        var response = await http.PostAsJsonAsync("/api/auth/token", new { username = user, password }).WaitAsync(Scenario.Timeout);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public void With_the_demo_on_the_demo_users_and_the_grid_leader_exist()
    {
        var demoOn = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Demo:Enabled"] = "true" }).Build();
        var demoOff = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Demo:Enabled"] = "false" }).Build();
        var on = new UserDirectory(Options.Create(new AuthOptions()), demoOn);
        var off = new UserDirectory(Options.Create(new AuthOptions()), demoOff);

        var leader = on.SignIn("leader1", "leader-demo");
        Assert.NotNull(leader);
        Assert.Equal(Roles.Worker, leader.Role);
        Assert.Equal("c1", leader.Community);
        Assert.Equal(["g1"], leader.Leads);
        Assert.Equal(["leader1"], on.LeadersOf("c1", "g1"));
        Assert.Empty(on.LeadersOf("c1", "g2"));
        Assert.NotNull(on.SignIn("worker1", "worker-demo"));

        Assert.Null(off.SignIn("leader1", "leader-demo"));
        Assert.Null(off.SignIn("operator", "operator-demo"));
        Assert.Empty(off.LeadersOf("c1", "g1"));
    }

    [Theory]
    [InlineData("Alerts:Deadlines:Acknowledge:Critical", "00:00:00", "Alerts:Deadlines:Acknowledge:Critical must be above zero")]
    [InlineData("Alerts:Deadlines:Leader:Info", "-00:05:00", "Alerts:Deadlines:Leader:Info must be above zero")]
    [InlineData("Alerts:Deadlines:Kinds:water_leek:Acknowledge:Warning", "00:05:00", "Alerts:Deadlines:Kinds:water_leek is not an alert kind")]
    [InlineData("Alerts:Deadlines:CheckEvery", "00:00:00", "Alerts:Deadlines:CheckEvery must be above zero")]
    public async Task Bad_deadlines_stop_the_start_naming_the_key(string key, string value, string message)
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => SensingTestHost.StartAsync(new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lifecycle_fields_and_the_audit_trail_survive_a_restart()
    {
        var dataDirectory = SensingTestHost.NewDataDirectory();
        try
        {
            Alert before;
            string openId;
            await using (var first = await SensingTestHost.StartAsync(dataDirectory: dataDirectory))
            {
                var alert = await Scenario.RaiseAsync(first, "c1", "g1");
                openId = (await Scenario.RaiseAsync(first, "c1", "g1")).Id;
                using var worker1 = first.Http(await first.TokenAsync("worker1"));
                Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/on-the-way")).Status);
                Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{alert.Id}/resolve", new { note = "送医 taken to hospital" })).Status);
                before = first.App.Services.GetRequiredService<AlertBook>().Find(alert.Id)!;
                first.AssertNoLoggedErrors();
            }

            await using var second = await SensingTestHost.StartAsync(dataDirectory: dataDirectory);
            var book = second.App.Services.GetRequiredService<AlertBook>();
            var after = book.Find(before.Id)!;
            Assert.Equal(AlertStatus.Resolved, after.Status);
            Assert.Equal(before.ReceivedAt, after.ReceivedAt);
            Assert.Equal(before.AcknowledgedAt, after.AcknowledgedAt);
            Assert.Equal(before.OnTheWayAt, after.OnTheWayAt);
            Assert.Equal("worker1", after.OnTheWayBy);
            Assert.Equal(before.ResolvedAt, after.ResolvedAt);
            Assert.Equal("worker1", after.ResolvedBy);
            Assert.Equal(before.Actions, after.Actions);
            Assert.Equal(4, after.Actions!.Count);
            // An open alert keeps its deadline, so the watcher of the new process escalates it on time.
            Assert.NotNull(book.Find(openId)!.RespondBy);

            using var operatorHttp = second.Http(await second.TokenAsync("operator"));
            var actions = (await Scenario.GetJsonAsync(operatorHttp, $"/api/alerts/{before.Id}/actions")).EnumerateArray().ToList();
            Assert.Equal(["raised", "acknowledged", "on_the_way", "resolved"], actions.Select(a => a.GetProperty("action").GetString()));
            Assert.Equal("送医 taken to hospital", actions[3].GetProperty("note").GetString());
            second.AssertNoLoggedErrors();
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }
}
