namespace Sensing.Simulators.Simulate;

/// <summary>
/// How often the periodic devices report, and how busy cameras are. The default is a real community's traffic; a
/// thinner cadence lets a long simulated span (a week of a street office in a soak) fit in a short wall-clock run
/// while every device kind still reports. Gate passes follow households, not a cadence.
/// </summary>
internal sealed record FeedCadence
{
    public static readonly FeedCadence Default = new();

    /// <summary>Meter registers (15 min).</summary>
    public TimeSpan MeterEvery { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>Parking lot counters (1 min).</summary>
    public TimeSpan LotEvery { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Camera <c>online</c> heartbeats (1 min).</summary>
    public TimeSpan HeartbeatEvery { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Camera detections as a multiple of the default rate (one per camera every 400 s on average).</summary>
    public double DetectionFactor { get; init; } = 1;

    public void Validate()
    {
        foreach (var (name, value) in new[] { ("--meter-every", MeterEvery), ("--lot-every", LotEvery), ("--heartbeat-every", HeartbeatEvery) })
        {
            if (value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromDays(1) || value.Ticks % TimeSpan.TicksPerSecond != 0)
                throw new ArgumentException($"{name} must be whole seconds between 1 s and 1 day");
        }
        if (DetectionFactor is < 0 or > 100 || double.IsNaN(DetectionFactor))
            throw new ArgumentException("--detection-factor must be between 0 and 100");
    }
}
