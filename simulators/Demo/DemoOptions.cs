using System.ComponentModel.DataAnnotations;

namespace Sensing.Simulators;

/// <summary>
/// The demo feed, bound from section <c>Demo</c>:
/// <code>
/// "Demo": { "Enabled": true, "Seed": 2026, "LiveRatePerSecond": 40, "BackfillDays": 14 }
/// </code>
/// The broker it publishes to is <c>Mqtt:Host</c> (default <c>localhost</c>) and <c>Mqtt:Port</c> (default 1883).
/// </summary>
public sealed class DemoOptions
{
    public const string SectionName = "Demo";

    /// <summary>False gives an empty, quiet service.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Seeds the world's details and the feed; the same seed gives the same backfill.</summary>
    public int Seed { get; set; } = DemoWorld.DefaultSeed;

    /// <summary>Cap on the live pace. The natural pace is about 5–10 messages/s; a laptop's wall screen reads well below 50.</summary>
    [Range(0.1, 10_000)]
    public double LiveRatePerSecond { get; set; } = 40;

    /// <summary>Days of hourly meter history published before the live feed on a fresh start.</summary>
    [Range(0, 90)]
    public int BackfillDays { get; set; } = 14;
}
