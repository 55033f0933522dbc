using System.Net;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// Who may do what, one row per endpoint and caller. Alerts and households are in c1/g1, so <c>worker1</c> is the
/// worker of their grid and <c>worker2</c> (c1/g2) the worker of another grid. Each row gets its own fresh alert,
/// household or device, so rows do not depend on each other.
/// </summary>
public sealed class RoleMatrixTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Theory]
    [InlineData("POST", "/api/devices", "admin", 200)]
    [InlineData("POST", "/api/devices", "operator", 403)]
    [InlineData("POST", "/api/devices", "engineer", 403)]
    [InlineData("POST", "/api/devices", "worker1", 403)]
    [InlineData("POST", "/api/households", "admin", 200)]
    [InlineData("POST", "/api/households", "operator", 403)]
    [InlineData("POST", "/api/households", "engineer", 403)]
    [InlineData("POST", "/api/households", "worker1", 403)]
    [InlineData("GET", "/api/deadletters", "admin", 200)]
    [InlineData("GET", "/api/deadletters", "operator", 200)]
    [InlineData("GET", "/api/deadletters", "engineer", 200)]
    [InlineData("GET", "/api/deadletters", "worker1", 403)]
    [InlineData("GET", "/api/devices/quarantined", "admin", 200)]
    [InlineData("GET", "/api/devices/quarantined", "operator", 200)]
    [InlineData("GET", "/api/devices/quarantined", "engineer", 200)]
    [InlineData("GET", "/api/devices/quarantined", "worker1", 403)]
    [InlineData("POST", "/api/alerts/{alert}/ack", "admin", 200)]
    [InlineData("POST", "/api/alerts/{alert}/ack", "operator", 200)]
    [InlineData("POST", "/api/alerts/{alert}/ack", "worker1", 200)]
    [InlineData("POST", "/api/alerts/{alert}/ack", "worker2", 403)]
    [InlineData("POST", "/api/alerts/{alert}/ack", "engineer", 403)]
    [InlineData("POST", "/api/alerts/{alert}/resolve", "admin", 200)]
    [InlineData("POST", "/api/alerts/{alert}/resolve", "operator", 200)]
    [InlineData("POST", "/api/alerts/{alert}/resolve", "worker1", 200)]
    [InlineData("POST", "/api/alerts/{alert}/resolve", "worker2", 403)]
    [InlineData("POST", "/api/alerts/{alert}/resolve", "engineer", 403)]
    [InlineData("POST", "/api/households/{household}/away", "admin", 200)]
    [InlineData("POST", "/api/households/{household}/away", "operator", 200)]
    [InlineData("POST", "/api/households/{household}/away", "worker1", 200)]
    [InlineData("POST", "/api/households/{household}/away", "worker2", 403)]
    [InlineData("POST", "/api/households/{household}/away", "engineer", 403)]
    [InlineData("POST", "/api/households/{household}/back", "operator", 200)]
    [InlineData("POST", "/api/households/{household}/back", "worker1", 200)]
    [InlineData("POST", "/api/households/{household}/back", "worker2", 403)]
    [InlineData("POST", "/api/households/{household}/back", "engineer", 403)]
    public async Task Endpoint_answers_the_caller_as_the_roles_say(string method, string template, string user, int expected)
    {
        var path = template;
        object? body = null;
        string? alertId = null;
        string? householdId = null;
        string? deviceId = null;
        if (template.Contains("{alert}", StringComparison.Ordinal))
        {
            alertId = (await Scenario.RaiseAsync(Host, "c1", "g1")).Id;
            path = template.Replace("{alert}", alertId, StringComparison.Ordinal);
            if (template.EndsWith("/resolve", StringComparison.Ordinal)) body = new { note = $"checked by {user}" };
        }
        else if (template.Contains("{household}", StringComparison.Ordinal))
        {
            householdId = Scenario.NewId("h");
            using var admin = await fixture.HttpAsync("admin");
            await Scenario.RegisterHouseholdAsync(admin, householdId, "c1", "g1");
            path = template.Replace("{household}", householdId, StringComparison.Ordinal);
        }
        else if (template == "/api/devices")
        {
            deviceId = Scenario.NewId("wm");
            body = new { id = deviceId, kind = "meter", community = "c1", grid = "g1", household = "h-x" };
        }
        else if (template == "/api/households")
        {
            householdId = Scenario.NewId("h");
            body = new { id = householdId, community = "c1", grid = "g1", elderly_living_alone = true };
        }

        using var http = await fixture.HttpAsync(user);
        var (status, json) = await Scenario.SendAsync(http, new HttpMethod(method), path, body);

        Assert.True((int)status == expected, $"{method} {path} as {user}: expected {expected}, got {(int)status} {json}");
        if (expected == 200)
        {
            Assert.NotNull(json);
            var result = json.Value;
            if (alertId is not null)
            {
                Assert.Equal(alertId, result.GetProperty("id").GetString());
                Assert.Equal(template.EndsWith("/ack", StringComparison.Ordinal) ? "acknowledged" : "resolved", result.GetProperty("status").GetString());
                Assert.Equal(user, result.GetProperty("updated_by").GetString());
            }
            else if (template.Contains("{household}", StringComparison.Ordinal))
            {
                Assert.Equal(householdId, result.GetProperty("household").GetString());
            }
            else if (deviceId is not null)
            {
                Assert.Equal(deviceId, result.GetProperty("id").GetString());
            }
            else if (template == "/api/households")
            {
                Assert.Equal(householdId, result.GetProperty("id").GetString());
            }
            else
            {
                Assert.Equal(System.Text.Json.JsonValueKind.Array, result.ValueKind);
            }
        }
        else if (alertId is not null)
        {
            // A refused action leaves the alert as it was.
            using var operatorHttp = await fixture.HttpAsync("operator");
            var alerts = await Scenario.GetJsonAsync(operatorHttp, "/api/alerts?community=c1");
            Assert.Equal("open", Scenario.Single(alerts, alertId).GetProperty("status").GetString());
        }
        else if (deviceId is not null)
        {
            using var operatorHttp = await fixture.HttpAsync("operator");
            var devices = await Scenario.GetJsonAsync(operatorHttp, "/api/devices");
            Assert.DoesNotContain(devices.EnumerateArray(), d => d.GetProperty("id").GetString() == deviceId);
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Away_for_an_unknown_household_is_404()
    {
        using var http = await fixture.HttpAsync("operator");
        var (status, _) = await Scenario.SendAsync(http, HttpMethod.Post, $"/api/households/{Scenario.NewId("h")}/away", new { });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Away_keeps_the_given_event_time_span()
    {
        var household = Scenario.NewId("h");
        using (var admin = await fixture.HttpAsync("admin")) await Scenario.RegisterHouseholdAsync(admin, household, "c1", "g1");
        var from = new DateTimeOffset(2026, 11, 20, 8, 0, 0, TimeSpan.FromHours(8));
        var until = from + TimeSpan.FromDays(3);

        using var http = await fixture.HttpAsync("worker1");
        var (status, json) = await Scenario.SendAsync(http, HttpMethod.Post, $"/api/households/{household}/away", new { from, until });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(from, json!.Value.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(until, json.Value.GetProperty("until").GetDateTimeOffset());
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Admin_validation_rejects_an_incomplete_device()
    {
        using var admin = await fixture.HttpAsync("admin");
        var (status, json) = await Scenario.SendAsync(admin, HttpMethod.Post, "/api/devices", new { id = Scenario.NewId("x"), kind = "toaster" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = json!.Value.GetProperty("errors");
        Assert.True(errors.TryGetProperty("kind", out _));
        Assert.True(errors.TryGetProperty("community", out _));
        Host.AssertNoLoggedErrors();
    }
}
