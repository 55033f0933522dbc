using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Consumption;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Pipeline;

/// <summary>
/// Takes messages off the <see cref="IngestQueue"/> in batches: normalize → derive consumption from registers →
/// write to the store → acknowledge to the broker → tell listeners (analytics, cockpit). A message is acknowledged
/// only after its readings (or its dead letter) are durably stored; while the store is down the batch is retried
/// and nothing further is taken, so the queue fills and the broker holds the rest.
/// </summary>
public sealed class IngestPipeline(
    IngestQueue queue,
    FormatRouter router,
    DeviceRegistry registry,
    IReadingStore store,
    IEnumerable<IStoredReadingsListener> listeners,
    IngestMetrics metrics,
    IOptions<IngestOptions> options,
    ILogger<IngestPipeline> logger) : BackgroundService
{
    private readonly RegisterTracker _registers = new();
    private readonly IStoredReadingsListener[] _listeners = [.. listeners];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SeedRegistersAsync(stoppingToken).ConfigureAwait(false);
        metrics.PipelineReady = true;

        var o = options.Value;
        var batch = new List<PendingMessage>(o.BatchSize);
        var readings = new List<Reading>(o.BatchSize * 2);
        var deadLetters = new List<DeadLetter>();
        var reader = queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await FillBatchAsync(batch, o, stoppingToken).ConfigureAwait(false);
                Normalize(batch, readings, deadLetters);
                await StoreAsync(readings, deadLetters, stoppingToken).ConfigureAwait(false);
                foreach (var message in batch)
                {
                    await message.AcknowledgeAsync(stoppingToken).ConfigureAwait(false);
                }
                if (readings.Count > 0)
                {
                    // Listeners get their own copy: the batch list is reused for the next round.
                    var stored = readings.ToArray();
                    foreach (var listener in _listeners)
                    {
                        await listener.OnStoredAsync(stored, stoppingToken).ConfigureAwait(false);
                    }
                }
                batch.Clear();
                readings.Clear();
                deadLetters.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Unacknowledged messages stay at the broker and come back on the next start.
        }
        finally
        {
            foreach (var message in batch) message.ReleasePayload();
        }
    }

    /// <summary>After a restart, continue each meter's register from the store so the first new reading yields consumption.</summary>
    private async Task SeedRegistersAsync(CancellationToken cancellationToken)
    {
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

    private void Normalize(List<PendingMessage> batch, List<Reading> readings, List<DeadLetter> deadLetters)
    {
        foreach (var message in batch)
        {
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

    private async Task StoreAsync(List<Reading> readings, List<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                if (readings.Count > 0)
                {
                    await store.WriteAsync(readings, cancellationToken).ConfigureAwait(false);
                }
                if (deadLetters.Count > 0)
                {
                    await store.WriteDeadLettersAsync(deadLetters, cancellationToken).ConfigureAwait(false);
                    metrics.DeadLettered(deadLetters.Count);
                    logger.LogWarning("Dead-lettered {Count} message(s); first: {Topic}: {Reason}", deadLetters.Count, deadLetters[0].Topic, deadLetters[0].Reason);
                }
                metrics.StoreWritten(readings.Count, Stopwatch.GetElapsedTime(started));
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Writes are idempotent, so retrying a batch that partly landed cannot double-count.
                metrics.StoreFailed();
                logger.LogError(ex, "Store write of {Readings} readings failed; retrying in {Delay}", readings.Count, delay);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
