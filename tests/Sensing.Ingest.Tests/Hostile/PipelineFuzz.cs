using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>What a run of hostile inputs through the ingest pipeline did, and what it cost.</summary>
public sealed record PipelineFuzzResult(
    long Inputs, long Acknowledged, long DeadLetters, long Readings, long Crashes, long BadReasons, long BadReadings, long ErrorsLogged,
    TimeSpan Elapsed, long ManagedBytesAtStart, long ManagedBytesAtEnd, IReadOnlyList<(long Inputs, long ManagedBytes)> MemoryTrace,
    IReadOnlyList<string> Problems, int QuarantinedSources, int RegisteredDevices, long ManagedBytesIdle)
{
    public override string ToString() =>
        $"inputs {Inputs:N0}, acknowledged {Acknowledged:N0}, dead letters {DeadLetters:N0}, readings {Readings:N0}, crashes {Crashes}, " +
        $"useless reasons {BadReasons}, invalid readings {BadReadings}, errors logged {ErrorsLogged}, time {Elapsed.TotalSeconds:F1} s " +
        $"({Inputs / Math.Max(Elapsed.TotalSeconds, 0.001):N0}/s), managed heap after full GC: start {ManagedBytesAtStart / 1048576.0:F1} MB, end {ManagedBytesAtEnd / 1048576.0:F1} MB, a minute later (pooled buffers released) {ManagedBytesIdle / 1048576.0:F1} MB; " +
        $"trace {string.Join(", ", MemoryTrace.Select(m => $"{m.Inputs / 1000:N0}k:{m.ManagedBytes / 1048576.0:F1}MB"))}; " +
        $"quarantine lists {QuarantinedSources:N0} sources (at most {Quarantine.QuarantineBook.MaxSources:N0}), registry {RegisteredDevices:N0} devices";
}

/// <summary>
/// Drives generated hostile inputs through the real ingest path: <see cref="IngestQueue"/> → <see cref="IngestPipeline"/>
/// (routing by topic, every normalizer, consumption, the dead-letter path with its payload cap) → <see cref="StoreWriter"/>
/// → a store, then the acknowledgement. A crash is a dead letter with the pipeline's catch-all reason (a normalizer threw)
/// or an error it logged; every other dead letter must carry a specific reason and every stored reading must be valid.
/// </summary>
public static class PipelineFuzz
{
    public static async Task<PipelineFuzzResult> RunAsync(IReadingStore store, Gen<FuzzInput> inputs, long count, int seed, int warmUp = 0, int traceEvery = 100_000, bool measureIdle = false)
    {
        var rig = new FuzzRig();
        var queue = new IngestQueue(4_000);
        var metrics = new IngestMetrics(queue);
        var errors = new ErrorCounter();
        var writer = new StoreWriter(store, [], metrics, Options.Create(new SpoolOptions { Enabled = false }), TimeProvider.System, NullLogger<StoreWriter>.Instance);
        var pipeline = new IngestPipeline(queue, rig.Router, rig.Registry, store, writer, metrics,
            Options.Create(new IngestOptions { BatchSize = 2000, BatchDelayMilliseconds = 5 }), errors);
        await writer.StartAsync(CancellationToken.None);
        await pipeline.StartAsync(CancellationToken.None);
        long acknowledged = 0;
        var trace = new List<(long, long)>();
        long start = 0;
        var clock = new Stopwatch();
        try
        {
            using var stream = Stream(inputs, seed).GetEnumerator();
            long sent = 0;
            async Task SendAsync(long n)
            {
                for (long i = 0; i < n; i++)
                {
                    stream.MoveNext();
                    var input = stream.Current;
                    // Receive times move on, as they do live (Sparkplug keeps per-node order by them).
                    var receivedAt = FuzzRig.ReceivedAt.AddMilliseconds(sent++);
                    await queue.EnqueueAsync(new PendingMessage(input.Topic, input.Payload, receivedAt, _ => { Interlocked.Increment(ref acknowledged); return Task.CompletedTask; }), CancellationToken.None);
                }
                await WaitForAsync(() => Interlocked.Read(ref acknowledged) == sent);
            }

            // Warm-up fills what is meant to fill once (interned labels, Sparkplug sessions, the registry's pool of
            // first-sight devices, the quarantine list, JIT): memory measured from here on must stay flat.
            await SendAsync(warmUp);
            (store as TallyStore)?.Reset();
            start = ManagedBytes();
            trace.Add((0, start));
            clock.Start();
            for (long done = 0; done < count; done += traceEvery)
            {
                await SendAsync(Math.Min(traceEvery, count - done));
                clock.Stop();
                trace.Add((Math.Min(done + traceEvery, count), ManagedBytes()));
                clock.Start();
            }
            clock.Stop();
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
            await writer.StopAsync(CancellationToken.None);
            writer.Dispose();
        }
        var end = ManagedBytes();
        // The payload buffers ingest rents from ArrayPool.Shared stay in the pool after use, and a full collection counts
        // them as live: the trace climbs by up to ~25 MB as bursts of large payloads fill the pool's buckets. The pool
        // releases buffers unused for a minute at a full collection, so after a minute idle what is left is what ingest
        // holds. (Measured: 300,000 inputs, 26.3 MB after warm-up, 46.6 MB at the end, 20.6 MB a minute later.)
        if (measureIdle) await Task.Delay(TimeSpan.FromSeconds(65));
        var idle = measureIdle ? ManagedBytes() : end;
        var tally = store as TallyStore;
        return new PipelineFuzzResult(count, acknowledged - warmUp, tally?.DeadLetters ?? -1, tally?.Readings ?? -1, tally?.Crashes ?? -1, tally?.BadReasons ?? -1,
            tally?.BadReadings ?? -1, errors.Errors, clock.Elapsed, start, end, trace, tally?.Problems ?? [], rig.Context.Quarantine.Count, rig.Registry.Devices.Count, idle);
    }

