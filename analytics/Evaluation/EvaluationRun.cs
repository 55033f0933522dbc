using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Analytics.LivingAlone;
using Sensing.Ingest;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;
using Sensing.Simulators.Simulate;
using Sensing.Storage;
using Sensing.Telemetry;

namespace Sensing.Analytics.Evaluation;

/// <summary>What <c>evaluate</c> simulates and how the detectors are set (the service's defaults unless overridden).</summary>
public sealed record EvaluationOptions
{
    public string Scenario { get; init; } = "welfare-eval";
    public int Communities { get; init; } = 1;
    public int Households { get; init; } = 400;
    public int Gates { get; init; } = 4;
    public int Days { get; init; } = 60;
    public int Seed { get; init; } = 1;
    /// <summary>September and October 2026: the end of the air-conditioning season, Mid-Autumn and the National Day week.</summary>
    public DateTimeOffset Start { get; init; } = new(2026, 9, 1, 0, 0, 0, TimeSpan.FromHours(8));
    // A bad stretch of months for the meters: several silent, some reset, a few clocks off, 1 % of readings lost.
    public double SilentRate { get; init; } = 0.002;
    public double ResetRate { get; init; } = 0.005;
    public double SkewRate { get; init; } = 0.0005;
    public double LossRate { get; init; } = 0.01;
    public double MalformedRate { get; init; } = 0.0002;
    /// <summary>Where the DuckDB file and the models go; a fresh temporary folder when null.</summary>
    public string? WorkDirectory { get; init; }
    public bool Keep { get; init; }
    public AnalyticsOptions Analytics { get; init; } = new() { TimeZone = "Asia/Shanghai" };
    /// <summary>Households (comma-separated) whose every judged hour is printed (expected and observed, the run), for reading a miss or a false alarm.</summary>
    public string? Trace { get; init; }
}

/// <summary>The outcome of one evaluation run.</summary>
public sealed record EvaluationReport(
    EvaluationOptions Options,
    long Messages,
    long ReadingsStored,
    long DeadLetters,
    long JudgedHours,
    TimeSpan Elapsed,
    double HouseholdDays,
    IReadOnlyList<DetectorScore> Scores,
    IReadOnlyList<Alert> Alerts,
    IReadOnlyList<TruthLabel> Truth,
    ModelManifest? Model,
    TimeSpan WindowReading,
    TimeSpan Judging);

