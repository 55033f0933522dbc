using System.Net;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary><c>GET /api/readings</c> refuses malformed queries with 400 and a named field, and unknown devices with 404.</summary>
public sealed class ReadingsValidationTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private const string Device = "wm-readings";
    private SensingTestHost Host => fixture.Host;

    private async Task<HttpClient> OperatorWithDeviceAsync()
    {
        using (var admin = await fixture.HttpAsync("admin")) await Scenario.RegisterDeviceAsync(admin, Device, "meter", "c1", "g1");
        return await fixture.HttpAsync("operator");
    }

    [Theory]
    [InlineData($"device={Device}", "metric")]
    [InlineData($"device={Device}&metric=", "metric")]
    [InlineData("metric=water.consumption", "device")]
    [InlineData($"device={Device}&metric=water.consumption&every=fortnight", "every")]
    [InlineData($"device={Device}&metric=water.consumption&every=0m", "every")]
    [InlineData($"device={Device}&metric=water.consumption&every=-1h", "every")]
    [InlineData($"device={Device}&metric=water.consumption&every=1h&agg=median", "agg")]
    [InlineData($"device={Device}&metric=water.consumption&agg=MEANEST", "agg")]
    [InlineData($"device={Device}&metric=water.consumption&from=2026-11-20T00:00:00Z&to=2026-11-20T00:00:00Z", "from")]
    [InlineData($"device={Device}&metric=water.consumption&from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z", "from")]
    [InlineData($"device={Device}&metric=water.consumption&limit=0", "limit")]
    public async Task Malformed_query_is_400_naming_the_field(string query, string field)
    {
        using var http = await OperatorWithDeviceAsync();
        var (status, problem) = await Scenario.SendAsync(http, HttpMethod.Get, $"/api/readings?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem!.Value.GetProperty("errors").TryGetProperty(field, out _), $"errors name '{field}': {problem}");
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [InlineData("from=yesterday")]
    [InlineData("to=2026-13-45")]
    [InlineData("limit=many")]
    public async Task Unparsable_value_is_400(string query)
    {
        using var http = await OperatorWithDeviceAsync();
        var (status, _) = await Scenario.SendAsync(http, HttpMethod.Get, $"/api/readings?device={Device}&metric=water.consumption&{query}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Unknown_device_is_404()
    {
        using var http = await OperatorWithDeviceAsync();
        var (status, _) = await Scenario.SendAsync(http, HttpMethod.Get, $"/api/readings?device={Scenario.NewId("ghost")}&metric=water.consumption");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Host.AssertNoLoggedErrors();
    }

    [Theory]
    [InlineData("")]
    [InlineData("&every=30s")]
    [InlineData("&every=15m&agg=sum")]
    [InlineData("&every=1h&agg=max")]
    [InlineData("&every=1d&agg=count")]
    [InlineData("&every=01:00:00&agg=last")]
    [InlineData("&every=1h&agg=min&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z&limit=10")]
    public async Task Well_formed_query_is_200(string query)
    {
        using var http = await OperatorWithDeviceAsync();
        var buckets = await Scenario.GetJsonAsync(http, $"/api/readings?device={Device}&metric=water.consumption{query}");
        Assert.Equal(System.Text.Json.JsonValueKind.Array, buckets.ValueKind);
        Host.AssertNoLoggedErrors();
    }
}
