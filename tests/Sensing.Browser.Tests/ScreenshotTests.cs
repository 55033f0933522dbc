using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// Screenshots for people (CI keeps <c>tests/artifacts/</c>): the wall screen at the two wall sizes it is made for,
/// with live figures and an open alert, each checked to fill its screen without scrolling.
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
        await Expect(wall.Figure("households")).ToHaveTextAsync(Neighbourhood.Households.ToString());
        await wall.UntilLiveAsync();

        // A wall screen is looked at, not scrolled: the page must fit the screen it is made for.
        var overflow = await tab.Page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        Assert.True(overflow[0] <= width && overflow[1] <= height, $"At {width}×{height} the wall scrolls: its content is {overflow[0]}×{overflow[1]}");

        var path = Artifacts.PathOf($"wall-{width}x{height}.png");
        await tab.Page.ScreenshotAsync(new() { Path = path });
        Assert.Equal((width, height), Artifacts.PngSize(path));
        tab.AssertHealthy();
    }
}
