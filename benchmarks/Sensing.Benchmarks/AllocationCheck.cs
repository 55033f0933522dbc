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
    private const int Messages = 200_000;

    public static int Run()
    {
        var failures = 0;
        Console.WriteLine($"{"case",-16} {"B/msg",8} {"budget",8}");
        foreach (var c in NormalizerCase.All)
        {
            var normalizer = new NativeNormalizer(NormalizerCase.SeededRegistry());
            var message = c.Message;
            var readings = new List<Reading>(capacity: 4);

            // Warm up so first-call work (tiering, lazily built statics) is not charged to the steady state.
            for (var i = 0; i < Warmup; i++)
            {
                readings.Clear();
                if (normalizer.Normalize(message, readings) is { } error)
                {
                    Console.WriteLine($"{c.Name,-16} refused: {error}");
                    failures++;
                    goto next;
                }
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Messages; i++)
            {
                readings.Clear();
                normalizer.Normalize(message, readings);
            }
            var perMessage = (double)(GC.GetAllocatedBytesForCurrentThread() - before) / Messages;
            var over = perMessage > c.BudgetBytes + 0.5;
            failures += over ? 1 : 0;
            Console.WriteLine($"{c.Name,-16} {perMessage,8:F1} {c.BudgetBytes,8}{(over ? "  OVER BUDGET" : "")}");
        next:;
        }
        Console.WriteLine(failures == 0 ? "allocation budget: ok" : $"allocation budget: {failures} case(s) failed");
        return failures == 0 ? 0 : 1;
    }
}
