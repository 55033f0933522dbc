using Microsoft.Playwright;
using Sensing.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// The wall screen (<c>cockpit/wwwroot/index.html</c>) as an operator sees it. Every selector the tests rely on is
/// here, so a redesign of the page changes this class, not the tests.
/// </summary>
public sealed class WallScreen(IPage page)
{
    public IPage Page => page;

    /// <summary>Opens the wall, signs in through its form (the test host has no demo login) and shows the community.</summary>
    public async Task OpenAsync(string user = "operator", string community = Neighbourhood.Community)
    {
        await page.GotoAsync("/");
        var form = page.Locator("#login-form");
        await Expect(form).ToBeVisibleAsync();
        await form.Locator("input[autocomplete=username]").FillAsync(user);
        await form.Locator("input[type=password]").FillAsync(SensingTestHost.Password);
        await form.Locator("[type=submit]").ClickAsync();
        await Expect(form).ToBeHiddenAsync();
        // The selector hides itself while there is only one community to show; then that one is shown.
        var select = page.Locator("#community-select");
        await Expect(select.Locator($"option[value=\"{community}\"]")).ToHaveCountAsync(1);
        if (await select.IsVisibleAsync()) await select.SelectOptionAsync(community);
        await Expect(select).ToHaveValueAsync(community);
    }

    /// <summary>The live-connection indicator: the hub is connected.</summary>
    public Task UntilLiveAsync() => Expect(ConnectionState).ToHaveClassAsync(Live);

    public ILocator ConnectionState => page.Locator("#conn");

    public static readonly System.Text.RegularExpressions.Regex Live = new(@"\bconn-live\b");

    /// <summary>A tile's main figure, e.g. <c>households</c>, <c>cameras-online</c>.</summary>
    public ILocator Figure(string field) => page.Locator($"[data-field=\"{field}\"]");

    public ILocator TileTitle(string tile) => page.Locator($"[data-tile=\"{tile}\"] h2");

    public ILocator ClosureRate => Figure("closure");

    public ILocator AlertFeed => page.Locator("#alert-list");

    public ILocator AlertItem(string id) => AlertFeed.Locator($"[data-id=\"{id}\"]");

    public ILocator LanguageSwitch => page.Locator("#lang-switch");
}
