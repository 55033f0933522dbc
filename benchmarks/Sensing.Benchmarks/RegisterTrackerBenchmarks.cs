using BenchmarkDotNet.Attributes;
using Sensing.Ingest.Consumption;

namespace Sensing.Benchmarks;

/// <summary>
/// <see cref="RegisterTracker.Observe"/> in steady state: 10k meters (half water, half electricity) each report a
/// newer register once per sweep, so every call finds the meter, updates it and returns a consumption reading.
/// One op is one <c>Observe</c>; a benchmark invocation is one sweep over all meters.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class RegisterTrackerBenchmarks
{
    private const int Meters = 10_000;
    private static readonly DateTimeOffset s_start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly string[] _devices = new string[Meters];
    private readonly string[] _households = new string[Meters];
    private readonly string[] _metrics = new string[Meters];
    private RegisterTracker _tracker = null!;
    private int _sweep;

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < Meters; i++)
        {
            _devices[i] = i % 2 == 0 ? $"wm-{i:D5}" : $"em-{i:D5}";
            _households[i] = $"h-{i / 2:D5}";
            _metrics[i] = i % 2 == 0 ? Metrics.WaterTotal : Metrics.ElectricityTotal;
        }
        _tracker = new RegisterTracker();
        // The first register of a meter implies no consumption; seed them so the benchmark measures the steady state.
        Sweep();
    }

    [Benchmark(OperationsPerInvoke = Meters)]
    public double Sweep()
    {
        // A quarter-hour reporting interval; each sweep is a new interval, so no register is ever a duplicate.
        var sweep = ++_sweep;
        var time = s_start.AddTicks(TimeSpan.TicksPerMinute * 15 * sweep);
        var used = 0.0;
        for (var i = 0; i < Meters; i++)
        {
            var register = new Reading(_devices[i], "c1", "g1", _households[i], _metrics[i], time, 1_000 + i + sweep * 0.01);
            if (_tracker.Observe(register) is { } consumption)
            {
                used += consumption.Value;
            }
        }
        return used;
    }
}
