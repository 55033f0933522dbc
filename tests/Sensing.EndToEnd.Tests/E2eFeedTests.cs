using Sensing.Analytics.Facilities;
using Sensing.Benchmarks;

namespace Sensing.EndToEnd.Tests;

/// <summary>
/// The e2e feed's meter registers: a street office's households, at any offered rate. A feed whose registers rose by
/// a fixed step per round made every flat a burst pipe once a meter came round every few seconds.
/// </summary>
public sealed class E2eFeedTests
{
    [Theory]
    [InlineData(9)]    // 20,000 msg/s over 176,280 devices
    [InlineData(176)]  // 1,000 msg/s
    [InlineData(900)]  // a real meter's 15 minutes
    public void Registers_rise_at_a_households_rate_whatever_the_time_between_readings(int seconds)
    {
        var start = new DateTimeOffset(2026, 11, 25, 20, 0, 0, TimeSpan.Zero);
        var burstFlow = new WaterLeakOptions().BurstFlow;
        for (var device = 0; device < 5_000; device++)
        {
            var water = Flow(device, water: true, start, seconds);
            Assert.InRange(water, 0.0179, 0.0321);
            Assert.True(water < burstFlow, $"meter {device}: {water} m³/h is a burst");
            Assert.InRange(Flow(device, water: false, start, seconds), 0.249, 0.501);
        }
    }

    [Fact]
    public void A_register_never_goes_back_between_steps_or_publishers()
    {
        // Each step builds new lanes; the register depends on the device and the time alone.
        var earlier = E2eFeed.FeedLane.Register(42, water: true, new DateTimeOffset(2026, 11, 25, 20, 0, 0, TimeSpan.Zero));
        var later = E2eFeed.FeedLane.Register(42, water: true, new DateTimeOffset(2026, 11, 25, 20, 0, 1, TimeSpan.Zero));
        Assert.True(later > earlier);
        Assert.Equal(earlier, E2eFeed.FeedLane.Register(42, water: true, new DateTimeOffset(2026, 11, 25, 20, 0, 0, TimeSpan.Zero)));
    }

    private static double Flow(int device, bool water, DateTimeOffset from, int seconds) =>
        (E2eFeed.FeedLane.Register(device, water, from.AddSeconds(seconds)) - E2eFeed.FeedLane.Register(device, water, from)) * 3600 / seconds;
}
