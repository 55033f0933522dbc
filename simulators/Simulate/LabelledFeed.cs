using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>One labelled incident of a simulated run: a line of the truth file (see <see cref="TruthFile"/>).</summary>
public sealed record TruthLabel(
    string Subject,
    string Kind,
    string Community,
    string? Grid,
    string? Household,
    string? Device,
    DateTimeOffset Onset,
    DateTimeOffset End,
    double? Depth,
    bool ExpectAlert);

/// <summary>What a <see cref="LabelledFeed"/> simulates: the <c>simulate</c> command's world, time, scenario and fault options.</summary>
public sealed record LabelledFeedOptions
{
    public int Communities { get; init; } = 1;
    public int Households { get; init; } = 400;
    public int Cameras { get; init; }
    public int Gates { get; init; } = 4;
    public int Lots { get; init; }
    public int Grids { get; init; } = 11;
    public required DateTimeOffset Start { get; init; }
    public required TimeSpan Duration { get; init; }
    public int Seed { get; init; } = 2026;
    /// <summary>A preset name (<c>welfare-eval</c>, <c>welfare-mix</c>…) or a scenario <c>.json</c> file.</summary>
    public string Scenario { get; init; } = "welfare-eval";
    public double SilentRate { get; init; }
    public double FlappingRate { get; init; }
    public double SkewRate { get; init; }
    public double ResetRate { get; init; }
    public double MalformedRate { get; init; }
    public double LossRate { get; init; }
}

/// <summary>A generated message: topic, payload (valid until the next <see cref="LabelledFeed.TryNext"/>) and event time.</summary>
public readonly record struct FeedMessage(string Topic, ReadOnlyMemory<byte> Payload, DateTimeOffset Time);

/// <summary>
/// A simulated run with its ground truth, for the analytics evaluation: the very world, plan, generator and truth
/// that <c>simulate</c> publishes, handed over in process instead of through a broker. The same options and seed give
/// the same messages byte for byte.
/// </summary>
public sealed class LabelledFeed
{
    private readonly FeedGenerator _generator;

    private LabelledFeed(FeedPlan plan)
    {
        _generator = new FeedGenerator(plan);
        Registry = plan.World.ToRegistry(plan.Away);
        Truth = [.. plan.Truth.Select(t => new TruthLabel(t.Subject, t.Kind, t.Community, t.Grid, t.Household, t.Device, t.Onset, t.End, t.Depth, t.ExpectAlert))];
    }

    /// <summary>The world as the service's registry (with the away spells of registered holidays).</summary>
    public RegistrySnapshot Registry { get; }

    /// <summary>Every labelled incident, confounder and injected device fault of the whole run.</summary>
    public IReadOnlyList<TruthLabel> Truth { get; }

    /// <summary>Messages generated so far.</summary>
    public long Count => _generator.Count;

    /// <exception cref="ArgumentException">Options or scenario that <c>simulate</c> would refuse too.</exception>
    public static LabelledFeed Create(LabelledFeedOptions options)
    {
        var world = SimulatedWorld.Create(new WorldOptions
        {
            Communities = options.Communities,
            Households = options.Households,
            Cameras = options.Cameras,
            Gates = options.Gates,
            Lots = options.Lots,
            Grids = options.Grids,
        }, options.Seed);
        var scenario = options.Scenario.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? Scenarios.ReadFile(options.Scenario, options.Start)
            : Scenarios.Preset(options.Scenario, options.Duration, options.Households);
        var faults = new FaultRates
        {
            Silent = options.SilentRate,
            Flapping = options.FlappingRate,
            ClockSkew = options.SkewRate,
            CounterReset = options.ResetRate,
            Malformed = options.MalformedRate,
            Loss = options.LossRate,
        };
        return new LabelledFeed(FeedPlan.Create(world, options.Start, options.Duration, scenario, faults));
    }

    /// <summary>The next message in event-time order, or false at the end of the run.</summary>
    public bool TryNext(out FeedMessage message)
    {
        if (_generator.TryNext(out var simulated))
        {
            message = new FeedMessage(simulated.Topic, simulated.Payload, simulated.Time);
            return true;
        }
        message = default;
        return false;
    }
}
