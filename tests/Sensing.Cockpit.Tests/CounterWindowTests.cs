using Sensing.Cockpit.Tiles;

namespace Sensing.Cockpit.Tests;

public sealed class CounterWindowTests
{
    private sealed class Clock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Growth_covers_only_the_window_and_rate_scales_to_it()
    {
        var clock = new Clock(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero));
        long counter = 1000;
        var window = new CounterWindow(() => counter, TimeSpan.FromMinutes(1), clock);

        Assert.Equal(0, window.Growth());
        Assert.Equal(0, window.Rate()); // no span yet

        clock.Now += TimeSpan.FromSeconds(30);
        counter += 300;
        Assert.Equal(300, window.Growth());
        // 300 in 30 s is 600 per minute.
        Assert.Equal(600, window.Rate());

        // Two minutes later the first samples have left the window: only what grew within the last minute counts.
        clock.Now += TimeSpan.FromSeconds(50);
        counter += 100;
        window.Growth();
        clock.Now += TimeSpan.FromSeconds(70);
        counter += 70;
        Assert.Equal(70, window.Growth());
    }
}
