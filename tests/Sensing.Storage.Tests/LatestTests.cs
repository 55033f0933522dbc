using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class LatestTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync()
    {
        _db = await TempStore.CreateAsync();
        Reading[] batch =
        [
            // Gate g1 in c1: "in" newest at 08:00, "out" newest at 09:00.
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(7), 1, label: "in"),
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(8), 2, label: "in"),
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(9), 3, label: "out"),
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(6), 4, label: "out"),
            // Gate g2 in c1 without a label.
            Sample.Point("g2", Metrics.GatePass, Day.AddHours(5), 5),
            Sample.Point("g2", Metrics.GatePass, Day.AddHours(4), 6),
            // Gate g3 in c2, and a different metric of g1 that must not count.
            Sample.Point("g3", Metrics.GatePass, Day.AddHours(10), 7, community: "c2", label: "in"),
            Sample.Point("g1", Metrics.GateDenied, Day.AddHours(12), 8, label: "in"),
        ];
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task Latest_gives_the_newest_reading_of_each_series_in_the_community()
    {
        var latest = await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within();

        Assert.Equal(
            [
                new LatestReading("g1", Metrics.GatePass, "in", Day.AddHours(8), 2),
                new LatestReading("g1", Metrics.GatePass, "out", Day.AddHours(9), 3),
                new LatestReading("g2", Metrics.GatePass, null, Day.AddHours(5), 5),
            ],
            latest);
        Assert.Empty(await _db.Store.LatestAsync("c9", Metrics.GatePass, CancellationToken.None).Within());
    }

    [Fact]
    public async Task Latest_per_device_spans_communities_and_labels()
    {
        var latest = await _db.Store.LatestPerDeviceAsync(Metrics.GatePass, CancellationToken.None).Within();

        Assert.Equal(
            [
                new LatestReading("g1", Metrics.GatePass, "out", Day.AddHours(9), 3),
                new LatestReading("g2", Metrics.GatePass, null, Day.AddHours(5), 5),
                new LatestReading("g3", Metrics.GatePass, "in", Day.AddHours(10), 7),
            ],
            latest);
    }
}
