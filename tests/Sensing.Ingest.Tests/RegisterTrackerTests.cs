using Sensing.Ingest.Consumption;

namespace Sensing.Ingest.Tests;

public sealed class RegisterTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly RegisterTracker _tracker = new();

    private static Reading Water(DateTimeOffset time, double total, string device = "wm-1") =>
        new(device, "c1", "g1", "h-1", Metrics.WaterTotal, time, total, null, """{"fw":"1"}""");

    private static Reading Electricity(DateTimeOffset time, double total, string device = "wm-1") =>
        new(device, "c1", "g1", "h-1", Metrics.ElectricityTotal, time, total);

    [Fact]
    public void The_first_register_yields_nothing()
    {
        Assert.Null(_tracker.Observe(Water(T0, 100)));
        Assert.Equal(1, _tracker.Count);
    }

    [Fact]
    public void A_rising_register_yields_the_difference_stamped_at_the_newer_time()
    {
        _tracker.Observe(Water(T0, 100.25));

        var used = _tracker.Observe(Water(T0.AddMinutes(15), 100.75));

        Assert.NotNull(used);
        Assert.Equal(new Reading("wm-1", "c1", "g1", "h-1", Metrics.WaterConsumption, T0.AddMinutes(15), 0.5, null, null), used.Value);

        var next = _tracker.Observe(Water(T0.AddMinutes(30), 101.0));
        Assert.Equal(0.25, next!.Value.Value, 9);
        Assert.Equal(T0.AddMinutes(30), next.Value.Time);
    }

    [Fact]
    public void A_duplicate_or_an_older_register_yields_nothing_and_leaves_state_alone()
    {
        _tracker.Observe(Water(T0, 100));
        Assert.Equal(5, _tracker.Observe(Water(T0.AddMinutes(15), 105))!.Value.Value, 9);

        Assert.Null(_tracker.Observe(Water(T0.AddMinutes(15), 105)));   // QoS 1 duplicate
        Assert.Null(_tracker.Observe(Water(T0.AddMinutes(15), 999)));   // same time, different value
        Assert.Null(_tracker.Observe(Water(T0.AddMinutes(5), 101)));    // late message

        // Still measured from 105 at +15 min, not from any of the ignored readings.
        var used = _tracker.Observe(Water(T0.AddMinutes(30), 107));
        Assert.Equal(2, used!.Value.Value, 9);
    }

    [Fact]
    public void A_reset_counts_up_from_zero()
    {
        _tracker.Observe(Water(T0, 523.4));

        var used = _tracker.Observe(Water(T0.AddMinutes(15), 0.3));

        Assert.Equal(0.3, used!.Value.Value, 9);
    }

    [Fact]
    public void A_rollover_at_a_power_of_ten_yields_the_wrapped_difference()
    {
        _tracker.Observe(Water(T0, 99_998.5));

        var used = _tracker.Observe(Water(T0.AddMinutes(15), 1.2));

        Assert.Equal(2.7, used!.Value.Value, 6);
    }

    [Theory]
    [InlineData(99_998.5, 1.2, 2.7)]
    [InlineData(999.9, 0.4, 0.5)]
    [InlineData(100, 100, 0)]
    [InlineData(100, 130.5, 30.5)]
    [InlineData(500, 20, 20)]        // far from the wrap: a reset
    [InlineData(98_000, 5, 5)]       // below 99 % of 100 000: a reset, not a rollover
    public void Difference_handles_rise_rollover_and_reset(double previous, double current, double expected)
    {
        Assert.Equal(expected, RegisterTracker.Difference(previous, current), 6);
    }

    [Fact]
    public void Seed_continues_from_a_stored_register()
    {
        _tracker.Seed("wm-1", Metrics.WaterTotal, T0, 200);

        var used = _tracker.Observe(Water(T0.AddHours(1), 203.5));

        Assert.Equal(3.5, used!.Value.Value, 9);
    }

    [Fact]
    public void Seed_never_moves_a_register_back_in_time()
    {
        _tracker.Seed("wm-1", Metrics.WaterTotal, T0.AddHours(1), 210);
        _tracker.Seed("wm-1", Metrics.WaterTotal, T0, 200);

        Assert.Null(_tracker.Observe(Water(T0.AddMinutes(30), 205)));
        Assert.Equal(1, _tracker.Observe(Water(T0.AddHours(2), 211))!.Value.Value, 9);
    }

    [Fact]
    public void Water_and_electricity_of_one_device_are_tracked_separately()
    {
        Assert.Null(_tracker.Observe(Water(T0, 10)));
        Assert.Null(_tracker.Observe(Electricity(T0, 5000)));

        var water = _tracker.Observe(Water(T0.AddMinutes(15), 10.5));
        var power = _tracker.Observe(Electricity(T0.AddMinutes(15), 5002));

        Assert.Equal((Metrics.WaterConsumption, 0.5), (water!.Value.Metric, water.Value.Value));
        Assert.Equal((Metrics.ElectricityConsumption, 2.0), (power!.Value.Metric, power.Value.Value));
        Assert.Equal(2, _tracker.Count);
    }

    [Fact]
    public void Different_devices_are_tracked_separately()
    {
        _tracker.Observe(Water(T0, 10, "wm-1"));
        Assert.Null(_tracker.Observe(Water(T0.AddMinutes(15), 50, "wm-2")));
        Assert.Equal(1, _tracker.Observe(Water(T0.AddMinutes(15), 11, "wm-1"))!.Value.Value, 9);
    }

    [Fact]
    public void Non_register_metrics_are_ignored()
    {
        var pass = new Reading("gate-1", "c1", "g1", null, Metrics.GatePass, T0, 1, "in");

        Assert.Null(_tracker.Observe(pass));
        Assert.Null(_tracker.Observe(pass with { Time = T0.AddMinutes(1) }));
        Assert.Equal(0, _tracker.Count);
    }
}
