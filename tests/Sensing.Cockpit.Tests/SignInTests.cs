using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary><c>POST /api/auth/token</c>: who gets a token, what it says, and how fast one may guess.</summary>
public sealed class SignInTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Fact]
    public async Task Right_password_gives_a_token_with_role_grids_and_community()
    {
        using var http = Host.Http();
        var response = await http.PostAsJsonAsync("/api/auth/token", new { username = "worker1", password = SensingTestHost.Password }).WaitAsync(Scenario.Timeout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>().WaitAsync(Scenario.Timeout);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("access_token").GetString()));
        Assert.Equal(3, body.GetProperty("access_token").GetString()!.Split('.').Length);
        Assert.Equal(12 * 60 * 60, body.GetProperty("expires_in").GetInt32());
        Assert.Equal("worker", body.GetProperty("role").GetString());
        Assert.Equal(["g1"], body.GetProperty("grids").EnumerateArray().Select(g => g.GetString()));
        Assert.Equal("c1", body.GetProperty("community").GetString());
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [InlineData("admin", "admin")]
    [InlineData("operator", "operator")]
    [InlineData("engineer", "engineer")]
    [InlineData("worker2", "worker")]
    public async Task Each_user_gets_its_role(string user, string role)
    {
        using var http = Host.Http();
        var response = await http.PostAsJsonAsync("/api/auth/token", new { username = user, password = SensingTestHost.Password }).WaitAsync(Scenario.Timeout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>().WaitAsync(Scenario.Timeout);
        Assert.Equal(role, body.GetProperty("role").GetString());
        Assert.True(body.GetProperty("expires_in").GetInt32() > 0);
        // Only grid workers are scoped to grids.
        Assert.Equal(role == "worker" ? 1 : 0, body.GetProperty("grids").GetArrayLength());
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [InlineData("worker1", "wrong-password")]
    [InlineData("worker1", "TEST-PASSWORD")]
    [InlineData("nobody", SensingTestHost.Password)]
    [InlineData("Worker1", SensingTestHost.Password)]
    public async Task Wrong_password_or_unknown_user_is_401_without_a_token(string user, string password)
    {
        using var http = Host.Http();
        var response = await http.PostAsJsonAsync("/api/auth/token", new { username = user, password }).WaitAsync(Scenario.Timeout);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain("access_token", await response.Content.ReadAsStringAsync().WaitAsync(Scenario.Timeout), StringComparison.Ordinal);
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"username":"worker1"}""")]
    [InlineData("""{"password":"test-password"}""")]
    [InlineData("""{"username":"","password":""}""")]
    [InlineData("""{"username":"worker1","password":null}""")]
    public async Task Missing_fields_are_400(string json)
    {
        using var http = Host.Http();
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await http.PostAsync("/api/auth/token", content).WaitAsync(Scenario.Timeout);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>().WaitAsync(Scenario.Timeout);
        Assert.True(body.TryGetProperty("errors", out _), $"a validation problem: {body}");
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task No_body_or_not_json_is_400()
    {
        using var http = Host.Http();
        var empty = await http.PostAsync("/api/auth/token", new StringContent("", Encoding.UTF8, "application/json")).WaitAsync(Scenario.Timeout);
        var broken = await http.PostAsync("/api/auth/token", new StringContent("{\"username\":", Encoding.UTF8, "application/json")).WaitAsync(Scenario.Timeout);

        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
    }
}

/// <summary>The sign-in rate limit, on a host of its own so its small budget is not shared.</summary>
public sealed class SignInRateLimitTests
{
    [Fact]
    public async Task Fourth_attempt_within_a_minute_is_429_when_three_are_allowed()
    {
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?> { ["Auth:SignInPermitsPerMinute"] = "3" });
        using var http = host.Http();

        // Failures and successes draw on the same budget: guessing is what it slows.
        var first = await http.PostAsJsonAsync("/api/auth/token", new { username = "worker1", password = "guess-1" }).WaitAsync(Scenario.Timeout);
        var second = await http.PostAsJsonAsync("/api/auth/token", new { username = "worker1", password = "guess-2" }).WaitAsync(Scenario.Timeout);
        var third = await http.PostAsJsonAsync("/api/auth/token", new { username = "worker1", password = SensingTestHost.Password }).WaitAsync(Scenario.Timeout);
        var fourth = await http.PostAsJsonAsync("/api/auth/token", new { username = "worker1", password = SensingTestHost.Password }).WaitAsync(Scenario.Timeout);

        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        Assert.Equal((HttpStatusCode)429, fourth.StatusCode);
        Assert.DoesNotContain("access_token", await fourth.Content.ReadAsStringAsync().WaitAsync(Scenario.Timeout), StringComparison.Ordinal);

        // The limit is on signing in only: a token already issued keeps working.
        var token = (await third.Content.ReadFromJsonAsync<JsonElement>().WaitAsync(Scenario.Timeout)).GetProperty("access_token").GetString();
        using var worker = host.Http(token);
        Assert.Equal(HttpStatusCode.OK, (await worker.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        host.AssertNoLoggedErrors();
    }
}
