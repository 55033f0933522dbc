using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Quarantine;

/// <summary>
/// Lets quarantined messages in once their source is registered. The dead-letter store already keeps every
/// quarantined message (topic, raw payload, receive time, and a reason naming the source), so nothing new has to be
/// stored: when <see cref="DeviceRegistry.SourceRegistered"/> fires, this service reads that source's quarantined dead
/// letters back and puts them on the <see cref="IngestQueue"/> in arrival order, with their original receive times,
/// as if the broker had just delivered them. They then take the normal path (normalize, consumption, store), and
/// store writes are idempotent, so a message replayed twice is still stored once. The dead letters themselves stay
/// (the store is append-only): they remain the record of what arrived before the device was known.
/// At start it restores the book of quarantined sources from the dead letters of the last
/// <see cref="IngestOptions.QuarantineWindowDays"/> days, so the list survives a restart.
/// Limits, on purpose: messages larger than <see cref="DeadLetter.MaxPayloadBytes"/> were kept truncated and are not
/// replayed (logged); a source registered while the service was stopped (by editing the registry file) is not replayed.
/// </summary>
public sealed class QuarantineRelease(
    DeviceRegistry registry,
    QuarantineBook book,
    IReadingStore store,
    IngestQueue queue,
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<QuarantineRelease> logger) : BackgroundService
{
    /// <summary>
    /// Dead letters read per release or restore: weeks of one meter's uplinks, and bounded in memory (a letter keeps at
    /// most 16 KiB, so at worst 80 MB for a moment, typically a few hundred KB).
    /// </summary>
    public const int ReadLimit = 5_000;

    // A message quarantined in the batch being written right now is not in the store yet: give that batch time to land.
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(1);

    private readonly Channel<string> _registered = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        registry.SourceRegistered += OnSourceRegistered;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        registry.SourceRegistered -= OnSourceRegistered;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnSourceRegistered(Device device) => _registered.Writer.TryWrite(device.Source!);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RestoreAsync(stoppingToken).ConfigureAwait(false);
            await foreach (var source in _registered.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await ReleaseAsync(source, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var since = time.GetUtcNow() - TimeSpan.FromDays(options.Value.QuarantineWindowDays);
                var restored = 0;
                foreach (var letter in await store.DeadLettersAsync(since, ReadLimit, cancellationToken).ConfigureAwait(false))
                {
                    if (QuarantineBook.SourceOf(letter.Reason) is { } source && registry.FindBySource(source) is null)
                    {
                        book.Restore(source, letter.Format, letter.Topic, letter.ReceivedAt);
                        restored++;
                    }
                }
                if (restored > 0)
                {
                    logger.LogInformation("{Messages} quarantined messages of {Sources} unregistered vendor sources are waiting for registration", restored, book.Count);
                }
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && attempt < 10)
            {
                // The store may still be opening; the quarantine list is a convenience, not worth failing the start.
                logger.LogWarning(ex, "Could not read dead letters to restore the quarantine list (attempt {Attempt}); retrying", attempt);
                await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Gave up restoring the quarantine list; new quarantines are still listed");
                return;
            }
        }
    }

    private async Task ReleaseAsync(string source, CancellationToken cancellationToken)
    {
        await Task.Delay(s_settle, time, cancellationToken).ConfigureAwait(false);
        var known = book.Find(source);
        // DuckDB keeps microseconds, so the first letter's stored time may sit just below the booked one.
        var since = (known?.FirstSeen ?? time.GetUtcNow() - TimeSpan.FromDays(options.Value.QuarantineWindowDays)) - TimeSpan.FromSeconds(1);
        IReadOnlyList<DeadLetter> letters;
        try
        {
            letters = await store.DeadLettersAsync(since, ReadLimit, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            book.ReplayFailed();
            logger.LogWarning(ex, "Could not read the quarantined messages of {Source}; they stay dead-lettered", source);
            return;
        }
        if (letters.Count >= ReadLimit)
        {
            logger.LogWarning("More than {Limit} dead letters since {Since}: older quarantined messages of {Source} may not be replayed", ReadLimit, since, source);
        }

        var replayed = 0;
        var truncated = 0;
        // The store answers newest first; replay in arrival order so meter registers yield consumption as they would have.
        foreach (var letter in letters.Where(l => QuarantineBook.SourceOf(l.Reason) == source).OrderBy(l => l.ReceivedAt))
        {
            if (letter.PayloadBytes > letter.Payload.Length)
            {
                truncated++;
                continue;
            }
            // No acknowledgement: the broker let go of these long ago, the dead-letter store is their durable copy.
            await queue.EnqueueAsync(new PendingMessage(letter.Topic, letter.Payload, letter.ReceivedAt, acknowledge: null), cancellationToken).ConfigureAwait(false);
            replayed++;
        }
        book.Release(source);
        book.Replayed(replayed);
        if (replayed > 0 || truncated > 0)
        {
            logger.LogInformation("Source {Source} registered: re-ingesting {Replayed} quarantined messages ({Truncated} too large to replay stay dead-lettered)",
                source, replayed, truncated);
        }
    }
}
