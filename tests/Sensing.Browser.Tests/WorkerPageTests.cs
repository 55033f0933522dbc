using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>The grid worker's phone page on its own: a dropped network in a stairwell loses no alert.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class WorkerPageTests(BrowserSession session)
{
    [BrowserFact]
    public async Task After_a_network_drop_the_worker_page_reconnects_and_shows_the_alert_it_missed()
    {
        // A host of its own with no alert yet: the page has seen no alert (no sequence number) when the drop comes.
        var (host, world, devices) = await Neighbourhood.StartQuietAsync();
        await using var _ = host;
        using var __ = devices;
        await using var phone = await session.OpenTabAsync(390, 844, deviceScaleFactor: 3, mobile: true, host: host);
        var worker = new WorkerPage(phone.Page);
        await worker.SignInAsync("worker1");
        await worker.UntilLiveAsync();

        await phone.DropNetworkAsync();
        await worker.UntilNotLiveAsync();
        var alert = await world.RaiseSmokeAsync("g1");
        phone.RestoreNetwork();

        await worker.UntilLiveAsync();
        await Expect(worker.Alert(alert.GetProperty("id").GetString()!)).ToBeVisibleAsync();
        phone.AssertHealthy();
        host.AssertNoLoggedErrors();
    }
}
