using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Sensing.Testing;

namespace Sensing.EndToEnd.Tests;

/// <summary>
/// The whole loop on real parts: MQTT device → embedded broker → ingest → DuckDB → analytics (ML.NET) →
/// alert book → SignalR to the grid worker of the household's grid, and not to a worker of another grid.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class WholeLoopTests
{
    private static readonly TimeSpan s_china = TimeSpan.FromHours(8);
    // Thirteen days of history ending on a weekday afternoon, local time (the welfare model learns from each household's
    // last days against its usual day, so it needs more than a few days of a few households); the elderly resident's use
    // stops at 08:00 on the last day.
    private static readonly DateTimeOffset s_start = new(2026, 11, 2, 0, 0, 0, s_china);
    private static readonly DateTimeOffset s_end = new(2026, 11, 15, 16, 0, 0, s_china);
    private static readonly DateTimeOffset s_dropFrom = new(2026, 11, 15, 8, 0, 0, s_china);

    [Fact]
    public async Task Meter_drop_reaches_the_grid_worker_of_its_grid_only()
    {
        // Default settings: households are judged from their second day of history, on the population prior until they
        // have two weeks of their own, through a first weekend nobody has lived yet (the feed starts on a Monday), and
        // nothing but the dropped household is raised.
        await using var host = await SensingTestHost.StartAsync();
        var admin = await host.TokenAsync("admin");
        using var adminHttp = host.Http(admin);
        var households = Enumerable.Range(1, 16).Select(i => (Id: $"h-{i:00}", Grid: i <= 8 ? "g1" : "g2", Elderly: i is 1 or 9)).ToList();
        foreach (var (id, grid, elderly) in households)
        {
            (await adminHttp.PostAsJsonAsync("/api/households", new { id, community = "c1", grid, elderly_living_alone = elderly })).EnsureSuccessStatusCode();
            foreach (var meter in new[] { "wm", "em" })
            {
                (await adminHttp.PostAsJsonAsync("/api/devices", new { id = $"{meter}-{id[2..]}", kind = "meter", community = "c1", grid, household = id })).EnsureSuccessStatusCode();
            }
        }

        var worker1Alerts = Channel.CreateUnbounded<JsonElement>();
        var worker2Alerts = Channel.CreateUnbounded<JsonElement>();
        await using var worker1 = await host.ConnectHubAsync("/hubs/worker", await host.TokenAsync("worker1"));
        await using var worker2 = await host.ConnectHubAsync("/hubs/worker", await host.TokenAsync("worker2"));
        worker1.On<JsonElement>("alert", a => worker1Alerts.Writer.TryWrite(a));
        worker2.On<JsonElement>("alert", a => worker2Alerts.Writer.TryWrite(a));

        using var device = await host.ConnectDeviceAsync("e2e-meters");
        for (var t = s_start; t <= s_end + TimeSpan.FromMinutes(10); t += t < s_end ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(10))
        {
            foreach (var (id, _, _) in households)
            {
                await SensingTestHost.PublishAsync(device, $"sensing/c1/meter/wm-{id[2..]}", MeterPayload(t, "water", Register(id, "water", t), id));
                await SensingTestHost.PublishAsync(device, $"sensing/c1/meter/em-{id[2..]}", MeterPayload(t, "electricity", Register(id, "electricity", t), id));
            }
        }
        // A broken payload in the middle of a healthy feed: kept with its reason, and ingest carries on.
        await SensingTestHost.PublishAsync(device, "sensing/c1/meter/wm-01", """{"type":"water","total":"lots","household":"h-01"}""");

        var alert = await ReadAlertAsync(worker1Alerts, TimeSpan.FromSeconds(120));
        Assert.Equal("living_alone_drop", alert.GetProperty("kind").GetString());
        Assert.Equal("h-01", alert.GetProperty("household").GetString());
        Assert.Equal("c1", alert.GetProperty("community").GetString());
        Assert.Equal("g1", alert.GetProperty("grid").GetString());
        Assert.Equal("open", alert.GetProperty("status").GetString());
        var startedAt = alert.GetProperty("started_at").GetDateTimeOffset();
        var raisedAt = alert.GetProperty("raised_at").GetDateTimeOffset();
        Assert.InRange(startedAt, s_dropFrom - TimeSpan.FromHours(1), s_dropFrom + TimeSpan.FromHours(2));
        Assert.True(raisedAt > startedAt && raisedAt <= s_end + TimeSpan.FromHours(1), $"raised_at {raisedAt} is in event time, after the onset {startedAt}");
        var points = alert.GetProperty("evidence").GetProperty("points").EnumerateArray().ToList();
        Assert.NotEmpty(points);
        Assert.Contains(points, p => p.GetProperty("metric").GetString() == "water.consumption" && p.GetProperty("expected").GetDouble() > p.GetProperty("observed").GetDouble());
        Assert.Contains(points, p => p.GetProperty("metric").GetString() == "electricity.consumption" && p.GetProperty("expected").GetDouble() > p.GetProperty("observed").GetDouble());

        // The other grid's worker heard nothing, over SignalR or HTTP.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(worker2Alerts.Reader.TryRead(out var leaked), $"worker2 (grid g2) received an alert of grid g1: {leaked}");
        using (var worker2Http = host.Http(await host.TokenAsync("worker2")))
        {
            var seen = await worker2Http.GetFromJsonAsync<JsonElement>("/api/alerts");
            Assert.DoesNotContain(seen.EnumerateArray(), a => a.GetProperty("household").GetString() == "h-01");
            Assert.Equal(HttpStatusCode.Forbidden, (await worker2Http.PostAsync($"/api/alerts/{alert.GetProperty("id").GetString()}/ack", null)).StatusCode);
        }
        using (var worker1Http = host.Http(await host.TokenAsync("worker1")))
        {
            var seen = await worker1Http.GetFromJsonAsync<JsonElement>("/api/alerts");
            Assert.Contains(seen.EnumerateArray(), a => a.GetProperty("id").GetString() == alert.GetProperty("id").GetString());
        }

        // The malformed message was dead-lettered with a specific reason.
        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        var letters = await SensingTestHost.EventuallyAsync(async () =>
        {
            var list = await operatorHttp.GetFromJsonAsync<JsonElement[]>("/api/deadletters");
            return list is { Length: > 0 } ? list : null;
        }, TimeSpan.FromSeconds(30), "the dead letter");
        Assert.Contains(letters, l => l.GetProperty("reason").GetString() == "meter: field 'total' must be a number"
            && l.GetProperty("topic").GetString() == "sensing/c1/meter/wm-01");

        // Stored consumption: the dropped household's last hours are near zero, a neighbour's are not.
        var from = (s_end - TimeSpan.FromHours(6)).UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        var to = s_end.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        var dropped = await operatorHttp.GetFromJsonAsync<JsonElement>($"/api/readings?device=wm-01&metric=water.consumption&from={from}&to={to}&every=1h&agg=sum");
        var neighbour = await operatorHttp.GetFromJsonAsync<JsonElement>($"/api/readings?device=wm-02&metric=water.consumption&from={from}&to={to}&every=1h&agg=sum");
        Assert.Equal(6, dropped.GetArrayLength());
        Assert.All(dropped.EnumerateArray().Skip(1), b => Assert.True(b.GetProperty("value").GetDouble() < 0.002));
        Assert.True(neighbour.EnumerateArray().Sum(b => b.GetProperty("value").GetDouble()) > 0.05);

        await host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(10));
        host.AssertNoLoggedErrors();
    }

    private static async Task<JsonElement> ReadAlertAsync(Channel<JsonElement> alerts, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await alerts.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No alert reached worker1 within {timeout.TotalSeconds:0}s");
        }
    }

    private static string MeterPayload(DateTimeOffset time, string type, double total, string household) =>
        JsonSerializer.Serialize(new { ts = time.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture), type, total = Math.Round(total, 4), household });

    /// <summary>
    /// A deterministic register: usage per hour follows a day (little at night, peaks morning and evening), scaled per
    /// household; a dropped household uses 1% of that from the drop on.
    /// </summary>
    private static double Register(string household, string type, DateTimeOffset until)
    {
        var level = 1 + int.Parse(household[2..], CultureInfo.InvariantCulture) % 4 * 0.15;
        var perHour = type == "water" ? 0.02 : 0.3;
        var total = type == "water" ? 100.0 : 2000.0;
        for (var t = s_start; t < until; t += TimeSpan.FromMinutes(10))
        {
            var hour = t.ToOffset(s_china).Hour;
            var shape = hour is >= 6 and < 9 ? 1.8 : hour is >= 17 and < 22 ? 1.6 : hour is >= 23 or < 6 ? 0.2 : 1.0;
            var low = household == "h-01" && t >= s_dropFrom;
            total += perHour * level * shape / 6 * (low ? 0.01 : 1);
        }
        return total;
    }
}
