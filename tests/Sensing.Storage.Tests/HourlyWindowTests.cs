using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

/// <summary>The hourly windows analytics judges households from: per series and hour, from the hour rollup.</summary>
public sealed class HourlyWindowTests : IAsyncLifetime
{
    private static readonly DateTimeOffset H0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private async Task<List<HourlySeries>> WindowAsync(string[] metrics, DateTimeOffset from, DateTimeOffset to, string? community = null)
    {
        var list = new List<HourlySeries>();
        await foreach (var series in _db.Store.HourlyAsync(metrics, from, to, community, CancellationToken.None)) list.Add(series);
        return list;
    }

    [Fact]
    public async Task Each_series_hour_has_its_count_sum_and_last_time_per_household()
    {
        // Water of one flat every 15 minutes over three hours, written in three batches, a neighbour in another
        // community, and in hour 1 two gate passes of the flat, one of another flat and one nobody was recognised in.
        var water = Enumerable.Range(0, 12).Select(i => new Reading("wm-1", "c1", "g1", "h-1", Metrics.WaterConsumption, H0.AddMinutes(15 * i + 7), 0.25 * i)).ToList();
        foreach (var part in water.Chunk(5)) await _db.Store.WriteAsync(part, CancellationToken.None).Within();
        await _db.Store.WriteAsync(
        [
            new Reading("wm-9", "c2", "g1", "h-9", Metrics.WaterConsumption, H0.AddMinutes(30), 1.5),
            new Reading("gate-1", "c1", "g1", "h-1", Metrics.GatePass, H0.AddMinutes(70), 1, "out"),
            new Reading("gate-1", "c1", "g1", "h-1", Metrics.GatePass, H0.AddMinutes(110), 1, "in"),
            new Reading("gate-1", "c1", "g1", "h-2", Metrics.GatePass, H0.AddMinutes(100), 1, "in"),
            new Reading("gate-1", "c1", "g1", null, Metrics.GatePass, H0.AddMinutes(105), 1, "in"),
            new Reading("wm-1", "c1", "g1", "h-1", Metrics.WaterTotal, H0.AddMinutes(7), 100),
        ], CancellationToken.None).Within();

        var window = await WindowAsync([Metrics.WaterConsumption, Metrics.GatePass], H0, H0.AddHours(3), "c1");

        var flat = window.Where(s => s.Device == "wm-1").ToList();
        Assert.Equal([H0, H0.AddHours(1), H0.AddHours(2)], flat.Select(s => s.Hour));
        for (var h = 0; h < 3; h++)
        {
            Assert.Equal(4, flat[h].Count);
            Assert.Equal(water.Skip(4 * h).Take(4).Sum(r => r.Value), flat[h].Sum, 10);
            Assert.Equal(H0.AddHours(h).AddMinutes(52), flat[h].LastTime);
            Assert.Equal(("h-1", "c1", "g1", (string?)null), (flat[h].Household, flat[h].Community, flat[h].Grid, flat[h].Label));
        }
        // Gate passes come per direction and per household that walked through (or none); other communities and
        // metrics stay out.
        var passes = window.Where(s => s.Metric == Metrics.GatePass).ToList();
        Assert.Equal([("out", "h-1", H0.AddMinutes(70)), ("in", "h-2", H0.AddMinutes(100)), ("in", null, H0.AddMinutes(105)), ("in", "h-1", H0.AddMinutes(110))],
            passes.OrderBy(p => p.LastTime).Select(p => (p.Label!, p.Household, p.LastTime)));
        Assert.All(passes, p => Assert.Equal(1, p.Count));
        Assert.DoesNotContain(window, s => s.Device == "wm-9" || s.Metric == Metrics.WaterTotal);
        // Ordered by hour, then device, metric, label and household.
        Assert.Equal(window.OrderBy(s => s.Hour).ThenBy(s => s.Device, StringComparer.Ordinal).ThenBy(s => s.Metric, StringComparer.Ordinal)
            .ThenBy(s => s.Label, StringComparer.Ordinal).ThenBy(s => s.Household, StringComparer.Ordinal), window);

        // Without a community, every community; a window of one hour, only that hour.
        Assert.Contains(await WindowAsync([Metrics.WaterConsumption], H0, H0.AddHours(1)), s => s.Device == "wm-9");
        Assert.Equal(H0.AddHours(1), Assert.Single(await WindowAsync([Metrics.WaterConsumption], H0.AddHours(1), H0.AddHours(2)), s => s.Device == "wm-1").Hour);
    }

    [Fact]
    public async Task A_window_must_be_whole_hours()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => WindowAsync([Metrics.WaterConsumption], H0.AddMinutes(5), H0.AddHours(1)));
        Assert.Empty(await WindowAsync([Metrics.WaterConsumption], H0, H0));
    }
}
