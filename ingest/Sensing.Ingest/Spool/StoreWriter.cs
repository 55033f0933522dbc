using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Pipeline;

namespace Sensing.Ingest.Spool;

/// <summary>The store as ingest sees it: <c>ok</c>, <c>spooling</c> (reachable, catching up), or <c>down</c>.</summary>
public enum StoreState { Ok, Spooling, Down }

/// <summary>
/// Makes each pipeline batch durable before it is acknowledged: written to the store when the spool is empty and
/// the store answers within <see cref="SpoolOptions.StoreTimeoutMilliseconds"/>, otherwise appended to the
/// <see cref="ReadingSpool"/> on local disk. While the spool holds anything, new batches queue behind it so the
/// store receives them in order; this service drains it in the background. When the spool is full or the disk
/// refuses, <see cref="AcceptAsync"/> waits: the pipeline stops acknowledging and the broker keeps the messages. It
/// also waits while the store is slow but taking writes and the spool already holds <c>Spool:SlowStoreBatches</c>:
/// the spool bridges an outage or a stall, it is not where an overload should pile up.
/// Listeners hear of readings once they are in the store, whichever path got them there. Store writes are
/// idempotent, so a batch written twice (a slow write that finished after it was spooled, a crash between a
/// drained write and its cursor update) is still stored once.
/// </summary>
public sealed class StoreWriter(
    IReadingStore store,
    IEnumerable<IStoredReadingsListener> listeners,
    IngestMetrics metrics,
    IOptions<SpoolOptions> options,
    TimeProvider time,
    ILogger<StoreWriter> logger) : BackgroundService, IMetricsSource
{
    private static readonly TimeSpan s_maxRetryDelay = TimeSpan.FromSeconds(5);
    // How recently the drainer must have stored a batch for the store to count as slow rather than away.
    private static readonly TimeSpan s_drainProgress = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many readings the drainer joins into one store write. Catching up is when the store is slowest to take
    /// batches; DuckDB writes 5,000 readings for 11.6 CPU-µs each against 14.9 µs at 2,000 (benchmarks/README.md).
    /// </summary>
    internal const int DrainReadings = 10_000;

    private readonly IStoredReadingsListener[] _listeners = [.. listeners];
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Orders store writes against a household's erasure: a write either lands before the erasure (and is erased) or
    // after it (and its batch was filtered). Held per write attempt, never across a retry delay, so an erasure waits
    // at most one attempt. Uncontended on the hot path (one pipeline, one drainer, erasures are rare).
    private readonly SemaphoreSlim _writes = new(1, 1);
    // Direct writes that outlived their timeout (their batch went to the spool) and may still land in the store.
    private readonly List<Task> _lateWrites = [];
    private ReadingSpool? _spool;
    private long _spooledBatches;
    private long _blockedSpells;
    private long _lastDrained;
    private long _slowStoreHolds;
    private long _slowStoreHeldTicks;
    private volatile bool _storeUp = true;
    // Why intake waits (the spool cannot take a batch and the store cannot either), or null: /healthz shows it.
    private volatile string? _blocked;

    public StoreState State => !_storeUp ? StoreState.Down : _spool is { IsEmpty: false } ? StoreState.Spooling : StoreState.Ok;
    public int SpoolDepth => _spool?.Depth ?? 0;
    public long SpoolBytes => _spool?.Bytes ?? 0;

    /// <summary>
    /// Why intake is waiting, while it is: the spool is full (<c>Spool:MaxBytes</c>) or its disk refuses writes (full,
    /// read-only), and the store is not taking writes either. Null otherwise. Messages meanwhile stay unacknowledged at the broker.
    /// </summary>
    public string? SpoolProblem => _blocked;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Enabled)
        {
            _spool = ReadingSpool.Open(options.Value, logger);
        }
        _opened.TrySetResult();
        return base.StartAsync(cancellationToken);
    }

    /// <summary>Completes once the spool holds nothing: a restarting pipeline waits for it before it continues meter registers from the store.</summary>
    public async Task WaitUntilDrainedAsync(CancellationToken cancellationToken)
    {
        await _opened.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        while (_spool is { IsEmpty: false })
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Returns once the batch is durable (in the store or the spool); waits, never drops, while neither can take it.</summary>
    public async Task AcceptAsync(List<Reading> callersReadings, List<DeadLetter> callersDeadLetters, CancellationToken cancellationToken)
    {
        await _opened.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        // The batch's own copy, made once and used by the write, the spool and the listeners alike: the caller reuses
        // its lists as soon as this returns, while a direct write that outlived its timeout may still be reading (it
        // would store readings torn between two batches), and listeners keep what they are given.
        Reading[] readings = [.. callersReadings];
        DeadLetter[] deadLetters = [.. callersDeadLetters];
        if (_spool is null)
        {
            await WriteUntilStoredAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false);
            await NotifyAsync(readings, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_spool.IsEmpty && await TryWriteDirectAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false))
        {
            await NotifyAsync(readings, cancellationToken).ConfigureAwait(false);
            return;
        }

        await WhileTheStoreIsOnlySlowAsync(cancellationToken).ConfigureAwait(false);
        var batch = new SpoolBatch(readings, deadLetters);
        var delay = TimeSpan.FromMilliseconds(100);
        var blockedAt = 0L;
        try
        {
            while (true)
            {
                var result = _spool.TryAppend(batch);
                if (result == SpoolAppendResult.Appended)
                {
                    Interlocked.Increment(ref _spooledBatches);
                    metrics.DeadLettered(deadLetters.Length);
                    return;
                }
                var problem = result == SpoolAppendResult.Full
                    ? $"spool full: {_spool.Bytes} bytes of Spool:MaxBytes {options.Value.MaxBytes} in {_spool.Depth} batches, and the store is not taking writes"
                    : $"spool disk refuses writes ({_spool.LastFailure}), and the store is not taking writes";
                if (blockedAt == 0)
                {
                    // Once per spell: the pipeline sends one batch at a time and this one waits here until it is durable.
                    blockedAt = Stopwatch.GetTimestamp();
                    Interlocked.Increment(ref _blockedSpells);
                    logger.LogError("Intake waits: {Problem}. Messages stay unacknowledged at the broker; nothing is dropped", problem);
                }
                _blocked = problem;
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                // Nothing queued ahead of this batch (the spool may be empty yet refuse it: a full disk): the store,
                // if it is back, can take it directly without breaking order.
                if (_spool.IsEmpty && await TryWriteDirectAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false))
                {
                    await NotifyAsync(readings, cancellationToken).ConfigureAwait(false);
                    return;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
            }
        }
        finally
        {
            if (blockedAt != 0)
            {
                _blocked = null;
                logger.LogWarning("Intake resumes after waiting {Seconds:F1} s for the spool or the store", Stopwatch.GetElapsedTime(blockedAt).TotalSeconds);
            }
        }
    }

    /// <summary>
    /// Waits while the spool already holds <see cref="SpoolOptions.SlowStoreBatches"/> and its drainer is storing
    /// batches (one stored within <see cref="s_drainProgress"/>): the store is slow, not away, so intake waits for it
    /// (the broker keeps the messages) rather than pile an overload into the spool. Returns at once when the store
    /// takes nothing, so an outage is spooled as before.
    /// </summary>
    private async Task WhileTheStoreIsOnlySlowAsync(CancellationToken cancellationToken)
    {
        var limit = options.Value.SlowStoreBatches;
        var heldAt = 0L;
        while (_spool!.Depth >= limit && DrainerProgressing)
        {
            if (heldAt == 0)
            {
                heldAt = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref _slowStoreHolds);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
        if (heldAt != 0) Interlocked.Add(ref _slowStoreHeldTicks, Stopwatch.GetElapsedTime(heldAt).Ticks);
    }

    private bool DrainerProgressing
    {
        get
        {
            var last = Interlocked.Read(ref _lastDrained);
            return last != 0 && Stopwatch.GetElapsedTime(last) < s_drainProgress;
        }
    }

    private async Task<bool> TryWriteDirectAsync(Reading[] readings, DeadLetter[] deadLetters, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await TryWriteDirectLockedAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task<bool> TryWriteDirectLockedAsync(Reading[] readings, DeadLetter[] deadLetters, CancellationToken cancellationToken)
    {
        // The write may outlive this call (the timeout below): it reads the batch's own arrays, never the caller's lists.
        var write = WriteOnceAsync(readings, deadLetters, cancellationToken);
        try
        {
            await write.WaitAsync(TimeSpan.FromMilliseconds(options.Value.StoreTimeoutMilliseconds), cancellationToken).ConfigureAwait(false);
            metrics.DeadLettered(deadLetters.Length);
            _storeUp = true;
            return true;
        }
        catch (TimeoutException)
        {
            // Too slow: the batch goes to the spool. The write may still finish; if it does, the spooled copy is a
            // harmless duplicate. Observe its outcome so a late failure is not an unobserved exception.
            _ = write.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            lock (_lateWrites)
            {
                _lateWrites.RemoveAll(t => t.IsCompleted);
                _lateWrites.Add(write);
            }
            logger.LogWarning("Store write took longer than {Timeout} ms; spooling", options.Value.StoreTimeoutMilliseconds);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _storeUp = false;
            metrics.StoreFailed();
            logger.LogWarning("Store write failed ({Error}); spooling", ex.Message);
            return false;
        }
    }

    private async Task WriteOnceAsync(IReadOnlyList<Reading> readings, IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var stored = readings.Count;
        if (readings.Count > 0)
        {
            try
            {
                await store.WriteAsync(readings, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException)
            {
                // The store refuses some reading as data, not as an outage (a text InfluxDB's line protocol cannot
                // carry): retrying would refuse it forever and stall ingest behind it. Split the batch to store
                // what it takes and keep the refused readings as dead letters with the store's reason.
                var refused = new List<DeadLetter>();
                stored = await WriteSplittingAsync(readings, refused, cancellationToken).ConfigureAwait(false);
                deadLetters = [.. deadLetters, .. refused];
                metrics.DeadLettered(refused.Count);
            }
        }
        if (deadLetters.Count > 0)
        {
            await store.WriteDeadLettersAsync(deadLetters, cancellationToken).ConfigureAwait(false);
            logger.LogWarning("Dead-lettered {Count} message(s); first: {Topic}: {Reason}", deadLetters.Count, deadLetters[0].Topic, deadLetters[0].Reason);
        }
        metrics.StoreWritten(stored, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Writes halves until each refused reading stands alone; returns how many readings were stored.</summary>
    private async Task<int> WriteSplittingAsync(IReadOnlyList<Reading> readings, List<DeadLetter> refused, CancellationToken cancellationToken)
    {
        try
        {
            await store.WriteAsync(readings, cancellationToken).ConfigureAwait(false);
            return readings.Count;
        }
        catch (ArgumentException ex) when (readings.Count == 1)
        {
            var reading = readings[0];
            var payload = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(reading);
            refused.Add(new DeadLetter($"store/{reading.Community}/{reading.Device}", payload, payload.Length, time.GetUtcNow(),
                $"the store refused the reading: {ex.Message}", "store"));
            logger.LogWarning("The store refused a reading of {Device} {Metric}: {Error}", reading.Device, reading.Metric, ex.Message);
            return 0;
        }
        catch (ArgumentException)
        {
            var half = readings.Count / 2;
            return await WriteSplittingAsync([.. readings.Take(half)], refused, cancellationToken).ConfigureAwait(false)
                + await WriteSplittingAsync([.. readings.Skip(half)], refused, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes until the store takes it (the path without a spool).</summary>
    private async Task WriteUntilStoredAsync(IReadOnlyList<Reading> readings, IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!await TryWriteGatedAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false))
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, s_maxRetryDelay.Ticks));
        }
    }

    /// <summary>One write attempt under <see cref="_writes"/>; false (logged) when the store failed.</summary>
    private async Task<bool> TryWriteGatedAsync(IReadOnlyList<Reading> readings, IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteOnceAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false);
            metrics.DeadLettered(deadLetters.Count);
            _storeUp = true;
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _storeUp = false;
            metrics.StoreFailed();
            logger.LogError("Store write of {Readings} readings failed ({Error}); retrying", readings.Count, ex.Message);
            return false;
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>
    /// Drains the spool into the store, oldest batch first, one at a time. Each attempt reads the batch afresh, so a
    /// household erased while the store was down is filtered out of the retry too.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_spool is null) return;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _spool.WaitForBatchesAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                var delay = TimeSpan.FromMilliseconds(100);
                while (true)
                {
                    SpoolEntry entry;
                    SpoolBatch? batch;
                    bool written;
                    await _writes.WaitAsync(stoppingToken).ConfigureAwait(false);
                    try
                    {
                        // A backlog is drained several batches to a write (up to DrainReadings readings).
                        if (!_spool.TryPeekRun(DrainReadings, out entry, out _, out batch)) break;
                        // Dead letters were counted when spooled; count only the store write here.
                        written = await TryWriteLockedAsync(batch!.Readings, batch.DeadLetters, stoppingToken).ConfigureAwait(false);
                        // Committed under the gate: an erasure never finds a batch stored but still counted as spooled.
                        if (written)
                        {
                            _spool.Commit(entry);
                            Interlocked.Exchange(ref _lastDrained, Stopwatch.GetTimestamp());
                        }
                    }
                    finally
                    {
                        _writes.Release();
                    }
                    if (!written)
                    {
                        await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, s_maxRetryDelay.Ticks));
                        continue;
                    }
                    delay = TimeSpan.FromMilliseconds(100);
                    await NotifyAsync(batch.Readings, stoppingToken).ConfigureAwait(false);
                    if (_spool.IsEmpty)
                    {
                        logger.LogInformation("Spool drained: the store has caught up");
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // What is left stays on disk and is drained after the next start.
        }
    }

    private async Task<bool> TryWriteLockedAsync(IReadOnlyList<Reading> readings, IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        try
        {
            await WriteOnceAsync(readings, deadLetters, cancellationToken).ConfigureAwait(false);
            _storeUp = true;
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _storeUp = false;
            metrics.StoreFailed();
            logger.LogError("Store write of {Readings} spooled readings failed ({Error}); retrying", readings.Count, ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Erases a household from the data path: first from the spool (its batches are filtered from now on, durably),
    /// then, once no write of readings taken before this moment can still land, from the store through
    /// <paramref name="eraseStore"/>. Returns how many of its readings the spool held and what the store removed.
    /// When the store fails, the spool's part stands (those readings will never reach the store) and the caller
    /// retries; erasing twice is harmless.
    /// </summary>
    public async Task<(int Spooled, HouseholdErasure Store)> EraseHouseholdAsync(
        HouseholdScope scope, Func<CancellationToken, Task<HouseholdErasure>> eraseStore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(eraseStore);
        await _opened.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _writes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var spooled = _spool?.MarkErased(scope) ?? 0;
            Task[] late;
            lock (_lateWrites)
            {
                late = [.. _lateWrites.Where(t => !t.IsCompleted)];
                _lateWrites.Clear();
            }
            // A direct write that timed out may still be running; its readings must land before the delete, not after.
            try { await Task.WhenAll(late).WaitAsync(cancellationToken).ConfigureAwait(false); } catch (Exception ex) when (ex is not OperationCanceledException) { }
            var store = await eraseStore(cancellationToken).ConfigureAwait(false);
            return (spooled, store);
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task NotifyAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
    {
        if (readings.Count == 0) return;
        // Listeners keep what they get (the port's promise): an accepted batch is already the batch's own array
        // (AcceptAsync), and a drained spool batch is read fresh from disk; anything else is copied here.
        var stored = readings as Reading[] ?? [.. readings];
        foreach (var listener in _listeners)
        {
            await listener.OnStoredAsync(stored, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Collect(ICollection<MetricSample> samples)
    {
        samples.Add(new("sensing_spool_depth", "Batches waiting in the local spool for the store.", "gauge", SpoolDepth));
        samples.Add(new("sensing_spool_bytes", "Bytes waiting in the local spool.", "gauge", SpoolBytes));
        samples.Add(new("sensing_spool_batches_total", "Batches that went to the spool because the store was slow or down.", "counter", Interlocked.Read(ref _spooledBatches)));
        samples.Add(new("sensing_store_up", "1 when the last store write succeeded.", "gauge", _storeUp ? 1 : 0));
        samples.Add(new("sensing_spool_blocked", "1 while intake waits because neither the spool (full, or its disk refuses writes) nor the store takes a batch; messages stay unacknowledged at the broker.", "gauge", _blocked is null ? 0 : 1));
        samples.Add(new("sensing_spool_blocked_total", "Spells of intake waiting for the spool or the store.", "counter", Interlocked.Read(ref _blockedSpells)));
        samples.Add(new("sensing_slow_store_holds_total", "Times intake waited because the store was slow but taking writes and the spool already held Spool:SlowStoreBatches.", "counter", Interlocked.Read(ref _slowStoreHolds)));
        samples.Add(new("sensing_slow_store_held_seconds_total", "Time intake spent waiting for a slow store (see sensing_slow_store_holds_total).", "counter", TimeSpan.FromTicks(Interlocked.Read(ref _slowStoreHeldTicks)).TotalSeconds));
        samples.Add(new("sensing_spool_append_failures_total", "Spool appends the disk refused (full, read-only); each is retried, nothing is acknowledged meanwhile.", "counter", _spool?.AppendFailures ?? 0));
    }

    public override void Dispose()
    {
        _spool?.Dispose();
        base.Dispose();
    }
}
