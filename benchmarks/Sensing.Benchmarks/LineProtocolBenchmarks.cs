using BenchmarkDotNet.Attributes;
using Sensing.Storage.Influx;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>LineProtocol.WriteReading</c>, the InfluxDB writer's per-reading encoder: a batch of 1,000 readings as ingest
/// hands them over (meter registers and their consumptions with the household tag, gate passes with a credential
/// attribute and the household as a string field, camera counts with a zone label) into one pooled body buffer.
/// One op is one reading; the buffer is cleared, not returned, between invocations, as one write request reuses it.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class LineProtocolBenchmarks
{
    private const int Batch = 1_000;
    private readonly Reading[] _readings = LineProtocolCases.Batch(Batch);
    private PooledBufferWriter _body = null!;

    [GlobalSetup]
    public void Setup() => _body = new PooledBufferWriter(Batch * 160);

    [GlobalCleanup]
    public void Cleanup() => _body.Dispose();

    [Benchmark(OperationsPerInvoke = Batch)]
    public int EncodeBatch()
    {
        _body.Clear();
        for (var i = 0; i < _readings.Length; i++)
        {
            LineProtocol.WriteReading(_body, _readings[i], InfluxPrecision.Milliseconds);
        }
        return _body.WrittenCount;
    }
}

/// <summary>Readings shaped like a street office's feed, for the line-protocol benchmark and its allocation check.</summary>
internal static class LineProtocolCases
{
    public static Reading[] Batch(int count)
    {
        var start = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        var readings = new Reading[count];
        for (var i = 0; i < count; i++)
        {
            var time = start.AddMilliseconds(i * 37);
            var community = $"c{i % 40 + 1}";
            readings[i] = (i % 4) switch
            {
                0 => new Reading($"{community}-wm-{i:D4}", community, "g3", $"h-{community}-{i:D4}", Metrics.WaterTotal, time, 1234.567 + i),
                1 => new Reading($"{community}-wm-{i:D4}", community, "g3", $"h-{community}-{i:D4}", Metrics.WaterConsumption, time, 0.012),
                2 => new Reading($"{community}-gate-1", community, "g1", $"h-{community}-{i:D4}", Metrics.GatePass, time, 1, "in", """{"credential":"face"}"""),
                _ => new Reading($"{community}-cam-{i % 400:D3}", community, "g7", null, "camera.person", time, i % 7, "east-gate"),
            };
        }
        return readings;
    }
}
