using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Alerts;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>The alert book is durable: a restarted service on the same data folder lists the same alerts, in the same state.</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task Alerts_and_their_status_survive_a_restart()
    {
        var dataDirectory = SensingTestHost.NewDataDirectory();
        try
        {
            string openId, acknowledgedId, resolvedId;
            Sensing.Telemetry.Alert resolvedAlert;
            long sequence;
            await using (var first = await SensingTestHost.StartAsync(dataDirectory: dataDirectory))
            {
                openId = (await Scenario.RaiseAsync(first, "c1", "g1")).Id;
                acknowledgedId = (await Scenario.RaiseAsync(first, "c1", "g1")).Id;
                resolvedAlert = await Scenario.RaiseAsync(first, "c1", "g2");
                resolvedId = resolvedAlert.Id;
                using var worker1 = first.Http(await first.TokenAsync("worker1"));
                Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1, HttpMethod.Post, $"/api/alerts/{acknowledgedId}/ack")).Status);
                using var operatorHttp = first.Http(await first.TokenAsync("operator"));
                Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/{resolvedId}/resolve", new { note = "done before the restart" })).Status);
                sequence = first.App.Services.GetRequiredService<AlertBook>().Sequence;
                first.AssertNoLoggedErrors();
            }

            await using var second = await SensingTestHost.StartAsync(dataDirectory: dataDirectory);
            using var http = second.Http(await second.TokenAsync("operator"));
            var alerts = await Scenario.GetJsonAsync(http, "/api/alerts");

            Assert.Equal("open", Scenario.Single(alerts, openId).GetProperty("status").GetString());
            var acknowledged = Scenario.Single(alerts, acknowledgedId);
            Assert.Equal("acknowledged", acknowledged.GetProperty("status").GetString());
            Assert.Equal("worker1", acknowledged.GetProperty("updated_by").GetString());
            var resolved = Scenario.Single(alerts, resolvedId);
            Assert.Equal("resolved", resolved.GetProperty("status").GetString());
            Assert.Equal("done before the restart", resolved.GetProperty("note").GetString());

            // The change log carries on where it stopped, so a client's last-seen sequence stays meaningful.
            Assert.Equal(sequence, second.App.Services.GetRequiredService<AlertBook>().Sequence);
            var next = await Scenario.RaiseAsync(second, "c1", "g1");
            Assert.True(Scenario.Single(await Scenario.GetJsonAsync(http, "/api/alerts"), next.Id).GetProperty("sequence").GetInt64() > sequence);

            // The loop closes on an alert raised before the restart, and a re-raise of a known alert is ignored.
            using var worker1Again = second.Http(await second.TokenAsync("worker1"));
            Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker1Again, HttpMethod.Post, $"/api/alerts/{acknowledgedId}/resolve", new { note = "after" })).Status);
            await (second.App.Services.GetRequiredService<AlertBook>() as Sensing.Telemetry.IAlertSink).RaiseAsync(resolvedAlert, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
            Assert.Equal("resolved", Scenario.Single(await Scenario.GetJsonAsync(http, "/api/alerts"), resolvedId).GetProperty("status").GetString());
            Assert.Equal(HttpStatusCode.Conflict, (await Scenario.SendAsync(http, HttpMethod.Post, $"/api/alerts/{resolvedId}/resolve")).Status);
            second.AssertNoLoggedErrors();
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }
}
