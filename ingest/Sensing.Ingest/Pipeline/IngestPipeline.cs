using System.Diagnostics;
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
/// acknowledge to the broker. A message is acknowledged only once its readings (or its dead letter) are durable;
/// when neither store nor spool can take a batch, nothing further is taken, the queue fills and the broker holds
/// the rest. Listeners (analytics) hear of readings once they are in the store.
/// </summary>
public sealed class IngestPipeline(
    IngestQueue queue,
    FormatRouter router,
    DeviceRegistry registry,
    IReadingStore store,
    StoreWriter writer,
    IngestMetrics metrics,
    IOptions<IngestOptions> options,
    ILogger<IngestPipeline> logger) : BackgroundService
{
    private readonly RegisterTracker _registers = new();

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
                await writer.AcceptAsync(readings, deadLetters, stoppingToken).ConfigureAwait(false);
                foreach (var message in batch)
                {
                    await message.AcknowledgeAsync(stoppingToken).ConfigureAwait(false);
                }
                metrics.Acknowledged(batch.Count);
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

    /// <summary>
    /// After a restart, continue each meter's register from the store so the first new reading yields consumption.
    /// Batches left in the spool hold newer registers than the store, so they are drained first; while the store is
    /// down at start, intake therefore waits (messages stay at the broker) rather than count an interval twice.
    /// </summary>
    private async Task SeedRegistersAsync(CancellationToken cancellationToken)
    {
        await writer.WaitUntilDrainedAsync(cancellationToken).ConfigureAwait(false);
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
