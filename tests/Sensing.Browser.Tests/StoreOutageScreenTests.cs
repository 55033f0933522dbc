using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Tiles;
using Sensing.Telemetry;
using Sensing.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// The wall screen while its store (a real influxd) is frozen with SIGSTOP: the header names the store as not answering
/// since when, the figures read before stay on screen, and the header returns to OK when the store answers again.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class StoreOutageScreenTests(BrowserSession session, InfluxServer influx) : IClassFixture<InfluxServer>
{
    [BrowserFact]
    public async Task A_store_that_stops_answering_is_named_in_the_header_while_the_figures_read_before_stay()
    {
        await using var host = await SensingTestHost.StartAsync(influx.StoreSettings("screen"), failOnLoggedErrors: false); // background reads of the frozen store log their failures
        const string community = "c1", gate = "gate-outage-1";
        using (var admin = host.Http(await host.TokenAsync("admin")))
        {
            var (status, _) = await SendAsync(admin, "/api/devices", new { id = gate, kind = "gate", community, grid = "g1" });
            Assert.Equal(System.Net.HttpStatusCode.OK, status);
        }
        var now = DateTimeOffset.UtcNow;
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        var times = Enumerable.Range(1, 4).Select(i => now.AddSeconds(-i)).ToList();
        // Passes from before local midnight (a run right after it) do not count today.
        var today = times.Count(t => TimeZoneInfo.ConvertTime(t, zone).Date == TimeZoneInfo.ConvertTime(now, zone).Date);
        await host.App.Services.GetRequiredService<IReadingStore>().WriteAsync(
            [.. times.Select(t => new Reading(gate, community, "g1", null, Metrics.GatePass, t, 1, "in"))], CancellationToken.None);

        await using var tab = await session.OpenTabAsync(1920, 1080, host: host);
        var wall = new WallScreen(tab.Page);
        await wall.OpenAsync("operator", community);
        await wall.UntilTileShowsAsync("gate-passes", WallScreen.Number(today));
        await wall.UntilLiveAsync();
        await Expect(wall.StoreState).ToHaveAttributeAsync("data-state", "ok");

        influx.Pause();
        try
        {
            await Expect(wall.StoreState).ToHaveAttributeAsync("data-state", "unreadable");
            await Expect(wall.StoreState).ToContainTextAsync("无法读取");
            // Still live (the hub is not the store), and the count read before the outage is still shown.
            await Expect(wall.ConnectionState).ToHaveAttributeAsync("data-state", "live");
            Assert.Matches(WallScreen.Number(today), await wall.TileTextAsync("gate-passes"));
        }
        finally
        {
            influx.Resume();
        }
        await Expect(wall.StoreState).ToHaveAttributeAsync("data-state", "ok",
            new() { Timeout = (float)(TileStoreReads.RetryEvery + TileStoreReads.Budget + BrowserSession.Timeout).TotalMilliseconds });
        tab.AssertHealthy();
    }

    private static async Task<(System.Net.HttpStatusCode Status, string Body)> SendAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
