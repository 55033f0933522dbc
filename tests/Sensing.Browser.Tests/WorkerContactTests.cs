using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Alerts;
using Sensing.Telemetry;
using Sensing.Testing;
using static Microsoft.Playwright.Assertions;

namespace Sensing.Browser.Tests;

/// <summary>The worker about to call a resident asks the page for the household's contact; it is not in the alert.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
[Trait("Category", "Integration")]
public sealed class WorkerContactTests(BrowserSession session)
{
    [BrowserFact]
    public async Task A_household_alert_shows_the_residents_name_and_a_phone_link_when_the_worker_asks()
    {
        await using var host = await SensingTestHost.StartAsync();
        const string household = "h-contact-1";
        using (var admin = host.Http(await host.TokenAsync("admin")))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync("/api/households", new { id = household, community = "c1", grid = "g1", elderly_living_alone = true })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/households/{household}/contact",
                new { residents = new[] { "张桂兰" }, phone = "138 1234 5678", emergency_name = "李明", emergency_phone = "13900001111" })).StatusCode);
        }
        var now = DateTimeOffset.UtcNow;
        var alert = new Alert
        {
            Id = Alert.MakeId(AlertKinds.LivingAloneDrop, household, now.AddHours(-6)),
            Kind = AlertKinds.LivingAloneDrop,
            Severity = AlertSeverity.Critical,
            Community = "c1",
            Grid = "g1",
            Household = household,
            StartedAt = now.AddHours(-6),
            RaisedAt = now,
            Evidence = new AlertEvidence("no water for 6 hours", [new EvidencePoint(now.AddHours(-6), Metrics.WaterConsumption, 0.05, 0)]),
        };
        await ((IAlertSink)host.App.Services.GetRequiredService<AlertBook>()).RaiseAsync(alert, CancellationToken.None).AsTask().WaitAsync(BrowserSession.Timeout);

        await using var phone = await session.OpenTabAsync(390, 844, deviceScaleFactor: 3, mobile: true, host: host);
        var worker = new WorkerPage(phone.Page);
        await worker.SignInAsync("worker1");
        await worker.UntilLiveAsync();
        var card = worker.Alert(alert.Id);
        await Expect(card).ToBeVisibleAsync();
        await Expect(card).Not.ToContainTextAsync("张桂兰");

        await card.GetByTestId("show-contact").ClickAsync();
        await Expect(card.Locator(".contact")).ToContainTextAsync("张桂兰");
        await Expect(card.Locator(".contact a").First).ToHaveAttributeAsync("href", "tel:13812345678");
        await Expect(card.Locator(".contact")).ToContainTextAsync("李明");
        phone.AssertHealthy();
        host.AssertNoLoggedErrors();
    }
}
