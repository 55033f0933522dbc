using System.Globalization;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>
/// Hostile input through the whole ingest path (queue → pipeline → every normalizer → store writer → store → acknowledgement):
/// every message is acknowledged once its readings or its dead letter are written, no normalizer throws, and memory
/// does not grow with the number of messages.
/// </summary>
public sealed class PipelineFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Hostile_inputs_reach_a_real_store_as_valid_readings_or_dead_letters_with_specific_reasons()
    {
        const int inputs = 3_000;
        await using var temp = await TempStore.CreateAsync();

        var result = await PipelineFuzz.RunAsync(temp.Store, HostileInputs.Any(), inputs, seed: Environment.TickCount, traceEvery: inputs);

        output.WriteLine(result.ToString());
        Assert.Equal(inputs, result.Acknowledged);
        Assert.Equal(0, result.ErrorsLogged);
        var letters = await temp.Store.DeadLettersAsync(null, 2 * inputs, CancellationToken.None).Within();
        Assert.InRange(letters.Count, inputs / 3, inputs);
        Assert.All(letters, d => Assert.True(FuzzRig.ReasonProblem(d.Reason) is null, $"{d.Format} '{d.Reason}' on {d.Topic}"));
        Assert.All(letters, d => Assert.Equal(Math.Min(d.PayloadBytes, DeadLetter.MaxPayloadBytes), d.Payload.Length));
    }

    /// <summary>
    /// The measure, through the real pipeline after a warm-up of 50,000 inputs that fills what fills once:
    /// 200,000 generated hostile inputs in CI (about 40 s), a million with <c>SENSING_FUZZ_INPUTS=1000000</c> (about
    /// 3 minutes; README "Hostile input"). Prints inputs, crashes, dead letters, readings, time and the managed heap
    /// after a full collection every 100,000 inputs.
    /// </summary>
    [Fact]
    [Trait("Category", "Integration")]
    public async Task A_million_hostile_inputs_give_no_crash_a_reason_for_every_refusal_and_flat_memory()
    {
        var inputs = long.Parse(Environment.GetEnvironmentVariable("SENSING_FUZZ_INPUTS") ?? "200000", CultureInfo.InvariantCulture);
        var store = new TallyStore();

        var result = await PipelineFuzz.RunAsync(store, HostileInputs.Any(), inputs, seed: 2026, warmUp: 50_000, traceEvery: (int)Math.Min(100_000, inputs));

        output.WriteLine(result.ToString());
        foreach (var problem in result.Problems) output.WriteLine("  " + problem);
        Assert.Equal(inputs, result.Acknowledged);
        Assert.Equal(0, result.Crashes);
        Assert.Equal(0, result.ErrorsLogged);
        Assert.Equal(0, result.BadReasons);
        Assert.Equal(0, result.BadReadings);
        Assert.True(result.DeadLetters > inputs / 3, $"only {result.DeadLetters} dead letters");
        // Flat: what the heap holds after a full collection does not grow with the inputs. The allowance covers the
        // pooled buffers and caches that settle in the first rounds (a leak of even 100 bytes per input would be 100 MB).
        var grown = result.MemoryTrace[^1].ManagedBytes - result.MemoryTrace[0].ManagedBytes;
        Assert.True(grown < 24 * 1024 * 1024, $"managed heap grew by {grown / 1048576.0:F1} MB over {inputs:N0} inputs");
    }
}
