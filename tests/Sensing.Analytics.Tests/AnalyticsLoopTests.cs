using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

public sealed class AnalyticsLoopTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int HouseholdCount = 20;

    private sealed class Feed : IAsyncDisposable
    {
        private readonly double[] _waterRegister = new double[HouseholdCount];
        private readonly double[] _electricityRegister = new double[HouseholdCount];
        private readonly CancellationTokenSource _stop = new();
        private long _pushed;

        public Feed(SyntheticCommunity community, AnalyticsOptions? options = null, TimeProvider? time = null)
        {
            Community = community;
            var devices = Enumerable.Range(0, HouseholdCount).SelectMany(i => new[]
            {
                new Device(SyntheticCommunity.WaterMeter(i), DeviceKind.Meter, "c1", community.Households[i].Grid, community.Households[i].Id),
                new Device(SyntheticCommunity.ElectricityMeter(i), DeviceKind.Meter, "c1", community.Households[i].Grid, community.Households[i].Id),
            });
            Registry = new InMemoryDeviceRegistry(community.Households, devices);
            Loop = new AnalyticsLoop(Store, Registry, Sink, time ?? TimeProvider.System,
                Options.Create(options ?? new AnalyticsOptions { TimeZone = "Asia/Shanghai" }), NullLogger<AnalyticsLoop>.Instance);
        }

        public SyntheticCommunity Community { get; }
        public InMemoryReadingStore Store { get; } = new();
        public InMemoryDeviceRegistry Registry { get; }
        public RecordingAlertSink Sink { get; } = new();
        public AnalyticsLoop Loop { get; }
        public HashSet<string> Unplugged { get; } = [];

        public Task StartAsync() => Loop.StartAsync(_stop.Token);

        /// <summary>
        /// Publishes every meter's quarter-hour reading (register and derived consumption) from
        /// <paramref name="from"/> until <paramref name="until"/>, one stored batch per quarter hour, the way ingest
        /// does it: write to the store first, then tell the listener.
        /// </summary>
        public async Task PublishAsync(DateTimeOffset from, DateTimeOffset until)
        {
            for (var time = from; time < until; time = time.AddMinutes(15))
            {
                var batch = new List<Reading>();
                var hour = new DateTimeOffset(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
                for (var i = 0; i < HouseholdCount; i++)
                {
                    var (water, electricity) = Community.Usage(i, hour);
                    _waterRegister[i] += water / 4;
                    _electricityRegister[i] += electricity / 4;
                    var household = Community.Households[i];
                    Add(batch, SyntheticCommunity.WaterMeter(i), household, Metrics.WaterTotal, Metrics.WaterConsumption, time, _waterRegister[i], water / 4);
                    Add(batch, SyntheticCommunity.ElectricityMeter(i), household, Metrics.ElectricityTotal, Metrics.ElectricityConsumption, time, _electricityRegister[i], electricity / 4);
                }
                await Store.WriteAsync(batch, CancellationToken.None);
                await Loop.OnStoredAsync(batch, CancellationToken.None).AsTask().WaitAsync(Timeout);
                _pushed++;
            }
        }

        private void Add(List<Reading> batch, string device, Household household, string register, string consumption, DateTimeOffset time, double total, double used)
        {
            if (Unplugged.Contains(device)) return;
            batch.Add(new Reading(device, "c1", household.Grid, household.Id, register, time, total));
            batch.Add(new Reading(device, "c1", household.Grid, household.Id, consumption, time, used));
        }

        /// <summary>Waits until the loop has handled everything published so far, evaluation included.</summary>
        public async Task IdleAsync()
        {
            using var cts = new CancellationTokenSource(Timeout);
            while (Loop.HandledBatches < _pushed) await Task.Delay(5, cts.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await Loop.StopAsync(CancellationToken.None).WaitAsync(Timeout);
            _stop.Dispose();
            Loop.Dispose();
        }
    }

    [Fact]
    public async Task Batches_through_the_listener_raise_a_drop_and_a_silent_meter()
    {
        var community = new SyntheticCommunity(HouseholdCount);
        // Friday 2026-11-06: household 0 stops using anything from 10:00 to 16:00; household 1 is away and does the same.
        var dropFrom = SyntheticCommunity.At(5, 10);
        community.Drop(0, dropFrom, dropFrom.AddHours(6), 0.01, 0.02);
        community.Drop(1, dropFrom, dropFrom.AddHours(6), 0.0, 0.0);
        await using var feed = new Feed(community);
        feed.Registry.MarkAway("h-01", SyntheticCommunity.At(5, 0), SyntheticCommunity.At(6, 0));
        await feed.StartAsync();

        // Five days of history as a backfill, as fast as the loop takes it.
        await feed.PublishAsync(SyntheticCommunity.Start, SyntheticCommunity.At(5, 0));
        await feed.IdleAsync();
        Assert.Empty(feed.Sink.Alerts);

        // Then live, hour by hour; household 5's electricity meter dies at 12:00.
        for (var hour = 0; hour < 20; hour++)
        {
            if (hour == 12) feed.Unplugged.Add(SyntheticCommunity.ElectricityMeter(5));
            await feed.PublishAsync(SyntheticCommunity.At(5, hour), SyntheticCommunity.At(5, hour + 1));
            await feed.IdleAsync();
        }

        var alerts = await feed.Sink.WaitForAsync(a => a.Count >= 2, Timeout);
        Assert.Equal(2, alerts.Count);

        var drop = Assert.Single(alerts, a => a.Kind == AlertKinds.LivingAloneDrop);
        Assert.Equal("h-00", drop.Household);
        Assert.Equal(dropFrom, drop.StartedAt);
        // A deep drop is raised after a few hours of it, when the hour is judged (its end plus the lateness allowed).
        Assert.InRange(drop.RaisedAt, dropFrom.AddHours(2), dropFrom.AddHours(6).AddMinutes(5));
        Assert.Equal(5, drop.RaisedAt.Minute);
        Assert.Equal(2 * (int)(drop.RaisedAt.AddMinutes(-5) - dropFrom).TotalHours, drop.Evidence.Points.Count);

        var silent = Assert.Single(alerts, a => a.Kind == AlertKinds.DeviceSilent);
        Assert.Equal(SyntheticCommunity.ElectricityMeter(5), silent.Device);
        Assert.Equal("h-05", silent.Household);
        Assert.Equal(SyntheticCommunity.At(5, 11).AddMinutes(45), silent.StartedAt);
        Assert.Equal(SyntheticCommunity.At(5, 12).AddMinutes(45), silent.RaisedAt);
    }

    [Fact]
    public async Task A_quiet_feed_goes_silent_as_wall_time_passes()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new AnalyticsOptions { TimeZone = "Asia/Shanghai", Silence = { CheckEvery = TimeSpan.FromMilliseconds(20) } };
        await using var feed = new Feed(new SyntheticCommunity(HouseholdCount), options, time);
        await feed.StartAsync();

        await feed.PublishAsync(SyntheticCommunity.Start, SyntheticCommunity.At(0, 2));
        await feed.IdleAsync();
        // Several periodic checks with no wall time passing raise nothing.
        await Task.Delay(200);
        Assert.Empty(feed.Sink.Alerts);

        // Nothing arrives for an hour and a bit: every meter is four 15-minute intervals overdue.
        time.Advance(TimeSpan.FromMinutes(61));
        var alerts = await feed.Sink.WaitForAsync(a => a.Count >= 2 * HouseholdCount, Timeout);

        Assert.All(alerts, a =>
        {
            Assert.Equal(AlertKinds.DeviceSilent, a.Kind);
            Assert.Equal(SyntheticCommunity.At(0, 1).AddMinutes(45), a.StartedAt);
            Assert.Equal(SyntheticCommunity.At(0, 2).AddMinutes(45), a.RaisedAt);
        });
        Assert.Equal(2 * HouseholdCount, alerts.Select(a => a.Device).Distinct().Count());
    }

    [Fact]
    public async Task A_failing_store_does_not_stop_the_loop()
    {
        await using var feed = new Feed(new SyntheticCommunity(HouseholdCount));
        await feed.StartAsync();

        // Every hourly evaluation in the first four days throws from the store.
        feed.Store.FailQueries = true;
        await feed.PublishAsync(SyntheticCommunity.Start, SyntheticCommunity.At(4, 0));
        await feed.IdleAsync();
        Assert.True(feed.Store.Queries > 0);

        // The loop is still there: the store recovers, and a meter that dies is still noticed.
        feed.Store.FailQueries = false;
        feed.Unplugged.Add(SyntheticCommunity.WaterMeter(7));
        await feed.PublishAsync(SyntheticCommunity.At(4, 0), SyntheticCommunity.At(4, 2));
        await feed.IdleAsync();

        var alert = Assert.Single(await feed.Sink.WaitForAsync(a => a.Count >= 1, Timeout));
        Assert.Equal(SyntheticCommunity.WaterMeter(7), alert.Device);
        Assert.Equal(SyntheticCommunity.At(4, 1).AddMinutes(45), feed.Loop.Watermark);
    }
}
