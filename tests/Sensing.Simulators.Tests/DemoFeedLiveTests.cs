namespace Sensing.Simulators.Tests;

public sealed class DemoFeedLiveTests
{
    // 08:30 Beijing on a Tuesday: the morning peak.
    private static readonly DateTimeOffset s_start = new(2026, 11, 24, 0, 30, 0, TimeSpan.Zero);

    [Fact]
    public async Task Live_feed_sends_every_kind_at_its_cadence_and_the_silent_camera_stops_after_sixty_seconds()
    {
        var world = DemoWorld.Create(DemoWorld.DefaultSeed);
        var feed = DemoFeed.Create(world, DemoWorld.DefaultSeed, s_start);
        var clock = new ManualTimeProvider(s_start);

        var messages = await RunAsync(feed, clock, TimeSpan.FromMinutes(5), maxMessagesPerSecond: 40);
        var parsed = messages.Select(NativeMessage.Parse).ToList();

        Assert.All(messages, m => Assert.InRange(m.Time, s_start, s_start.AddMinutes(5)));
        Assert.Equal(["camera", "gate", "meter", "parking"], parsed.Select(m => m.Kind).Distinct().Order());
        Assert.Equal(["c1", "c2"], parsed.Select(m => m.Community).Distinct().Order());

        // Gate passes: a few per second across both communities at the morning peak.
        var gates = parsed.Count(m => m.Kind == "gate") / 300.0;
        Assert.InRange(gates, 1.5, 8);

        // Lot counts every 10 s per lot.
        Assert.All(parsed.Where(m => m.Kind == "parking").GroupBy(m => m.Device), lot => Assert.InRange(lot.Count(), 29, 31));

        // Every camera reports online within seconds, then every 30 s; the silent one goes quiet at 60 s.
        Assert.Equal("c1-cam-02", feed.SilentCamera);
        var cameras = world.Devices.Where(d => d.Kind == Sensing.Telemetry.DeviceKind.Camera).Select(d => d.Id).ToList();
        var online = parsed.Where(m => m.Kind == "camera" && m.Event == "online").ToLookup(m => m.Device);
        Assert.All(cameras, c => Assert.True(online[c].First().Time < s_start.AddSeconds(5)));
        var silent = parsed.Where(m => m.Device == feed.SilentCamera).ToList();
        Assert.NotEmpty(silent);
        Assert.All(silent, m => Assert.True(m.Time < s_start + DemoFeed.SilentAfter));
        Assert.All(cameras.Where(c => c != feed.SilentCamera), c => Assert.InRange(online[c].Count(), 10, 10));
        Assert.Contains(parsed, m => m.Kind == "camera" && m.Event is "person" or "vehicle");

        // The pace never exceeds the cap.
        Assert.All(messages.GroupBy(m => m.Time.UtcTicks / TimeSpan.TicksPerSecond), second => Assert.True(second.Count() <= 41));
    }

    [Fact]
    public async Task Live_meter_readings_are_spread_over_fifteen_minutes_and_continue_the_backfilled_registers()
    {
        var world = DemoWorld.Create(DemoWorld.DefaultSeed);
        var feed = DemoFeed.Create(world, DemoWorld.DefaultSeed, s_start);
        var lastBackfilled = feed.Backfill().Select(NativeMessage.Parse).GroupBy(m => m.Device).ToDictionary(g => g.Key, g => g.Last());
        // Live starts a little after the backfill, as it does once the backfill has been published.
        var clock = new ManualTimeProvider(s_start.AddSeconds(20));

        var meters = (await RunAsync(feed, clock, TimeSpan.FromMinutes(15), maxMessagesPerSecond: 0))
            .Select(NativeMessage.Parse).Where(m => m.Kind == "meter").ToList();

        Assert.Equal(lastBackfilled.Count, meters.Count);
        Assert.Equal(lastBackfilled.Keys.Order(), meters.Select(m => m.Device).Order());
        Assert.All(meters, m => Assert.True(m.Total >= lastBackfilled[m.Device].Total && m.Time > lastBackfilled[m.Device].Time));
        // Spread: no minute carries more than a fifteenth of the meters, give or take one.
        Assert.All(meters.GroupBy(m => m.Time.UtcTicks / TimeSpan.TicksPerMinute), minute => Assert.True(minute.Count() <= meters.Count / 15 + 1));

        // The planted household stays near zero in the live feed too.
        var incident = feed.Incident!;
        var planted = meters.Single(m => m.Device == incident.ElectricityMeter);
        var usual = meters.Where(m => m.Household != incident.Household && m.Device.Contains("-em-"))
            .Average(m => (m.Total - lastBackfilled[m.Device].Total) / (m.Time - lastBackfilled[m.Device].Time).TotalHours);
        var plantedRate = (planted.Total - lastBackfilled[planted.Device].Total) / (planted.Time - lastBackfilled[planted.Device].Time).TotalHours;
        Assert.True(plantedRate < 0.05 * usual, $"planted {plantedRate} kWh/h vs usual {usual} kWh/h");
    }

    [Fact]
    public async Task A_resumed_live_feed_continues_from_the_stored_registers()
    {
        var world = DemoWorld.Create(DemoWorld.DefaultSeed);
        var stored = world.Devices.Where(d => d.Kind == Sensing.Telemetry.DeviceKind.Meter)
            .ToDictionary(d => d.Id, d => (Time: s_start.AddMinutes(-7), Total: 1234.5));
        var feed = DemoFeed.Create(world, DemoWorld.DefaultSeed, s_start, stored);
        Assert.Equal(0, feed.BackfillCount);

        var meters = (await RunAsync(feed, new ManualTimeProvider(s_start), TimeSpan.FromMinutes(15), maxMessagesPerSecond: 0))
            .Select(NativeMessage.Parse).Where(m => m.Kind == "meter").ToList();

        Assert.Equal(stored.Count, meters.Count);
        Assert.All(meters, m => Assert.InRange(m.Total, 1234.5, 1236));
    }

    /// <summary>
    /// Drives the live feed on the manual clock: whenever the feed waits, jump to its timer. The feed is
    /// cancelled once its next wake-up lies at or beyond <paramref name="duration"/>.
    /// </summary>
    private static async Task<List<FeedMessage>> RunAsync(DemoFeed feed, ManualTimeProvider clock, TimeSpan duration, double maxMessagesPerSecond)
    {
        var end = clock.GetUtcNow() + duration;
        var messages = new List<FeedMessage>();
        using var stop = new CancellationTokenSource();
        var watchdog = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        await using var live = feed.LiveAsync(clock, maxMessagesPerSecond, stop.Token).GetAsyncEnumerator(stop.Token);
        while (true)
        {
            var next = live.MoveNextAsync();
            while (!next.IsCompleted)
            {
                Assert.True(DateTime.UtcNow < watchdog, "live feed made no progress");
                if (clock.NextDue is not { } due)
                {
                    await Task.Delay(1); // the feed is between wake-ups on another thread
                    continue;
                }
                if (due >= end)
                {
                    await stop.CancelAsync();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
                    return messages;
                }
                clock.AdvanceToNextTimer();
            }
            Assert.True(await next);
            messages.Add(live.Current);
        }
    }
}
