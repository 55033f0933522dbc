using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Consumption;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest.Pipeline;

/// <summary>
/// Takes messages off the <see cref="IngestQueue"/> in batches: normalize → derive consumption from registers →
/// make durable (<see cref="StoreWriter"/>: the store, or the local spool while the store is slow or down) →
/// acknowledge to the broker, as three stages that work on consecutive batches at once. A message is acknowledged only once its readings (or its dead letter) are durable;
/// when neither store nor spool can take a batch, nothing further is taken, the queue fills and the broker holds
/// the rest. Arrival listeners (analytics' per-reading detectors) hear of each batch as soon as it is normalized;
/// stored-readings listeners once it is in the store.
/// </summary>
public sealed class IngestPipeline(
    IngestQueue queue,
    FormatRouter router,
    DeviceRegistry registry,
    IReadingStore store,
    StoreWriter writer,
    IngestMetrics metrics,
    IOptions<IngestOptions> options,
    ILogger<IngestPipeline> logger,
    IEnumerable<IArrivingReadingsListener>? arrivals = null,
    IOptions<MqttOptions>? mqtt = null) : BackgroundService
{
    private readonly RegisterTracker _registers = new();
    // Batches normalized and not yet taken by the store stage (see NormalizeStageAsync).
    private int _waitingForStore;
    private readonly IArrivingReadingsListener[] _arrivals = arrivals is null ? [] : [.. arrivals];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SeedRegistersAsync(stoppingToken).ConfigureAwait(false);
        metrics.PipelineReady = true;

        // Three stages, each on its own batch, so normalizing the next batch and acknowledging the last one overlap
        // with the store's write of this one (the store write is the longest step and runs on one thread). Batches
        // circulate: taken from `free`, filled and normalized, written, acknowledged, returned. Their number bounds
        // what is in flight (at most BatchesInFlight × BatchSize messages besides the queue), and each stage keeps
        // the order it got them in, so the store sees batches in arrival order and the broker gets its PUBACKs in
        // the order it sent the messages, as MQTT requires.
        var o = options.Value;
        var free = Channel.CreateUnbounded<PipelineBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        for (var i = 0; i < BatchesInFlight(o.BatchSize, mqtt?.Value.ReceiveMaximum ?? 0); i++) free.Writer.TryWrite(new PipelineBatch());
        var normalized = Channel.CreateUnbounded<PipelineBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var stored = Channel.CreateUnbounded<PipelineBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var stages = new[]
        {
            RunStageAsync(() => NormalizeStageAsync(free.Reader, normalized.Writer, o, failed.Token), normalized.Writer, failed),
            RunStageAsync(() => StoreStageAsync(normalized.Reader, stored.Writer, failed.Token), stored.Writer, failed),
            RunStageAsync(() => AcknowledgeStageAsync(stored.Reader, free.Writer, failed.Token), free.Writer, failed),
        };
        try
        {
            await Task.WhenAll(stages).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Unacknowledged messages stay at the broker and come back on the next start.
        }
        catch when (stages.FirstOrDefault(t => t.IsFaulted && t.Exception!.InnerException is not OperationCanceledException) is { } first)
        {
            // A stage failed for real (not the others' cancellation that followed it): report that failure.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first.Exception!.InnerException!);
        }
    }

    /// <summary>
    /// How many batches circulate between the stages: one filling, one being written, one being acknowledged, and
    /// the rest normalized ahead while a write is slow, to be written together (see <see cref="StoreStageAsync"/>).
    /// Enough to hold every message the broker may leave unacknowledged (<c>Mqtt:ReceiveMaximum</c>, which bounds them
    /// at QoS 1 anyway), so that while the store stalls (a checkpoint, the minute's rollup fold: 1–2 s at 20,000
    /// msg/s) everything received is still normalized and heard by the arrival listeners: a forced door reaches the
    /// wall screen without waiting for the store.
    /// </summary>
    internal static int BatchesInFlight(int batchSize, int receiveMaximum) =>
        Math.Max(6, (receiveMaximum + batchSize - 1) / batchSize + 3);

    /// <summary>Runs a stage; when it ends (however), the next stage is told no more is coming and, on a failure, every stage stops.</summary>
    private static async Task RunStageAsync(Func<Task> stage, ChannelWriter<PipelineBatch> next, CancellationTokenSource failed)
    {
        try
        {
            await stage().ConfigureAwait(false);
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            next.TryComplete();
        }
    }

    /// <summary>
    /// Fills, normalizes and hands on batches. Each fill (up to <c>Ingest:BatchDelayMilliseconds</c>) is normalized and
    /// heard by the arrival listeners at once; while a batch already waits for the store (a slow write), the next one
    /// keeps filling up to <c>Ingest:BatchSize</c> instead of being handed on small. A small batch would only wait
    /// beside the other, and would use up the batches in flight: at 20,000 msg/s a 50 ms fill is 1,000 messages, so
    /// the batches ran out in about a second of a stall, and then nothing was normalized or heard (a forced door's
    /// alert waited for the store) although Receive Maximum let the broker send two seconds more.
    /// </summary>
    private async Task NormalizeStageAsync(ChannelReader<PipelineBatch> free, ChannelWriter<PipelineBatch> normalized, IngestOptions o, CancellationToken cancellationToken)
    {
        var reader = queue.Reader;
        PipelineBatch? batch = null;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                batch = await free.ReadAsync(cancellationToken).ConfigureAwait(false);
                do
                {
                    var messages = batch.Messages.Count;
                    var readings = batch.Readings.Count;
                    await FillBatchAsync(batch.Messages, o, cancellationToken).ConfigureAwait(false);
                    metrics.Taken(batch.Messages.Count - messages);
                    Normalize(batch.Messages, messages, batch.Readings, batch.DeadLetters);
                    if (_arrivals.Length > 0 && batch.Readings.Count > readings)
                    {
                        // The listeners' own copy: the batch's lists are reused once it is acknowledged.
                        var arrived = CollectionsMarshal.AsSpan(batch.Readings)[readings..].ToArray();
                        foreach (var listener in _arrivals) await listener.OnArrivedAsync(arrived, cancellationToken).ConfigureAwait(false);
                    }
                }
                while (batch.Messages.Count < o.BatchSize && Volatile.Read(ref _waitingForStore) > 0 && !reader.Completion.IsCompleted);

                Interlocked.Increment(ref _waitingForStore);
                await normalized.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                batch = null;
            }
        }
        finally
        {
            // A batch still being filled when the pipeline stops: its payloads go back to the pool (not acknowledged,
            // so the broker sends the messages again on the next start).
            if (batch is not null)
            {
                foreach (var message in batch.Messages) message.ReleasePayload();
            }
        }
    }

    /// <summary>
    /// Writes each normalized batch; batches that queued up behind a slow write (a DuckDB checkpoint) are written
    /// together, as one write: a write costs a fixed ~12 ms besides its readings, so catching up with one write of
    /// 16,000 readings costs DuckDB a quarter less per reading than four of 4,000 (<c>store-load</c>,
    /// benchmarks/README.md), and the backlog clears sooner. At a rate the store keeps up with, nothing queues and
    /// each batch is written alone, as soon as it is normalized. Order is kept: the joined readings are in arrival
    /// order, and the batches go on to be acknowledged one by one, in order, after the write.
    /// </summary>
    private async Task StoreStageAsync(ChannelReader<PipelineBatch> normalized, ChannelWriter<PipelineBatch> stored, CancellationToken cancellationToken)
    {
        var waiting = new List<PipelineBatch>();
        var readings = new List<Reading>();
        var deadLetters = new List<DeadLetter>();
        while (await normalized.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (normalized.TryRead(out var batch))
            {
                waiting.Add(batch);
                Interlocked.Decrement(ref _waitingForStore);
            }
            if (waiting.Count == 1)
            {
                await writer.AcceptAsync(waiting[0].Readings, waiting[0].DeadLetters, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                foreach (var batch in waiting)
                {
                    readings.AddRange(batch.Readings);
                    deadLetters.AddRange(batch.DeadLetters);
                }
                await writer.AcceptAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false);
                readings.Clear();
                deadLetters.Clear();
            }
            foreach (var batch in waiting) await stored.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            waiting.Clear();
        }
    }

    private async Task AcknowledgeStageAsync(ChannelReader<PipelineBatch> stored, ChannelWriter<PipelineBatch> free, CancellationToken cancellationToken)
    {
        await foreach (var batch in stored.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var message in batch.Messages)
            {
                await message.AcknowledgeAsync(cancellationToken).ConfigureAwait(false);
            }
            metrics.Acknowledged(batch.Messages.Count);
            batch.Clear();
            await free.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The messages of one batch and what normalizing them gave; reused, so the steady state allocates no lists. The
    /// lists grow to what the feed needs instead of starting at a full batch: at a street office's own rate a batch
    /// closes on its linger with tens of messages, and the 20–25 batches in flight held 7.4 MB of empty room.
    /// </summary>
    private sealed class PipelineBatch
    {
        public List<PendingMessage> Messages { get; } = [];
        public List<Reading> Readings { get; } = [];
        public List<DeadLetter> DeadLetters { get; } = [];

        public void Clear()
        {
            Messages.Clear();
            Readings.Clear();
            DeadLetters.Clear();
        }
    }

    /// <summary>
    /// After a restart, continue each meter's register from the store so the first new reading yields consumption.
    /// Batches left in the spool hold newer registers than the store, so they are drained first; while the store is
    /// down at start, intake therefore waits (messages stay at the broker) rather than count an interval twice.
    /// </summary>
    private async Task SeedRegistersAsync(CancellationToken cancellationToken)
    {
        await writer.WaitUntilDrainedAsync(cancellationToken).ConfigureAwait(false);
        // Every registered meter will report its register: room for all of them now, not doubled as they turn up.
        _registers.EnsureCapacity(registry.Devices.Count(device => device.Kind == DeviceKind.Meter));
        while (true)
        {
            try
            {
                foreach (var metric in new[] { Metrics.WaterTotal, Metrics.ElectricityTotal })
                {
                    foreach (var last in await store.LatestPerDeviceAsync(metric, cancellationToken).ConfigureAwait(false))
                    {
                        _registers.Seed(last.Device, metric, last.Time, last.Value);
                        registry.Seen(last.Device, last.Time);
                    }
                }
                logger.LogInformation("Ingest pipeline ready; continued {Count} meter registers from the store", _registers.Count);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Store not ready for seeding meter registers; retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task FillBatchAsync(List<PendingMessage> batch, IngestOptions o, CancellationToken cancellationToken)
    {
        var reader = queue.Reader;
        while (batch.Count < o.BatchSize && reader.TryRead(out var message)) batch.Add(message);
        if (batch.Count >= o.BatchSize) return;

        // A partial batch waits a little for company, so a trickle is written promptly and a flood in large batches.
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linger.CancelAfter(o.BatchDelayMilliseconds);
        try
        {
            while (batch.Count < o.BatchSize && await reader.WaitToReadAsync(linger.Token).ConfigureAwait(false))
            {
                while (batch.Count < o.BatchSize && reader.TryRead(out var message)) batch.Add(message);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Normalizes <paramref name="batch"/>'s messages from index <paramref name="from"/> on.</summary>
    private void Normalize(List<PendingMessage> batch, int from, List<Reading> readings, List<DeadLetter> deadLetters)
    {
        for (var m = from; m < batch.Count; m++)
        {
            var message = batch[m];
            string? reason;
            string format = "none";
            if (message is OversizedMessage oversized)
            {
                reason = $"payload of {oversized.OriginalLength} bytes exceeds Ingest:MaxPayloadBytes ({options.Value.MaxPayloadBytes})";
            }
            else if (router.Find(message.Topic) is not { } normalizer)
            {
                reason = "no normalizer is configured for this topic";
            }
            else
            {
                format = normalizer.Format;
                var first = readings.Count;
                try
                {
                    reason = normalizer.Normalize(new IncomingMessage(message.Topic, message.Payload, message.ReceivedAt), readings);
                }
                catch (Exception ex)
                {
                    // A normalizer bug must not take ingest down; the message is kept with the exception as its reason.
                    logger.LogError(ex, "Normalizer {Format} threw on topic {Topic}", normalizer.Format, message.Topic);
                    readings.RemoveRange(first, readings.Count - first);
                    reason = $"normalizer {normalizer.Format} failed: {ex.GetType().Name}: {ex.Message}";
                }
                if (reason is null && ClockSkew(readings, first, message.ReceivedAt) is { } skew)
                {
                    readings.RemoveRange(first, readings.Count - first);
                    reason = skew;
                }
                if (reason is null)
                {
                    DeriveConsumption(readings, first);
                }
            }
            if (reason is not null)
            {
                var kept = message.Payload.Span[..Math.Min(message.Length, DeadLetter.MaxPayloadBytes)].ToArray();
                var originalLength = message is OversizedMessage o ? o.OriginalLength : message.Length;
                deadLetters.Add(new DeadLetter(message.Topic, kept, originalLength, message.ReceivedAt, reason, format));
            }
            message.ReleasePayload();
        }
    }

    /// <summary>
    /// The dead-letter reason when a reading of the message lies further from its receive time than
    /// <c>Ingest:MaxClockAheadSeconds</c> / <c>MaxClockBehindSeconds</c> allow (a device with a wrong clock), or null.
    /// The whole message goes: its readings share the device's one clock.
    /// </summary>
    private string? ClockSkew(List<Reading> readings, int first, DateTimeOffset receivedAt)
    {
        var o = options.Value;
        if (o.MaxClockAheadSeconds == 0 && o.MaxClockBehindSeconds == 0) return null;
        for (var i = first; i < readings.Count; i++)
        {
            var skew = readings[i].Time - receivedAt;
            if (o.MaxClockAheadSeconds > 0 && skew > TimeSpan.FromSeconds(o.MaxClockAheadSeconds))
            {
                metrics.ClockSkewed(ahead: true);
                return $"clock skew: reading time {readings[i].Time.UtcDateTime:O} is {Describe(skew)} ahead of its receipt at {receivedAt.UtcDateTime:O} (Ingest:MaxClockAheadSeconds={o.MaxClockAheadSeconds}); fix the device's clock, then replay this message";
            }
            if (o.MaxClockBehindSeconds > 0 && -skew > TimeSpan.FromSeconds(o.MaxClockBehindSeconds))
            {
                metrics.ClockSkewed(ahead: false);
                return $"clock skew: reading time {readings[i].Time.UtcDateTime:O} is {Describe(-skew)} behind its receipt at {receivedAt.UtcDateTime:O} (Ingest:MaxClockBehindSeconds={o.MaxClockBehindSeconds}); fix the device's clock, then replay this message";
            }
        }
        return null;
    }

    private static string Describe(TimeSpan span) =>
        span >= TimeSpan.FromDays(2) ? $"{span.TotalDays:F1} days" : span >= TimeSpan.FromHours(2) ? $"{span.TotalHours:F1} hours" : $"{span.TotalMinutes:F1} minutes";

    private void DeriveConsumption(List<Reading> readings, int first)
    {
        var end = readings.Count;
        for (var i = first; i < end; i++)
        {
            var reading = readings[i];
            registry.Seen(reading.Device, reading.Time);
            if (_registers.Observe(reading) is { } consumption)
            {
                readings.Add(consumption);
            }
        }
    }
}
