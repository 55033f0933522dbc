using Sensing.Telemetry;

namespace Sensing.Simulators.Tests;

public sealed class DemoFeedBackfillTests
{
    // 08:30 on a Tuesday in Beijing: the morning peak.
    private static readonly DateTimeOffset s_now = new(2026, 11, 24, 0, 30, 0, TimeSpan.Zero);
    private static readonly RegistrySnapshot s_world = DemoWorld.Create(DemoWorld.DefaultSeed);
    private static readonly Lazy<(DemoFeed Feed, List<FeedMessage> Messages)> s_fresh = new(() =>
    {
        var feed = DemoFeed.Create(s_world, DemoWorld.DefaultSeed, s_now);
        return (feed, feed.Backfill().ToList());
    });

    private static DemoFeed Fresh => s_fresh.Value.Feed;
    private static List<FeedMessage> Messages => s_fresh.Value.Messages;

    [Fact]
    public void Same_seed_gives_a_byte_identical_backfill()
    {
        var again = DemoFeed.Create(DemoWorld.Create(DemoWorld.DefaultSeed), DemoWorld.DefaultSeed, s_now).Backfill().ToList();

        Assert.Equal(Messages.Count, again.Count);
        for (var i = 0; i < again.Count; i++)
        {
            Assert.Equal(Messages[i].Topic, again[i].Topic);
            Assert.True(Messages[i].Payload.Span.SequenceEqual(again[i].Payload.Span), $"message {i} differs");
        }
        var otherSeed = DemoFeed.Create(s_world, DemoWorld.DefaultSeed + 1, s_now).Backfill().First();
        Assert.False(Messages[0].Payload.Span.SequenceEqual(otherSeed.Payload.Span));
    }

