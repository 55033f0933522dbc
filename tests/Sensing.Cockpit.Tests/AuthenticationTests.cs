using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>Every <c>/api</c> endpoint needs a valid bearer token; health, metrics, client config and sign-in do not.</summary>
public sealed class AuthenticationTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    /// <summary>Every endpoint behind the token, with a body where it takes one (authentication comes before binding).</summary>
    public static TheoryData<string, string> ProtectedEndpoints => new()
    {
        { "GET", "/api/communities" },
        { "GET", "/api/devices" },
        { "GET", "/api/devices?community=c1" },
        { "POST", "/api/devices" },
        { "POST", "/api/households" },
        { "POST", "/api/households/h-1/away" },
        { "POST", "/api/households/h-1/back" },
        { "GET", "/api/readings?device=d-1&metric=water.consumption" },
        { "GET", "/api/tiles?community=c1" },
        { "GET", "/api/alerts" },
        { "POST", "/api/alerts/a-1/ack" },
        { "POST", "/api/alerts/a-1/resolve" },
        { "GET", "/api/deadletters" },
    };

    [Theory]
    [MemberData(nameof(ProtectedEndpoints))]
    public async Task Without_a_token_is_401(string method, string path)
    {
        using var http = Host.Http();
        var (status, _) = await Scenario.SendAsync(http, new HttpMethod(method), path, method == "POST" ? new { } : null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [MemberData(nameof(ProtectedEndpoints))]
    public async Task With_a_garbage_token_is_401(string method, string path)
    {
        foreach (var garbage in new[] { "not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA" })
        {
            using var http = Host.Http(garbage);
            var (status, _) = await Scenario.SendAsync(http, new HttpMethod(method), path, method == "POST" ? new { } : null);
            Assert.True(status == HttpStatusCode.Unauthorized, $"{method} {path} with token '{garbage}' → {(int)status}");
        }
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [MemberData(nameof(ProtectedEndpoints))]
    public async Task With_a_token_signed_by_another_key_is_401(string method, string path)
    {
        // Well-formed, admin, right issuer and audience, unexpired: only the key is wrong.
        using var http = Host.Http(Forge(key: "another-signing-key-of-at-least-32-bytes!!", role: "admin"));
        var (status, _) = await Scenario.SendAsync(http, new HttpMethod(method), path, method == "POST" ? new { } : null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task A_forged_token_is_refused_but_the_same_one_signed_with_the_real_key_is_accepted()
    {
        // Guards the forgery tests above: they fail for the key, not for a malformed token.
        using var forged = Host.Http(Forge(key: "another-signing-key-of-at-least-32-bytes!!", role: "operator"));
        using var genuine = Host.Http(Forge(key: SensingTestHost.SigningKey, role: "operator"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await genuine.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Expired_wrong_issuer_and_unsigned_tokens_are_401()
    {
        var expired = Forge(SensingTestHost.SigningKey, "admin", expires: DateTime.UtcNow - TimeSpan.FromMinutes(10));
        var otherIssuer = Forge(SensingTestHost.SigningKey, "admin", issuer: "someone-else");
        var unsigned = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", "mallory"), new Claim("role", "admin")]),
            Issuer = "sensing",
            Audience = "sensing",
            Expires = DateTime.UtcNow + TimeSpan.FromHours(1),
        });
        foreach (var (name, token) in new[] { ("expired", expired), ("other issuer", otherIssuer), ("alg none", unsigned) })
        {
            using var http = Host.Http(token);
            var response = await http.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name} token → {(int)response.StatusCode}");
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Token_in_the_query_string_is_not_accepted_outside_the_hubs()
    {
        // access_token in the query is for WebSockets only; elsewhere it would leak into logs and histories.
        var token = await fixture.TokenAsync("operator");
        using var http = Host.Http();
        var response = await http.GetAsync($"/api/alerts?access_token={token}").WaitAsync(Scenario.Timeout);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/metrics")]
    [InlineData("/api/config")]
    public async Task Operational_endpoints_are_anonymous(string path)
    {
        using var http = Host.Http();
        var response = await http.GetAsync(path).WaitAsync(Scenario.Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync().WaitAsync(Scenario.Timeout);
        switch (path)
        {
            case "/healthz":
                Assert.Contains("\"status\":\"ok\"", body, StringComparison.Ordinal);
                // Why intake waits, when it does (spool full or its disk refusing writes while the store is down).
                Assert.Contains("\"spool_problem\":null", body, StringComparison.Ordinal);
                break;
            case "/metrics":
                Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
                Assert.Contains("sensing_alerts_raised_total", body, StringComparison.Ordinal);
                break;
            case "/api/config":
                // Demo is off in the test host, so no demo login is offered.
                Assert.Contains("\"demo\":false", body, StringComparison.Ordinal);
                Assert.Contains("\"demo_login\":null", body, StringComparison.Ordinal);
                break;
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Sign_in_is_anonymous_and_the_token_it_gives_opens_the_api()
    {
        using var anonymous = Host.Http();
        var (status, body) = await Scenario.SendAsync(anonymous, HttpMethod.Post, "/api/auth/token", new { username = "operator", password = SensingTestHost.Password });
        Assert.Equal(HttpStatusCode.OK, status);

        using var http = Host.Http(body!.Value.GetProperty("access_token").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        Host.AssertNoLoggedErrors();
    }

    private static string Forge(string key, string role, string issuer = "sensing", DateTime? expires = null)
    {
        var now = DateTime.UtcNow;
        var expiry = expires ?? now + TimeSpan.FromHours(1);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", "mallory"), new Claim("role", role)]),
            Issuer = issuer,
            Audience = issuer,
            IssuedAt = expiry - TimeSpan.FromHours(2),
            NotBefore = expiry - TimeSpan.FromHours(2),
            Expires = expiry,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }
}
