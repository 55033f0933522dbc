using Sensing.Ingest.Normalization;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>--check-allocations</c>: a fast gate for CI, no BenchmarkDotNet. Normalizes each <see cref="NormalizerCase"/>
/// many times on this thread and compares the bytes allocated per message with the case's budget; exit code 1
/// when any case is over. Allocation counts are exact and deterministic, unlike timings, so one short run is enough.
/// </summary>
public static class AllocationCheck
{
    private const int Warmup = 10_000;
    private const int WarmupMilliseconds = 500;
    private const int Messages = 200_000;

    public static int Run()
    {
        var failures = 0;
        Console.WriteLine($"{"case",-20} {"B/msg",8} {"budget",8}");
        // Native and vendor cases alike: (name, a fresh normalizer with its devices registered, message, budget).
        var cases = NormalizerCase.All
            .Select(c => (c.Name, Create: (Func<IPayloadNormalizer>)(() => new NativeNormalizer(NormalizerCase.SeededRegistry())), c.Message, c.BudgetBytes))
            .Concat(VendorNormalizerCase.All.Select(c => (c.Name, Create: (Func<IPayloadNormalizer>)c.CreateNormalizer, c.Message, c.BudgetBytes)));
        foreach (var c in cases)
        {
            var normalizer = c.Create();
            var message = c.Message;
            var readings = new List<Reading>(capacity: 4);
            if (normalizer.Normalize(message, readings) is { } error)
            {
                Console.WriteLine($"{c.Name,-20} refused: {error}");
                failures++;
                continue;
            }

            // Warm up so first-call work (tiering, lazily built statics) is not charged to the steady state: for half a
            // second, in rounds of 10,000, because tiered compilation waits ~100 ms of quiet before promoting hot methods
            // and a promotion landing in the measured loop was charged to the first case (0 B in one run, 48 B in the next).
            var warmUntil = Environment.TickCount64 + WarmupMilliseconds;
            while (Environment.TickCount64 < warmUntil)
            {
                BytesPerMessage(normalizer, message, readings, Warmup);
            }
            var perMessage = BytesPerMessage(normalizer, message, readings, Messages);
            var over = perMessage > c.BudgetBytes + 0.5;
            failures += over ? 1 : 0;
            Console.WriteLine($"{c.Name,-20} {perMessage,8:F1} {c.BudgetBytes,8}{(over ? "  OVER BUDGET" : "")}");
        }
        failures += LineProtocolCase();
        Console.WriteLine(failures == 0 ? "allocation budget: ok" : $"allocation budget: {failures} case(s) failed");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>
    /// The InfluxDB writer's encoder: a reading becomes line protocol in a pooled body buffer, so the budget is 0 B per
    /// reading (the buffer is reused across batches, as one write request reuses it while it grows).
    /// </summary>
    private static int LineProtocolCase()
    {
        var readings = LineProtocolCases.Batch(1_000);
        using var body = new Sensing.Storage.Influx.PooledBufferWriter(readings.Length * 160);
        var warmUntil = Environment.TickCount64 + WarmupMilliseconds;
        while (Environment.TickCount64 < warmUntil) EncodedBytesPerReading(body, readings, 10);
        var perReading = EncodedBytesPerReading(body, readings, Messages / readings.Length);
        var over = perReading > 0.5;
        Console.WriteLine($"{"line protocol",-20} {perReading,8:F1} {0,8}{(over ? "  OVER BUDGET" : "")}");
        return over ? 1 : 0;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static double EncodedBytesPerReading(Sensing.Storage.Influx.PooledBufferWriter body, Reading[] readings, int rounds)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var r = 0; r < rounds; r++)
        {
            body.Clear();
            foreach (var reading in readings) Sensing.Storage.Influx.LineProtocol.WriteReading(body, reading, Sensing.Storage.Influx.InfluxPrecision.Milliseconds);
        }
        return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / ((long)rounds * readings.Length);
    }

    /// <summary>
    /// The measured loop, in its own method compiled fully optimized at once: a long loop in a method still at tier 0
    /// is moved to optimized code mid-run (on-stack replacement), and that work was charged to whichever case ran first.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static double BytesPerMessage(IPayloadNormalizer normalizer, IncomingMessage message, List<Reading> readings, int count)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            readings.Clear();
            normalizer.Normalize(message, readings);
        }
        return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / count;
    }
}
