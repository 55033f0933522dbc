using BenchmarkDotNet.Attributes;
using Sensing.Ingest.Normalization;

namespace Sensing.Benchmarks;

/// <summary>
/// Each vendor normalizer on one typical message of its format, device registered. Compare with
/// <see cref="NativeNormalizerBenchmarks"/>: the vendor payloads are larger (a Frigate event is ~550 bytes, a ChirpStack
/// uplink ~450) and carry nested objects the reader walks past.
/// </summary>
// Not sealed: BenchmarkDotNet generates a class deriving from each benchmark class.
[MemoryDiagnoser]
[MedianColumn]
public class VendorNormalizerBenchmarks
{
    private IPayloadNormalizer _normalizer = null!;
    private IncomingMessage _message;
    private readonly List<Reading> _readings = new(capacity: 4);

    [ParamsSource(nameof(Cases))]
    public VendorNormalizerCase Case { get; set; } = null!;

    public static IEnumerable<VendorNormalizerCase> Cases => VendorNormalizerCase.All;

    [GlobalSetup]
    public void Setup()
    {
        _normalizer = Case.CreateNormalizer();
        _message = Case.Message;
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