    /// <summary>Endless inputs, generated 50 at a time from a seed per chunk (the same seed gives the same run).</summary>
    private static IEnumerable<FuzzInput> Stream(Gen<FuzzInput> inputs, int seed)
    {
        for (var chunk = 0UL; ; chunk++)
        {
            // FsCheck's Sample(count, seed, size): sizes play no part in these generators, which choose their own.
            foreach (var input in inputs.Sample(50, new Rnd((ulong)seed * 1_000_003UL + chunk), 50)) yield return input;
        }
    }

    private static long ManagedBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the pipeline stopped acknowledging hostile inputs");
            await Task.Delay(5);
        }
    }

    /// <summary>Counts what the pipeline logs as an error: a normalizer that threw, a batch that failed.</summary>
    private sealed class ErrorCounter : ILogger<IngestPipeline>
    {
        private long _errors;
        public long Errors => Interlocked.Read(ref _errors);
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error) Interlocked.Increment(ref _errors);
        }
    }
}

/// <summary>
/// The store end of the million-input run: it checks every batch the pipeline writes (each dead letter's reason and kept
/// payload, each reading) and keeps counts, not rows, so the run measures ingest's memory rather than a database's.
/// The fast pipeline test writes to a real DuckDB file instead.
/// </summary>
public sealed class TallyStore : IReadingStore
{
    private readonly List<string> _problems = [];
    public long DeadLetters, Readings, Crashes, BadReasons, BadReadings;

    public IReadOnlyList<string> Problems { get { lock (_problems) return [.. _problems]; } }

    /// <summary>Starts counting afresh (after a warm-up); problems found so far are kept.</summary>
    public void Reset() => DeadLetters = Readings = 0;

    public Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
    {
        foreach (var r in readings)
        {
            Readings++;
            if (r.Metric is Metrics.WaterConsumption or Metrics.ElectricityConsumption ? !double.IsFinite(r.Value) || r.Value < 0 : FuzzRig.ReadingProblem(r) is not null)
            {
                BadReadings++;
                Note($"invalid reading ({FuzzRig.ReadingProblem(r)}): {r}");
            }
        }
        return Task.CompletedTask;
    }

    public Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        foreach (var d in deadLetters)
        {
            DeadLetters++;
            var problem = FuzzRig.ReasonProblem(d.Reason);
            if (problem is not null)
            {
                if (d.Reason.StartsWith("normalizer ", StringComparison.Ordinal)) Crashes++;
                else BadReasons++;
                Note($"{problem}: {d.Format} '{d.Reason}' on {d.Topic}");
            }
            if (d.Payload.Length != Math.Min(d.PayloadBytes, DeadLetter.MaxPayloadBytes))
            {
                BadReasons++;
                Note($"dead letter kept {d.Payload.Length} of {d.PayloadBytes} bytes");
            }
        }
        return Task.CompletedTask;
    }

    private void Note(string problem)
    {
        lock (_problems) if (_problems.Count < 50) _problems.Add(problem);
    }

    public Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Bucket>>([]);
    public Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyDictionary<string, long>>(new Dictionary<string, long>());
    public Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LatestReading>>([]);
    public Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LatestReading>>([]);
    public Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<DeadLetter>>([]);
}
