using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// Screenshots for people (CI keeps <c>tests/artifacts/</c>): the wall screen at the two wall sizes it is made for,
/// with live figures and an open alert, each checked to fill its screen without scrolling; the worker page on a phone.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class ScreenshotTests(BrowserSession session)
{
    [BrowserTheory]
    [InlineData(1920, 1080)]
    [InlineData(3840, 2160)]
    public async Task Wall_screen_fits_its_screen_and_is_saved(int width, int height)
    {
        await session.World.HeartbeatsAsync();
        await session.World.RaiseSmokeAsync("g1");
        await using var tab = await session.OpenTabAsync(width, height);
        var wall = new WallScreen(tab.Page);
        await wall.OpenAsync();
        await wall.UntilTileShowsAsync("households", WallScreen.Number(Neighbourhood.Households));
        await wall.UntilLiveAsync();

        // A wall screen is looked at, not scrolled: the page must fit the screen it is made for.
        var overflow = await tab.Page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        Assert.True(overflow[0] <= width && overflow[1] <= height, $"At {width}×{height} the wall scrolls: its content is {overflow[0]}×{overflow[1]}");

        var path = Artifacts.PathOf($"wall-{width}x{height}.png");
        await tab.Page.ScreenshotAsync(new() { Path = path });
        Assert.Equal((width, height), Artifacts.PngSize(path));
        tab.AssertHealthy();
    }

    [BrowserFact]
    public async Task Worker_page_on_a_phone_shows_its_grid_only_and_is_saved()
    {
        await using var phone = await session.OpenTabAsync(390, 844, deviceScaleFactor: 3, mobile: true);
        var worker = new WorkerPage(phone.Page);
        await worker.SignInAsync("worker1");
        // One for another grid, then one for worker1's: by the time the second is shown, the first would have been too.
        var elsewhere = await session.World.RaiseSmokeAsync("g2");
        var mine = await session.World.RaiseSmokeAsync("g1");

        await Expect(worker.Alert(mine.GetProperty("id").GetString()!)).ToBeVisibleAsync();
        await Expect(worker.Alert(elsewhere.GetProperty("id").GetString()!)).ToHaveCountAsync(0);
        var overflow = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(overflow <= 390, $"The worker page is {overflow} px wide on a 390 px phone: it scrolls sideways");

        var path = Artifacts.PathOf("worker-390x844.png");
        await phone.Page.ScreenshotAsync(new() { Path = path });
        Assert.Equal((390 * 3, 844 * 3), Artifacts.PngSize(path));
        phone.AssertHealthy();
    }
}