    [Fact]
    public void Backfill_is_hourly_readings_of_every_meter_for_fourteen_days_in_event_time_order()
    {
        var meters = s_world.Devices.Count(d => d.Kind == DeviceKind.Meter);
        var slots = 14 * 24 + 1;

        Assert.Equal(meters * slots, Messages.Count);
        Assert.Equal(Messages.Count, Fresh.BackfillCount);
        Assert.Equal(new DateTimeOffset(2026, 11, 10, 0, 0, 0, TimeSpan.Zero), Messages[0].Time);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero), Messages[^1].Time);
        Assert.All(Messages.Zip(Messages.Skip(1)), pair => Assert.True(pair.First.Time <= pair.Second.Time));
        Assert.All(Messages, m => Assert.Equal(0, m.Time.UtcTicks % TimeSpan.TicksPerHour));
    }

    [Fact]
    public void Every_message_follows_the_native_wire_format()
    {
        var parsed = Messages.Select(NativeMessage.Parse).ToList();

        Assert.All(parsed, m => Assert.Equal("meter", m.Kind));
        var devices = s_world.Devices.ToDictionary(d => d.Id);
        Assert.All(parsed, m =>
        {
            var device = devices[m.Device];
            Assert.Equal(device.Community, m.Community);
            Assert.Equal(device.Household, m.Household);
            Assert.Equal(m.Device.Contains("-wm-") ? "water" : "electricity", m.Payload.GetProperty("type").GetString());
        });
    }

    [Fact]
    public void Registers_never_decrease_and_times_strictly_increase_per_meter()
    {
        foreach (var meter in Messages.Select(NativeMessage.Parse).GroupBy(m => m.Device))
        {
            var readings = meter.ToList();
            Assert.All(readings.Zip(readings.Skip(1)), pair =>
            {
                Assert.True(pair.Second.Time > pair.First.Time);
                Assert.True(pair.Second.Total >= pair.First.Total, $"{meter.Key} register fell at {pair.Second.Time:O}");
            });
        }
    }

    [Fact]
    public void Consumption_has_realistic_magnitudes_and_a_daily_rhythm()
    {
        var hourly = HourlyConsumption(Messages);
        var beforeIncident = hourly.Where(c => c.Household != Fresh.Incident!.Household).ToList();

        var water = beforeIncident.Where(c => c.Water).Average(c => c.Amount);
        var electricity = beforeIncident.Where(c => !c.Water).Average(c => c.Amount);
        Assert.InRange(water, 0.01, 0.05);
        Assert.InRange(electricity, 0.1, 1.0);

        // Readings stamped 08:00 Beijing cover 07:00–08:00, the morning peak; 04:00 covers the small hours.
        static double At(IEnumerable<Consumption> c, int localHour) =>
            c.Where(x => x.Water && x.End.ToOffset(TimeSpan.FromHours(8)).Hour == localHour).Average(x => x.Amount);
        Assert.True(At(beforeIncident, 8) > 4 * At(beforeIncident, 4));

        var elderly = s_world.Households.Where(h => h.ElderlyLivingAlone).Select(h => h.Id).ToHashSet();
        Assert.True(beforeIncident.Where(c => elderly.Contains(c.Household)).Average(c => c.Amount)
            < beforeIncident.Where(c => !elderly.Contains(c.Household)).Average(c => c.Amount));
    }

    [Fact]
    public void The_planted_household_uses_near_nothing_for_the_last_six_hours_while_others_are_normal()
    {
        var incident = Fresh.Incident;
        Assert.NotNull(incident);
        var household = s_world.Households.Single(h => h.Id == incident.Household);
        Assert.Equal(("c1", "g1", true), (household.Community, household.Grid, household.ElderlyLivingAlone));
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 18, 0, 0, TimeSpan.Zero), incident.Onset);
        Assert.Equal(["c1-em-" + incident.Household[^3..], "c1-wm-" + incident.Household[^3..]], new[] { incident.ElectricityMeter, incident.WaterMeter }.Order());

        var lastSlot = Messages[^1].Time;
        var totals = Messages.Select(NativeMessage.Parse).ToLookup(m => m.Device);
        foreach (var meter in totals)
        {
            var at = meter.ToDictionary(m => m.Time, m => m.Total);
            double Window(int daysBack) => at[lastSlot.AddDays(-daysBack)] - at[lastSlot.AddDays(-daysBack).AddHours(-6)];
            var usual = Enumerable.Range(1, 13).Average(Window);
            var ratio = Window(0) / usual;
            if (meter.Key == incident.WaterMeter || meter.Key == incident.ElectricityMeter)
                Assert.True(ratio <= 0.05, $"{meter.Key}: last 6 h are {ratio:P1} of usual");
            else
                Assert.True(ratio > 0.3, $"{meter.Key}: last 6 h are only {ratio:P1} of usual");
        }
    }

    [Fact]
    public void A_resumed_feed_continues_registers_after_their_stored_time_and_plants_nothing()
    {
        // The store holds everything up to three days ago, plus one meter read live at an odd minute later on.
        var cut = s_now.AddDays(-3);
        var stored = Messages.Where(m => m.Time <= cut).Select(NativeMessage.Parse)
            .GroupBy(m => m.Device)
            .ToDictionary(g => g.Key, g => (g.Last().Time, g.Last().Total));
        stored["c2-em-007"] = (cut.AddHours(5).AddMinutes(7), stored["c2-em-007"].Total + 3.5);

        var resumed = DemoFeed.Create(s_world, DemoWorld.DefaultSeed, s_now, stored);
        var messages = resumed.Backfill().Select(NativeMessage.Parse).ToList();

        Assert.Null(resumed.Incident);
        Assert.All(messages, m => Assert.True(m.Time > stored[m.Device].Time));
        foreach (var meter in messages.GroupBy(m => m.Device))
        {
            var first = meter.First();
            Assert.Equal(stored[meter.Key].Time.AddHours(1).UtcTicks / TimeSpan.TicksPerHour, first.Time.UtcTicks / TimeSpan.TicksPerHour);
            Assert.True(first.Total >= stored[meter.Key].Total);
            Assert.True(meter.Zip(meter.Skip(1)).All(p => p.Second.Total >= p.First.Total));
        }
        Assert.Equal(3 * 24 * stored.Count - 5, messages.Count);
    }

    [Fact]
    public void A_resumed_feed_starts_meters_it_has_never_seen_fresh_within_the_window()
    {
        var stored = new Dictionary<string, (DateTimeOffset Time, double Total)> { ["c1-wm-001"] = (s_now.AddHours(-2), 100) };

        var resumed = DemoFeed.Create(s_world, DemoWorld.DefaultSeed, s_now, stored, backfillDays: 2);
        var messages = resumed.Backfill().Select(NativeMessage.Parse).ToList();

        Assert.Equal([s_now.AddHours(-1.5), s_now.AddHours(-0.5)], messages.Where(m => m.Device == "c1-wm-001").Select(m => m.Time));
        Assert.Equal(2 * 24 + 1, messages.Count(m => m.Device == "c2-em-030"));
    }

    internal sealed record Consumption(string Household, bool Water, DateTimeOffset End, double Amount);

    internal static List<Consumption> HourlyConsumption(IEnumerable<FeedMessage> messages) =>
        [.. messages.Select(NativeMessage.Parse).GroupBy(m => m.Device).SelectMany(g =>
            g.Zip(g.Skip(1), (a, b) => new Consumption(b.Household, g.Key.Contains("-wm-"), b.Time, b.Total - a.Total)))];
}
