using Microsoft.Playwright;
using Sensing.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>
/// The grid worker's phone page (<c>cockpit/wwwroot/worker.html</c>). Every selector the tests rely on is here (the
/// <c>data-testid</c> names agreed for issue 7), so a redesign of the page changes this class, not the tests.
/// </summary>
public sealed class WorkerPage(IPage page)
{
    public IPage Page => page;

    public async Task SignInAsync(string user)
    {
        await page.GotoAsync("/worker.html");
        await page.GetByTestId("signin-username").FillAsync(user);
        await page.GetByTestId("signin-password").FillAsync(SensingTestHost.Password);
        await page.GetByTestId("signin-submit").ClickAsync();
        // Signed in: the form goes; the list is there (empty, and so of no size, until an alert comes).
        await Expect(page.GetByTestId("signin-submit")).ToBeHiddenAsync();
        await Expect(page.GetByTestId("worker-alerts")).ToBeAttachedAsync();
    }

    public ILocator Alerts => page.GetByTestId("worker-alerts");

    public ILocator Alert(string id) => Alerts.Locator($"[data-testid=\"worker-alert\"][data-alert-id=\"{id}\"]");

    public ILocator LanguageSwitch => page.GetByTestId("worker-lang-switch");

    /// <summary>The connection indicator (the page's own hook, <c>worker-connection</c> with <c>data-state</c>).</summary>
    public ILocator ConnectionState => page.GetByTestId("worker-connection");

    public Task UntilLiveAsync() => Expect(ConnectionState).ToHaveAttributeAsync("data-state", "live");

    public Task UntilNotLiveAsync() => Expect(ConnectionState).Not.ToHaveAttributeAsync("data-state", "live");

    /// <summary>Waits until the alert shows <paramref name="status"/> (open, acknowledged, on_the_way, resolved, escalated).</summary>
    public Task UntilStatusAsync(string id, string status) => Expect(Alert(id)).ToHaveAttributeAsync("data-status", status);

    public Task AcknowledgeAsync(string id) => Alert(id).GetByTestId("ack").ClickAsync();

    public Task OnTheWayAsync(string id) => Alert(id).GetByTestId("on-the-way").ClickAsync();

    public async Task ResolveAsync(string id, string note)
    {
        var alert = Alert(id);
        await alert.GetByTestId("resolve").ClickAsync();
        await alert.GetByTestId("resolve-note").FillAsync(note);
        await alert.GetByTestId("resolve-submit").ClickAsync();
    }
}
