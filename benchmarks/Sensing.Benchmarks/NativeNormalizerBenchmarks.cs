using BenchmarkDotNet.Attributes;
using Sensing.Ingest.Normalization;

namespace Sensing.Benchmarks;

/// <summary>
/// <see cref="NativeNormalizer.Normalize"/> for one message of each kind, device and household pre-registered.
/// Allocated bytes per op are the figure to watch: see <see cref="NormalizerCase.BudgetBytes"/>.
/// </summary>
// Not sealed: BenchmarkDotNet generates a class deriving from each benchmark class.
[MemoryDiagnoser]
[MedianColumn]
public class NativeNormalizerBenchmarks
{
    private NativeNormalizer _normalizer = null!;
    private IncomingMessage _message;
    private readonly List<Reading> _readings = new(capacity: 4);

    [ParamsSource(nameof(Cases))]
    public NormalizerCase Case { get; set; } = null!;

    public static IEnumerable<NormalizerCase> Cases => NormalizerCase.All;

    [GlobalSetup]
    public void Setup()
    {
        _normalizer = new NativeNormalizer(NormalizerCase.SeededRegistry());
        _message = Case.Message;
        // A payload the normalizer refuses would benchmark the error path; fail loudly instead.
        if (Normalize() is { } error)
        {
            throw new InvalidOperationException($"{Case.Name}: {error}");
        }
    }

    [Benchmark]
    public string? Normalize()
    {
        _readings.Clear();
        return _normalizer.Normalize(_message, _readings);
    }
}
