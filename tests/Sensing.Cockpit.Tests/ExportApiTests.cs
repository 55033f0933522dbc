using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary><c>GET /api/export</c>: engineers and admins get a real Parquet file of the range; others do not.</summary>
public sealed class ExportApiTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Engineers_get_the_range_as_parquet_and_operators_are_refused()
    {
        await using var host = await SensingTestHost.StartAsync();
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        await store.WriteAsync([.. Enumerable.Range(0, 48).Select(i => new Reading("wm-1", "c1", "g1", "h-1", Metrics.WaterConsumption, T0.AddHours(i), 0.01 * i))], CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));
        var range = $"from={Uri.EscapeDataString(T0.ToString("O"))}&to={Uri.EscapeDataString(T0.AddDays(1).ToString("O"))}&community=c1";

        using var engineer = host.Http(await host.TokenAsync("engineer"));
        using var response = await engineer.GetAsync($"/api/export?{range}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.apache.parquet", response.Content.Headers.ContentType?.MediaType);
        Assert.EndsWith(".parquet", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'), StringComparison.Ordinal);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        // A Parquet file starts and ends with the magic "PAR1".
        Assert.True(bytes.Length > 8);
        Assert.Equal("PAR1"u8.ToArray(), bytes[..4]);
        Assert.Equal("PAR1"u8.ToArray(), bytes[^4..]);

        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorHttp.GetAsync($"/api/export?{range}")).StatusCode);
        using var anonymous = host.Http();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/export?{range}")).StatusCode);
        host.AssertNoLoggedErrors();
    }
}
