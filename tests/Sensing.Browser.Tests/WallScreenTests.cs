using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>The wall screen in Chromium at its design size: real figures from the published community, and live pushes.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class WallScreenTests(BrowserSession session)
{
    [BrowserFact]
    public async Task Tiles_show_the_published_community_and_an_alert_pushed_after_load_appears()
    {
        await session.World.HeartbeatsAsync();
        await using var tab = await session.OpenTabAsync(1920, 1080);
        var wall = new WallScreen(tab.Page);

        await wall.OpenAsync();

        await Expect(wall.Figure("households")).ToHaveTextAsync(Neighbourhood.Households.ToString());
        await Expect(wall.Figure("cameras-online")).ToHaveTextAsync(Neighbourhood.CamerasOnline.ToString());
        await Expect(wall.Figure("cameras-total")).ToHaveTextAsync(Neighbourhood.Cameras.ToString());
        await Expect(wall.Figure("gate")).ToHaveTextAsync(Neighbourhood.GatePassesToday.ToString());
        await Expect(wall.Figure("parking-free")).ToHaveTextAsync(Neighbourhood.ParkingFree.ToString());
        await Expect(wall.Figure("parking-capacity")).ToHaveTextAsync(Neighbourhood.ParkingCapacity.ToString());
        await wall.UntilLiveAsync();

        // Raised after the page loaded and connected: it can only arrive by push, not by the page's first fetch.
        var alert = await session.World.RaiseSmokeAsync("g2");
        var id = alert.GetProperty("id").GetString()!;

        var item = wall.AlertItem(id);
        await Expect(item).ToBeVisibleAsync();
        await Expect(item).ToContainTextAsync("摄像头事件");
        await Expect(item).ToContainTextAsync("cam-3");
        tab.AssertHealthy();
        session.Host.AssertNoLoggedErrors();
    }

    [BrowserFact]
    public async Task The_english_switch_turns_the_labels_to_english_and_back()
    {
        await using var tab = await session.OpenTabAsync(1920, 1080);
        var wall = new WallScreen(tab.Page);
        await wall.OpenAsync();
        var title = wall.TileTitle("households");
        await Expect(title).ToHaveTextAsync("监护住户");

        await wall.LanguageSwitch.ClickAsync();

        await Expect(title).ToHaveTextAsync("Households monitored");
        await Expect(tab.Page.Locator("html")).ToHaveAttributeAsync("lang", "en");
        // The figures stay: switching language re-renders labels, not data.
        await Expect(wall.Figure("households")).ToHaveTextAsync(Neighbourhood.Households.ToString());

        await wall.LanguageSwitch.ClickAsync();
        await Expect(title).ToHaveTextAsync("监护住户");
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
        await Expect(wall.ConnectionState).Not.ToHaveClassAsync(WallScreen.Live);
        var alert = await world.RaiseSmokeAsync("g1");
        tab.RestoreNetwork();

        await wall.UntilLiveAsync();
        await Expect(wall.AlertItem(alert.GetProperty("id").GetString()!)).ToBeVisibleAsync();
        tab.AssertHealthy();
        host.AssertNoLoggedErrors();
    }
}
