using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// The closed loop with people's pages: a grid worker on a phone acknowledges, goes and resolves an alert of their
/// grid, and the wall screen's closure rate moves.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class ClosedLoopTests(BrowserSession session)
{
    private const string Note = "已关闭阀门，现场无明火 / valve closed, no fire";

    [BrowserFact]
    public async Task Worker_acknowledges_goes_and_resolves_on_the_phone_and_the_wall_closure_rate_changes()
    {
        await using var wallTab = await session.OpenTabAsync(1920, 1080);
        var wall = new WallScreen(wallTab.Page);
        await wall.OpenAsync();
        await wall.UntilLiveAsync();
        await using var phone = await session.OpenTabAsync(390, 844, deviceScaleFactor: 3, mobile: true);
        var worker = new WorkerPage(phone.Page);
        await worker.SignInAsync("worker1");

        // Raised once both pages are up: it reaches the phone and the wall by push.
        var alert = await session.World.RaiseSmokeAsync("g1");
        var id = alert.GetProperty("id").GetString()!;
        await Expect(worker.Alert(id)).ToBeVisibleAsync();
        await Expect(wall.AlertItem(id)).ToBeVisibleAsync();
        var before = ClosureRate(await session.World.TilesAsync());
        await wall.UntilTileShowsAsync("closure-rate", PercentPattern(before));
        var shownBefore = await wall.TileTextAsync("closure-rate");

        await worker.AcknowledgeAsync(id);
        await worker.UntilStatusAsync(id, "acknowledged");
        await worker.OnTheWayAsync(id);
        await worker.UntilStatusAsync(id, "on_the_way");
        await worker.ResolveAsync(id, Note);
        await worker.UntilStatusAsync(id, "resolved");

        // The book took it from the page, with who and the note.
        using var operatorHttp = await session.HttpAsync("operator");
        var resolved = await BrowserSession.UntilAsync(async () =>
        {
            var list = await BrowserSession.GetJsonAsync(operatorHttp, $"/api/alerts?community={Neighbourhood.Community}&status=resolved");
            return list.EnumerateArray().Where(a => a.GetProperty("id").GetString() == id).Select(a => (JsonElement?)a).FirstOrDefault();
        }, $"alert {id} resolved");
        Assert.Equal(Note, resolved.GetProperty("note").GetString());
        Assert.Equal("worker1", resolved.GetProperty("resolved_by").GetString());

        var after = ClosureRate(await session.World.TilesAsync());
        Assert.True(after > before, $"closure rate {before} → {after}");
        await wall.UntilTileShowsAsync("closure-rate", PercentPattern(after));
        Assert.NotEqual(shownBefore, await wall.TileTextAsync("closure-rate"));
        wallTab.AssertHealthy();
        phone.AssertHealthy();
        session.Host.AssertNoLoggedErrors();
    }

    private static double ClosureRate(JsonElement tiles) =>
        tiles.TryGetProperty("closure", out var closure) && closure.ValueKind == JsonValueKind.Object
            ? closure.GetProperty("total").GetProperty("closure_rate").GetDouble()
            : tiles.GetProperty("closure_rate").GetDouble();

    /// <summary>The rate as a percentage followed by its sign, whether the page rounds it (67 %) or shows a decimal (66.7 %).</summary>
    private static Regex PercentPattern(double rate)
    {
        var percent = rate * 100;
        var whole = Math.Round(percent).ToString(CultureInfo.InvariantCulture);
        var floor = Math.Floor(percent).ToString(CultureInfo.InvariantCulture);
        return new Regex($@"(^|[^\d.])({whole}|{floor}(\.\d)?)\s*%");
    }
}
