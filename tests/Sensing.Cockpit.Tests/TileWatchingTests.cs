using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.SignalR.Client;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// Tiles are computed and pushed only for communities a wall screen watches (issue 8): a real host, a real hub
/// connection, and the host's own count of tile computations per community (<c>sensing_tiles_computed_total</c>).
/// </summary>
public sealed class TileWatchingTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    [Fact]
    public async Task Only_watched_communities_are_computed_and_pushed_and_a_screen_that_leaves_stops_the_pushes()
    {
        var watched = Scenario.NewId("cw");
        var unwatched = Scenario.NewId("cu");
        using var admin = await fixture.HttpAsync("admin");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("cam"), "camera", watched, "g1");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("cam"), "camera", unwatched, "g1");
        await Scenario.RegisterDeviceAsync(admin, Scenario.NewId("cam"), "camera", unwatched, "g1");

        var wall = await Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var pushes = Scenario.Listen(wall, "tiles");
        var first = await wall.InvokeAsync<JsonElement>("Watch", watched).WaitAsync(Scenario.Timeout);
        Assert.Equal(watched, first.GetProperty("community").GetString());

        // Two pushes of the watched community's tiles (the broadcaster runs every 2 s) ...
        for (var i = 0; i < 2; i++)
        {
            var pushed = await NextTilesAsync(pushes);
            Assert.Equal(watched, pushed.GetProperty("community").GetString());
            Assert.Equal(1, pushed.GetProperty("cameras_total").GetInt32());
        }
        // ... and meanwhile not one computation for the community nobody watches.
        var metrics = await MetricsAsync();
        Assert.True(Computed(metrics, watched) >= 3, $"the watched community computed {Computed(metrics, watched)} times (watch + 2 pushes)");
        Assert.Equal(0, Computed(metrics, unwatched));
        Assert.Equal(1, Gauge(metrics, "sensing_tiles_watched_communities"));

        // GET /api/tiles still answers for any community, on demand: one computation, no pushes after it.
        using var operatorHttp = await fixture.HttpAsync("operator");
        var onDemand = await Scenario.GetJsonAsync(operatorHttp, $"/api/tiles?community={unwatched}");
        Assert.Equal(2, onDemand.GetProperty("cameras_total").GetInt32());
        await NextTilesAsync(pushes);
        await NextTilesAsync(pushes);
        Assert.Equal(1, Computed(await MetricsAsync(), unwatched));

        // The screen switches community: the pushes follow it, and the one it left is no longer computed.
        await wall.InvokeAsync<JsonElement>("Watch", unwatched).WaitAsync(Scenario.Timeout);
        await SensingTestHost.EventuallyAsync<object>(async () =>
            (await NextTilesAsync(pushes)).GetProperty("community").GetString() == unwatched ? new object() : null,
            Scenario.Timeout, "a push of the newly watched community");
        var leftAt = Computed(await MetricsAsync(), watched);
        var pushed2 = await NextTilesAsync(pushes);
        Assert.Equal(unwatched, pushed2.GetProperty("community").GetString());
        Assert.Equal(2, pushed2.GetProperty("cameras_total").GetInt32());
        Assert.Equal(leftAt, Computed(await MetricsAsync(), watched));

        // Disconnecting ends the watch: nothing is computed for either community any more.
        await wall.DisposeAsync();
        await SensingTestHost.EventuallyAsync<object>(async () =>
            Gauge(await MetricsAsync(), "sensing_tiles_watched_communities") == 0 ? new object() : null,
            Scenario.Timeout, "the watch to end with the connection");
        var after = Computed(await MetricsAsync(), unwatched);
        await Task.Delay(TimeSpan.FromSeconds(4.5)); // two broadcast periods and a margin
        Assert.Equal(after, Computed(await MetricsAsync(), unwatched));
        Host.AssertNoLoggedErrors();
    }

    private static async Task<JsonElement> NextTilesAsync(System.Threading.Channels.Channel<JsonElement> pushes)
    {
        using var cts = new CancellationTokenSource(Scenario.Timeout);
        return await pushes.Reader.ReadAsync(cts.Token);
    }

    private async Task<string> MetricsAsync()
    {
        using var http = Host.Http(null);
        return await http.GetStringAsync("/metrics").WaitAsync(Scenario.Timeout);
    }

    private static long Computed(string metrics, string community)
    {
        var match = Regex.Match(metrics, $"^sensing_tiles_computed_total\\{{community=\"{Regex.Escape(community)}\"\\}} (\\S+)$", RegexOptions.Multiline);
        return match.Success ? (long)double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static double Gauge(string metrics, string name)
    {
        var match = Regex.Match(metrics, $"^{name} (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"/metrics has no {name}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
