using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sensing.Cockpit.Access;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// Tokens' lifetime, clock skew and key come from configuration: a short, configured skew (an expired token stops
/// working within it), only HS256, and outside the demo never a key the service made up (see also
/// <see cref="StartupValidationTests"/>).
/// </summary>
public sealed class TokenConfigurationTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private const string LongKey = "sensing-tests-a-signing-key-long-enough-for-hs512-0123456789abcdef";

    [Fact]
    public async Task The_default_clock_skew_is_thirty_seconds()
    {
        // Expired 5 s ago: still inside the skew. Expired 45 s ago: outside it.
        using var justExpired = fixture.Host.Http(Caller.Forge(SensingTestHost.SigningKey, DateTime.UtcNow - TimeSpan.FromSeconds(5), Roles.Operator));
        using var expired = fixture.Host.Http(Caller.Forge(SensingTestHost.SigningKey, DateTime.UtcNow - TimeSpan.FromSeconds(45), Roles.Operator));
        Assert.Equal(HttpStatusCode.OK, (await justExpired.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await expired.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        fixture.Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Lifetime_and_clock_skew_come_from_configuration()
    {
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:TokenLifetimeMinutes"] = "5",
            ["Auth:ClockSkewSeconds"] = "0",
            // Long enough for HS512 too, so a token of another algorithm fails for its algorithm, not its key size.
            ["Auth:SigningKey"] = LongKey,
        });
        using var anonymous = host.Http();
        var response = await anonymous.PostAsJsonAsync("/api/auth/token", new { username = "operator", password = SensingTestHost.Password }).WaitAsync(Scenario.Timeout);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>().WaitAsync(Scenario.Timeout);
        Assert.Equal(300, body.GetProperty("expires_in").GetInt32());
        var token = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal(TimeSpan.FromMinutes(5), token.ValidTo - token.IssuedAt);
        Assert.Equal("HS256", token.Alg);

        // No skew: a token expired 5 s ago is refused here (the default host above still takes it).
        using var justExpired = host.Http(Caller.Forge(LongKey, DateTime.UtcNow - TimeSpan.FromSeconds(5), Roles.Operator));
        Assert.Equal(HttpStatusCode.Unauthorized, (await justExpired.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        using var fresh = host.Http(body.GetProperty("access_token").GetString());
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);

        // The right key, unexpired, but HS512: only what the service signs with (HS256) is accepted.
        var hs512 = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", "mallory"), new Claim("role", Roles.Admin)]),
            Issuer = "sensing",
            Audience = "sensing",
            Expires = DateTime.UtcNow + TimeSpan.FromHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(LongKey)), SecurityAlgorithms.HmacSha512),
        });
        using var otherAlgorithm = host.Http(hs512);
        Assert.Equal(HttpStatusCode.Unauthorized, (await otherAlgorithm.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        using var sameClaimsHs256 = host.Http(Caller.Forge(LongKey, DateTime.UtcNow + TimeSpan.FromHours(1)));
        Assert.Equal(HttpStatusCode.OK, (await sameClaimsHs256.GetAsync("/api/alerts").WaitAsync(Scenario.Timeout)).StatusCode);
        host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task The_demos_key_is_random_per_process_and_a_configured_key_wins()
    {
        static TokenIssuer Issuer(string? key) => new(
            Options.Create(new AuthOptions { SigningKey = key }),
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Demo:Enabled"] = "true" }).Build(),
            TimeProvider.System, NullLogger<TokenIssuer>.Instance);
        var user = new UserAccount { Username = "operator", Role = Roles.Operator };

        var first = Issuer(null);
        var second = Issuer(null);
        Assert.Equal(256, first.Key.KeySize);
        Assert.False(first.Key.Key.AsSpan().SequenceEqual(second.Key.Key));
        var handler = new JsonWebTokenHandler();
        Assert.True((await handler.ValidateTokenAsync(first.Issue(user), first.ValidationParameters())).IsValid);
        Assert.False((await handler.ValidateTokenAsync(first.Issue(user), second.ValidationParameters())).IsValid);

        var configured = Issuer(SensingTestHost.SigningKey);
        Assert.Equal(Encoding.UTF8.GetBytes(SensingTestHost.SigningKey), configured.Key.Key);
        Assert.Equal(TimeSpan.FromSeconds(30), configured.ClockSkew);
        Assert.Equal(TimeSpan.FromSeconds(30), configured.ValidationParameters().ClockSkew);
    }
}
