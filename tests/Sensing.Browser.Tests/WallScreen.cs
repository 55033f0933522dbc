using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Sensing.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// The wall screen (<c>cockpit/wwwroot/index.html</c>) as an operator sees it. Every selector the tests rely on is
/// here, by the <c>data-testid</c> names agreed for issue 7, so a redesign of the page changes this class, not the tests.
/// </summary>
public sealed class WallScreen(IPage page)
{
    // A tile's text without its age line ("3 秒前更新"), whitespace folded: what a figure is looked for in.
    private const string TileTextScript = """
        tile => {
          const copy = tile.cloneNode(true);
          copy.querySelectorAll('[data-testid^="tile-age-"]').forEach(age => age.remove());
          return copy.textContent.replace(/\s+/g, ' ').trim();
        }
        """;

    public IPage Page => page;

    /// <summary>Opens the wall, signs in through its form (the test host has no demo login) and shows the community.</summary>
    public async Task OpenAsync(string user = "operator", string community = Neighbourhood.Community)
    {
        await page.GotoAsync("/");
        // The sign-in form has no agreed test id; its inputs are found by what they are for.
        var form = page.Locator("form").Filter(new() { Has = page.Locator("input[type=password]") });
        await Expect(form).ToBeVisibleAsync();
        await form.Locator("input[autocomplete=username]").FillAsync(user);
        await form.Locator("input[type=password]").FillAsync(SensingTestHost.Password);
        await form.Locator("[type=submit]").ClickAsync();
        await Expect(form).ToBeHiddenAsync();
        // The selector may hide or disable itself while there is only one community to show; then that one is shown.
        var select = page.GetByTestId("community-select");
        await Expect(select.Locator($"option[value=\"{community}\"]")).ToHaveCountAsync(1);
        if (await select.IsVisibleAsync() && await select.IsEnabledAsync()) await select.SelectOptionAsync(community);
        await Expect(select).ToHaveValueAsync(community);
    }

    public ILocator ConnectionState => page.GetByTestId("connection-state");

    /// <summary>The live-connection indicator says the hub is connected.</summary>
    public Task UntilLiveAsync() => Expect(ConnectionState).ToHaveAttributeAsync("data-state", "live");

    public Task UntilNotLiveAsync() => Expect(ConnectionState).Not.ToHaveAttributeAsync("data-state", "live");

    /// <summary>Ingest's link to its MQTT broker in the header (<c>data-state</c> <c>ok</c>, <c>disconnected</c>, <c>gap</c>).</summary>
    public ILocator BrokerState => page.GetByTestId("broker-state");

    /// <summary>The store's state in the header; <c>data-state</c>: <c>ok</c>, <c>spooling</c>, <c>down</c>, <c>unreadable</c>.</summary>
    public ILocator StoreState => page.GetByTestId("store-state");

    /// <summary>A tile, by its agreed name: households, cameras, gate-passes, parking, open-alerts, closure-rate, time-to-close.</summary>
    public ILocator Tile(string name) => page.GetByTestId($"tile-{name}");

    public ILocator TileAge(string name) => page.GetByTestId($"tile-age-{name}");

    /// <summary>The tile's text without its age line.</summary>
    public Task<string> TileTextAsync(string name) => Tile(name).EvaluateAsync<string>(TileTextScript);

    /// <summary>Waits until the tile (its age line aside) shows <paramref name="figure"/>; fails with what it shows.</summary>
    public async Task UntilTileShowsAsync(string name, Regex figure)
    {
        var deadline = DateTime.UtcNow + BrowserSession.Timeout;
        string text;
        while (!figure.IsMatch(text = await TileTextAsync(name)))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"tile-{name} shows \"{text}\", not {figure}");
            await Task.Delay(100);
        }
    }

    /// <summary>A number on its own (not part of 170 or 1.7).</summary>
    public static Regex Number(int value) => new($@"(^|[^\d.,]){value}([^\d.,]|$)");

    /// <summary>"free / capacity" as the tiles write it.</summary>
    public static Regex OutOf(int part, int whole) => new($@"(^|[^\d.,]){part}\s*/\s*{whole}([^\d.,]|$)");

    public ILocator AlertFeed => page.GetByTestId("alert-feed");

    public ILocator AlertItem(string id) => AlertFeed.Locator($"[data-testid=\"alert-item\"][data-alert-id=\"{id}\"]");

    public ILocator GridMap => page.GetByTestId("grid-map");

    /// <summary>A grid's cell on the map (the wall's own hooks: <c>grid-cell</c> with <c>data-grid</c> and <c>data-open</c>).</summary>
    public ILocator GridCell(string grid) => GridMap.Locator($"[data-testid=\"grid-cell\"][data-grid=\"{grid}\"]");

    public ILocator EvidenceChart => page.GetByTestId("evidence-chart");

    public ILocator LanguageSwitch => page.GetByTestId("lang-switch");
}
