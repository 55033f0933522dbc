using BenchmarkDotNet.Attributes;
using Sensing.Analytics;
using Sensing.Analytics.Benchmarking;
using Sensing.Analytics.LivingAlone;
using Sensing.Analytics.Windows;

namespace Sensing.Benchmarks;

/// <summary>
/// The welfare detector's hot paths on a synthetic population of 10,000 households with 14 days of history (the model
/// trained once in the setup): one household-meter's expected use (the compiled ML.NET trees), one complete hour of
/// every household folded from its store window and judged, and one training on 2,000 households. The timed commands
/// <c>analytics -- bench-score</c> and <c>bench-train</c> measure the targets end to end at full scale.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class WelfareBenchmarks
{
    private const int Households = 10_000;
    private const int Days = 14;

    private readonly AnalyticsOptions _options = new() { TimeZone = "Asia/Shanghai" };
    private BenchPopulation _population = null!;
    private WelfareModel _model = null!;
    private HouseholdProfile _profile = null!;
    private List<Telemetry.HourlySeries> _window = null!;
    private LivingAloneDetector _detector = null!;
    private HouseholdHistory _small = null!;
    private Dictionary<string, Household> _registry = null!;
    private int _hour;

    [GlobalSetup]
    public void Setup()
    {
        _population = new BenchPopulation(Households);
        var elderly = _population.Ids.Select((id, i) => (id, _population.Elderly[i])).ToDictionary(p => p.id, p => p.Item2);
        _model = WelfareTrainer.Train(_population.History(Days), id => elderly[id], _options, TimeProvider.System)!;
        _profile = _model.Profile(_population.Ids[1234])!;
        _hour = Days * 24 + 3; // 11:00 local on the first day after the history: an informative hour
        _window = _population.Window(_hour);
        _detector = new LivingAloneDetector(_options.LivingAlone, BenchPopulation.Zone, TimeSpan.FromMinutes(5));
        _registry = _population.Ids.Select((id, i) => new Household(id, "c1", "g1", _population.Elderly[i])).ToDictionary(h => h.Id);
        _small = new BenchPopulation(2_000).History(Days);
    }

    [Benchmark(Description = "Expected use of one household-meter-hour (compiled trees)")]
    public float ExpectOne() => _model.Expect(_profile, _profile.Water!, Meter.Water, false, 11, false);

    [Benchmark(Description = "One hour of 10,000 households: window folded and judged")]
    public int JudgeHour()
    {
        var households = LivingAloneHourlyDetector.Households(_window, Partition.Everything);
        return _detector.Judge(BenchPopulation.Start.AddHours(_hour), households, _model, id => _registry.GetValueOrDefault(id), (_, _) => false).Count;
    }

    [Benchmark(Description = "Training on 2,000 households × 14 days")]
    public int Train2000() => WelfareTrainer.Train(_small, _ => false, _options, TimeProvider.System)!.Manifest.TrainingRows;
}
