namespace Sensing.Cockpit.Tiles;

/// <summary>
/// The wall screen's reads of the store, bounded in time. A store that does not answer (InfluxDB frozen or away, DuckDB
/// refusing) must not stop the tiles: the registry's and the alert book's figures, the store's own state and the spool's
/// depth are what an operator needs most during an outage. A read that fails or takes longer than <see cref="Budget"/>
/// ends the attempt; the callers then show the figures of their last good read, marked by their age. After a failure
/// the store is left alone for <see cref="RetryEvery"/> (callers get their last figures at once), so forty screens
/// refreshed every 2 s do not each wait out the budget against a store that is known not to answer.
/// </summary>
public sealed class TileStoreReads(TimeProvider time, ILogger<TileStoreReads> logger) : IMetricsSource
{
    /// <summary>
    /// The longest a tile refresh waits for the store. Well above a healthy read (the tiles' reads answer from memory or
    /// one scan of today's gate passes, milliseconds) and above the store's own stalls under load (a DuckDB checkpoint
    /// or the minute's fold, ~1 s at 20,000 msg/s), so a busy store is not reported as failing.
    /// </summary>
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);

    /// <summary>How long after a failed read the store is asked again.</summary>
    public static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(15);

    private readonly Lock _lock = new();
    private DateTimeOffset? _failingSince;
    private DateTimeOffset _nextAttempt = DateTimeOffset.MinValue;
    private long _failures;

    /// <summary>Since when the store has not answered the tiles' reads; null while it answers.</summary>
    public DateTimeOffset? FailingSince
    {
        get { lock (_lock) return _failingSince; }
    }

    /// <summary>
    /// Runs <paramref name="read"/> within <see cref="Budget"/>. False when the read failed or ran out of time, or when the
    /// store failed less than <see cref="RetryEvery"/> ago and was not asked. The caller's own cancellation is thrown.
    /// </summary>
    public async Task<(bool Answered, T? Value)> TryAsync<T>(Func<CancellationToken, Task<T>> read, string what, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_failingSince is not null && time.GetUtcNow() < _nextAttempt) return (false, default);
        }
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Budget);
        try
        {
            var value = await read(budget.Token).ConfigureAwait(false);
            Answered();
            return (true, value);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Failed(ex, what);
            return (false, default);
        }
    }

    private void Answered()
    {
        DateTimeOffset? since;
        lock (_lock)
        {
            since = _failingSince;
            _failingSince = null;
        }
        if (since is { } s)
        {
            logger.LogInformation("The store answers the wall screen's reads again, after {Seconds:0} s", (time.GetUtcNow() - s).TotalSeconds);
        }
    }

    private void Failed(Exception ex, string what)
    {
        Interlocked.Increment(ref _failures);
        bool first;
        lock (_lock)
        {
            var now = time.GetUtcNow();
            first = _failingSince is null;
            _failingSince ??= now;
            _nextAttempt = now + RetryEvery;
        }
        // Once per spell: every refresh of every screen would otherwise log the same outage.
        if (first)
        {
            var reason = ex is OperationCanceledException ? $"no answer within {Budget.TotalSeconds:0} s" : ex.Message;
            logger.LogWarning(ex, "The store did not answer {What} ({Reason}); the wall screens show their last figures, marked by age, and the store is asked again every {Retry:0} s",
                what, reason, RetryEvery.TotalSeconds);
        }
    }

    public void Collect(ICollection<MetricSample> samples)
    {
        samples.Add(new("sensing_tiles_store_read_failures_total", "Reads of the store for the wall screen's tiles that failed or ran out of time (the tiles then show their last figures).",
            "counter", Interlocked.Read(ref _failures)));
        samples.Add(new("sensing_tiles_store_unreadable", "1 while the store does not answer the wall screen's reads, else 0.",
            "gauge", FailingSince is null ? 0 : 1));
    }
}