/// <summary>
/// One evaluation: the simulators' labelled run (<see cref="LabelledFeed"/>: the generator and truth <c>simulate</c> uses)
/// goes message by message through the service's own ingest pipeline (native normalizer, register → consumption,
/// batching, store writer) into a DuckDB file in a temporary folder, and the service's own <see cref="AnalyticsLoop"/>
/// hears of each stored batch, judges hours from that store, trains and saves its models there, and raises alerts into
/// a list. Only MQTT is left out (in-process hand-over instead of a broker) and the wall-clock quiet-feed check, which a
/// replay cannot meaningfully have. The alerts are then scored against the truth (<see cref="EventScoring"/>).
/// </summary>
public static class EvaluationRun
{
    public static async Task<EvaluationReport> RunAsync(EvaluationOptions options, TextWriter progress, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        // A real DuckDB file; on Linux in /dev/shm when there is one, because a replay of months writes millions of
        // readings and each batch's commit would otherwise wait on the disk. What is judged does not change.
        var temporary = OperatingSystem.IsLinux() && Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var folder = options.WorkDirectory ?? Path.Combine(temporary, $"sensing-evaluate-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var duration = TimeSpan.FromDays(options.Days);
        var feed = LabelledFeed.Create(new LabelledFeedOptions
        {
            Communities = options.Communities,
            Households = options.Households,
            Gates = options.Gates,
            Start = options.Start,
            Duration = duration,
            Seed = options.Seed,
            Scenario = options.Scenario,
            SilentRate = options.SilentRate,
            ResetRate = options.ResetRate,
            SkewRate = options.SkewRate,
            LossRate = options.LossRate,
            MalformedRate = options.MalformedRate,
        });

        var analytics = options.Analytics;
        analytics.ModelDirectory = Path.Combine(folder, "models");
        // A replay has no wall-clock silence: the feed is never quiet, it is just fast.
        analytics.Silence.CheckEvery = TimeSpan.FromDays(1);
        var loggers = new WarningLoggerFactory(progress);
        var registry = new DeviceRegistry();
        registry.Load(feed.Registry);
        var sink = new ListSink();
        var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(Path.Combine(folder, "evaluate.duckdb")), cancellationToken: cancellationToken).ConfigureAwait(false);
        using var loop = new AnalyticsLoop(store, registry, sink, TimeProvider.System, Options.Create(analytics), loggers.CreateLogger<AnalyticsLoop>());
        var listener = new CountingListener(loop);
        if (options.Trace is { } traced)
        {
            loop.LivingAlone.Detector.TracedHouseholds = traced.Split(',').ToHashSet(StringComparer.Ordinal);
            loop.LivingAlone.Detector.Trace = line => progress.WriteLine($"trace {line}");
        }
        var queue = new IngestQueue(20_000);
        var metrics = new IngestMetrics(queue);
        using var writer = new StoreWriter(store, [listener], metrics, Options.Create(new SpoolOptions { Enabled = false }), TimeProvider.System, NullLogger<StoreWriter>.Instance);
        using var pipeline = new IngestPipeline(queue, new FormatRouter([("sensing/#", new NativeNormalizer(registry))]), registry, store, writer, metrics,
            Options.Create(new IngestOptions()), loggers.CreateLogger<IngestPipeline>());
        long acknowledged = 0;
        Func<CancellationToken, Task> acknowledge = _ =>
        {
            Interlocked.Increment(ref acknowledged);
            return Task.CompletedTask;
        };

        try
        {
            await loop.StartAsync(cancellationToken).ConfigureAwait(false);
            await writer.StartAsync(cancellationToken).ConfigureAwait(false);
            await pipeline.StartAsync(cancellationToken).ConfigureAwait(false);

            var lastReport = Stopwatch.GetTimestamp();
            long sent = 0;
            while (feed.TryNext(out var message))
            {
                await queue.EnqueueAsync(new PendingMessage(message.Topic, message.Payload.Span, message.Time, acknowledge), cancellationToken).ConfigureAwait(false);
                sent++;
                if (Stopwatch.GetElapsedTime(lastReport) > TimeSpan.FromSeconds(10))
                {
                    lastReport = Stopwatch.GetTimestamp();
                    await progress.WriteLineAsync($"evaluate: {sent:N0} messages, event time {message.Time.ToOffset(options.Start.Offset):yyyy-MM-dd HH:mm}, {sink.Count} alerts so far").ConfigureAwait(false);
                }
            }
            // Everything acknowledged is stored and handed to the loop; then the loop must have handled every batch.
            while (Interlocked.Read(ref acknowledged) < sent)
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            while (loop.HandledBatches < listener.Batches)
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);

            var truth = feed.Truth;
            var alerts = sink.Alerts;
            var householdDays = (double)options.Households * options.Communities * Math.Max(0, options.Days - analytics.MinHistoryDays);
            DetectorScore[] scores =
            [
                EventScoring.Score(AlertKinds.LivingAloneDrop, truth, alerts, householdDays),
                EventScoring.Score(AlertKinds.DeviceSilent, truth, alerts, householdDays),
            ];
            return new EvaluationReport(options, sent, metrics.ReadingsStored, metrics.DeadLetters, loop.JudgedHours, Stopwatch.GetElapsedTime(started),
                householdDays, scores, alerts, truth, loop.LivingAlone.Model?.Manifest, loop.WindowReading, loop.Judging);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await writer.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await loop.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            if (!options.Keep && options.WorkDirectory is null)
            {
                try { Directory.Delete(folder, recursive: true); }
                catch (IOException) { }
            }
        }
    }

    /// <summary>Hands batches to the loop and counts those it will count, so the run knows when the loop is done.</summary>
    private sealed class CountingListener(AnalyticsLoop loop) : IStoredReadingsListener
    {
        private long _batches;

        public long Batches => Interlocked.Read(ref _batches);

        public async ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
        {
            if (batch.Count == 0) return;
            await loop.OnStoredAsync(batch, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _batches);
        }
    }

    private sealed class ListSink : IAlertSink
    {
        private readonly ConcurrentQueue<Alert> _alerts = new();

        public int Count => _alerts.Count;
        public IReadOnlyList<Alert> Alerts => [.. _alerts];

        public ValueTask RaiseAsync(Alert alert, CancellationToken cancellationToken)
        {
            _alerts.Enqueue(alert);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Warnings and errors of the pipeline and the loop to the progress writer; the rest is noise in a report.</summary>
    private sealed class WarningLoggerFactory(TextWriter output) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName);
        public ILogger<T> CreateLogger<T>() => new Logger<T>(this);
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }

        private sealed class Logger(TextWriter output, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning || (logLevel == LogLevel.Information && category.EndsWith(nameof(AnalyticsLoop), StringComparison.Ordinal));
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel)) return;
                // Alerts are reported at the end; training progress is worth seeing as it happens.
                var text = formatter(state, exception);
                if (logLevel == LogLevel.Information && !text.StartsWith("Trained", StringComparison.Ordinal)) return;
                lock (output) output.WriteLine($"evaluate: {logLevel}: {text}{(exception is null ? "" : " — " + exception.Message)}");
            }
        }
    }
}
