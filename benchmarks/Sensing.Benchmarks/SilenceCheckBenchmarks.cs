using BenchmarkDotNet.Attributes;
using Sensing.Analytics;
using Sensing.Analytics.Silence;

namespace Sensing.Benchmarks;

/// <summary>
/// <see cref="SilenceWatch.Check"/> as the analytics loop runs it after every stored batch: a street office's 176,280
/// devices, each with its reporting gaps learned (16 readings 10 s apart, as in the e2e feed after a few minutes), none
/// silent, so one op is one whole judgement of every device and finds nothing. The watch walks at most once per
/// <see cref="SilenceOptions.CheckEvery"/> of event time, and every op here has the same watermark: with the default
/// period every op after the first returned at once, so the period is zero here.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SilenceCheckBenchmarks
{
    private const int Devices = 176_280;
    private static readonly DateTimeOffset s_start = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);

    private SilenceWatch _watch = null!;
    private DateTimeOffset _watermark;

    [GlobalSetup]
    public void Setup()
    {
        // Registered devices, as in the service: the registry is asked for a device's kind on its first reading only.
        var device = new Sensing.Telemetry.Device("d", Sensing.Telemetry.DeviceKind.Meter, "c1", "g1");
        _watch = new SilenceWatch(new SilenceOptions { CheckEvery = TimeSpan.Zero }, _ => device);
        var ids = Enumerable.Range(0, Devices).Select(i => $"d-{i:D6}").ToArray();
        for (var round = 0; round < 16; round++)
        {
            for (var i = 0; i < Devices; i++)
            {
                _watch.Observe(ids[i], "c1", "g1", s_start.AddSeconds(10 * round).AddTicks(i));
            }
        }
        _watermark = s_start.AddSeconds(10 * 16);
    }

    [Benchmark]
    public int Check() => _watch.Check(_watermark).Count;
}
