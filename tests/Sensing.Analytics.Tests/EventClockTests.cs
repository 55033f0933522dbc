using Sensing.Analytics.EventTime;

namespace Sensing.Analytics.Tests;

public sealed class EventClockTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Every one of <paramref name="devices"/> reports once a minute for <paramref name="minutes"/>, in time order.</summary>
    private static void Feed(EventClock clock, int devices, DateTimeOffset from, int minutes)
    {
        for (var m = 0; m < minutes; m++)
            for (var d = 0; d < devices; d++)
                clock.Observe($"dev-{d}", from.AddMinutes(m).AddSeconds(d % 60));
    }

    [Fact]
    public void An_ordinary_feed_moves_the_clock_reading_by_reading()
    {
        var clock = new EventClock(TimeSpan.FromMinutes(15));
        Assert.Null(clock.Now);
        Feed(clock, 200, T0, 30);
        Assert.Equal(clock.Newest, clock.Now);
        Assert.Equal(T0.AddMinutes(29).AddSeconds(59), clock.Now);
    }

    [Fact]
    public void A_device_running_hours_ahead_alone_does_not_move_the_clock()
    {
        var clock = new EventClock(TimeSpan.FromMinutes(15));
        Feed(clock, 200, T0, 10);
        // One camera's clock is eight hours fast, another meter booted into 2099.
        clock.Observe("cam-skewed", T0.AddHours(8));
        clock.Observe("wm-2099", new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Feed(clock, 200, T0.AddMinutes(10), 10);
        clock.Observe("cam-skewed", T0.AddHours(8).AddMinutes(20));

        Assert.Equal(T0.AddMinutes(19).AddSeconds(59), clock.Now);
        Assert.Equal(2099, clock.Newest!.Value.Year);
    }

    [Fact]
    public void When_every_device_jumps_ahead_after_an_outage_the_clock_follows_the_quorum()
    {
        var clock = new EventClock(TimeSpan.FromMinutes(15));
        Feed(clock, 200, T0, 10);
        clock.Observe("cam-skewed", T0.AddHours(8));
        // The feed resumes three hours later. The quorum (five of 201 devices) counts the skewed camera too: it is
        // also past three o'clock.
        var resumed = T0.AddHours(3);
        Assert.Equal(5, clock.Quorum);
        for (var d = 0; d < clock.Quorum - 2; d++) clock.Observe($"dev-{d}", resumed.AddSeconds(d));
        Assert.Equal(T0.AddMinutes(9).AddSeconds(59), clock.Now);

        clock.Observe("dev-199", resumed.AddSeconds(59));
        Assert.True(clock.Now >= resumed && clock.Now < resumed.AddMinutes(1), $"now {clock.Now:O}");
        Feed(clock, 200, resumed.AddMinutes(1), 5);
        Assert.Equal(resumed.AddMinutes(5).AddSeconds(59), clock.Now);
    }

    [Fact]
    public void A_skewed_device_that_reports_first_is_outvoted_once_a_few_devices_have_reported()
    {
        var clock = new EventClock(TimeSpan.FromMinutes(15));
        clock.Observe("cam-skewed", T0.AddHours(8));
        Assert.Equal(T0.AddHours(8), clock.Now);
        for (var d = 0; d < 4; d++) clock.Observe($"dev-{d}", T0.AddSeconds(d));

        Assert.Equal(T0.AddSeconds(3), clock.Now);
        Feed(clock, 100, T0.AddMinutes(1), 3);
        Assert.Equal(T0.AddMinutes(3).AddSeconds(59), clock.Now);
    }

    [Fact]
    public void Clocks_sharing_a_numbering_each_judge_by_their_own_devices()
    {
        // The analytics loop's two clocks (what arrived, what is stored) number devices together; the stored one
        // lags, so it may be warming up on a few devices while the numbering already holds hundreds.
        var arrived = new EventClock(TimeSpan.FromMinutes(15));
        var stored = new EventClock(TimeSpan.FromMinutes(15), arrived.Numbers);
        Feed(arrived, 200, T0.AddHours(5), 3);

        stored.Observe("dev-0", T0.AddHours(1));
        stored.Observe("dev-1", T0.AddHours(1).AddMinutes(1));
        stored.Observe("dev-2", T0.AddHours(1).AddMinutes(2));
        stored.Observe("cam-skewed", T0.AddHours(10));
        // Four devices of its own: a quorum of two, so the skewed camera is outvoted; the other clock's later
        // times for the same devices are not its.
        Assert.Equal(4, stored.Devices);
        Assert.Equal(T0.AddHours(1).AddMinutes(2), stored.Now);
        Assert.Equal(201, arrived.Numbers.Count);
        Assert.Equal(200, arrived.Devices);
        Assert.Equal(T0.AddHours(5).AddMinutes(2).AddSeconds(59), arrived.Now);

        // Past the warm-up, reading by reading, still its own.
        Feed(stored, 40, T0.AddHours(2), 2);
        Assert.Equal(41, stored.Devices);
        Assert.Equal(T0.AddHours(2).AddMinutes(1).AddSeconds(39), stored.Now);
        Assert.Equal(T0.AddHours(5).AddMinutes(2).AddSeconds(59), arrived.Now);
    }
}
