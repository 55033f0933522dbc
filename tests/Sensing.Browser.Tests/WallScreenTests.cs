using System.Globalization;
using System.Text.RegularExpressions;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>The wall screen in Chromium at its design size: real figures from the published community, and live pushes.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class WallScreenTests(BrowserSession session)
{
    private static readonly Regex Chinese = new(@"\p{IsCJKUnifiedIdeographs}");

    [BrowserFact]
    public async Task Tiles_show_the_published_community_and_an_alert_pushed_after_load_appears()
    {
        await session.World.HeartbeatsAsync();
        await using var tab = await session.OpenTabAsync(1920, 1080);
        var wall = new WallScreen(tab.Page);

        await wall.OpenAsync();

        await wall.UntilTileShowsAsync("households", WallScreen.Number(Neighbourhood.Households));
        await wall.UntilTileShowsAsync("cameras", WallScreen.OutOf(Neighbourhood.CamerasOnline, Neighbourhood.Cameras));
        await wall.UntilTileShowsAsync("gate-passes", WallScreen.Number(Neighbourhood.GatePassesToday));
        await wall.UntilTileShowsAsync("parking", WallScreen.OutOf(Neighbourhood.ParkingFree, Neighbourhood.ParkingCapacity));
        // Every tile says how old its data is.
        foreach (var tile in new[] { "households", "cameras", "gate-passes", "parking" })
        {
            await Expect(wall.TileAge(tile)).Not.ToBeEmptyAsync();
        }
        await wall.UntilLiveAsync();
        // Ingest is connected to its broker and never lost it: the header says so (the spells are tested in Faults/).
        await Expect(wall.BrokerState).ToHaveAttributeAsync("data-state", "ok");
        await Expect(wall.BrokerState).ToContainTextAsync("正常");
        await Expect(wall.StoreState).ToHaveAttributeAsync("data-state", "ok");
        foreach (var (_, name) in Neighbourhood.Grids) await Expect(wall.GridMap).ToContainTextAsync(name);
        // A chart's tooltip: ECharts writes it as HTML with inline styles, which the content security policy must
        // allow (AssertHealthy fails on anything the policy blocked).
        var gateFlow = tab.Page.GetByTestId("chart-gate-flow");
        await gateFlow.HoverAsync();
        await Expect(gateFlow.Locator("div").Filter(new() { HasTextRegex = new Regex(@"\d") }).First).ToBeVisibleAsync();
        await tab.Page.Mouse.MoveAsync(0, 0);
        var openInG2 = int.Parse((await wall.GridCell("g2").GetAttributeAsync("data-open"))!, CultureInfo.InvariantCulture);

        // Raised after the page loaded and connected: it can only arrive by push, not by the page's first fetch.
        var alert = await session.World.RaiseSmokeAsync("g2");
        var id = alert.GetProperty("id").GetString()!;

        var item = wall.AlertItem(id);
        await Expect(item).ToBeVisibleAsync();
        await Expect(item).ToContainTextAsync("摄像头事件");
        await Expect(item).ToContainTextAsync("cam-3");
        await Expect(wall.GridCell("g2")).ToHaveAttributeAsync("data-open", (openInG2 + 1).ToString(CultureInfo.InvariantCulture));
        // It opens to its evidence chart.
        await item.ClickAsync();
        await Expect(wall.EvidenceChart).ToBeVisibleAsync();
        await Expect(wall.EvidenceChart.Locator("canvas, svg").First).ToBeVisibleAsync();
        tab.AssertHealthy();
        session.Host.AssertNoLoggedErrors();
    }

    [BrowserFact]
    public async Task The_english_switch_turns_the_labels_to_english_and_back()
    {
        await using var tab = await session.OpenTabAsync(1920, 1080);
        var wall = new WallScreen(tab.Page);
        await wall.OpenAsync();
        var households = wall.Tile("households");
        await Expect(households).ToContainTextAsync("监护住户");

        await wall.LanguageSwitch.ClickAsync();

        // Households, whatever the exact English wording; no Chinese left on the tile.
        await Expect(households).ToContainTextAsync(new Regex("Households", RegexOptions.IgnoreCase));
        await Expect(households).Not.ToContainTextAsync(Chinese);
        await Expect(tab.Page.Locator("html")).ToHaveAttributeAsync("lang", new Regex("^en"));
        // The figures stay: switching language re-renders labels, not data.
        await wall.UntilTileShowsAsync("households", WallScreen.Number(Neighbourhood.Households));

        await wall.LanguageSwitch.ClickAsync();
        await Expect(households).ToContainTextAsync("监护住户");
        tab.AssertHealthy();
    }

    [BrowserFact]
    public async Task After_a_network_drop_the_wall_reconnects_and_shows_the_alert_it_missed()
    {
        // A host of its own with no alert yet: the page has seen no alert (no sequence number) when the drop comes,
        // the case a catch-up that asks only "what changed since the last one I saw" misses.
        var (host, world, devices) = await Neighbourhood.StartQuietAsync();
        await using var _ = host;
        using var __ = devices;
        await using var tab = await session.OpenTabAsync(1920, 1080, host: host);
        var wall = new WallScreen(tab.Page);
        await wall.OpenAsync();
        await wall.UntilLiveAsync();

        await tab.DropNetworkAsync();
        await wall.UntilNotLiveAsync();
        var alert = await world.RaiseSmokeAsync("g1");
        tab.RestoreNetwork();

        await wall.UntilLiveAsync();
        await Expect(wall.AlertItem(alert.GetProperty("id").GetString()!)).ToBeVisibleAsync();
        tab.AssertHealthy();
        host.AssertNoLoggedErrors();
    }
}
