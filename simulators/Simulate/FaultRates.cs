namespace Sensing.Simulators.Simulate;

/// <summary>
/// How often devices misbehave during a run, as the fraction of devices (or of messages, for malformed
/// payloads) affected. The defaults are a realistic bad day: a handful of silences and one or two of each
/// other fault per community of ~4,400 devices.
/// </summary>
internal sealed record FaultRates
{
    /// <summary>Devices that go silent for 1–6 hours.</summary>
    public double Silent { get; init; } = 0.001;

    /// <summary>Cameras whose connection flaps (offline/online every few seconds) for 5–20 minutes.</summary>
    public double Flapping { get; init; } = 0.005;

    /// <summary>Devices whose clock is 1–8 hours ahead or behind for the whole run.</summary>
    public double ClockSkew { get; init; } = 0.0005;

    /// <summary>Meters whose register resets to zero once (a replaced or rebooted meter).</summary>
    public double CounterReset { get; init; } = 0.0005;

    /// <summary>Messages whose payload is malformed: truncated JSON, a field of the wrong type, a required field missing.</summary>
    public double Malformed { get; init; } = 0.0002;

    /// <summary>Meter messages lost on the way (radio, gateway): missing data whose use the next reading carries.</summary>
    public double Loss { get; init; }

    public static FaultRates None { get; } = new() { Silent = 0, Flapping = 0, ClockSkew = 0, CounterReset = 0, Malformed = 0, Loss = 0 };

    public void Validate()
    {
        foreach (var (name, rate) in new[] { ("silent", Silent), ("flapping", Flapping), ("skew", ClockSkew), ("reset", CounterReset), ("malformed", Malformed), ("loss", Loss) })
        {
            if (rate is < 0 or > 1 || double.IsNaN(rate))
                throw new ArgumentOutOfRangeException(name, rate, "a fault rate is a fraction between 0 and 1");
        }
        if (Silent + Flapping + ClockSkew + CounterReset > 1)
            throw new ArgumentOutOfRangeException(nameof(Silent), "device fault rates add up to more than 1");
    }
}
