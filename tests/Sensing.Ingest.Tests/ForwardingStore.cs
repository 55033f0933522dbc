namespace Sensing.Ingest.Tests;

/// <summary>
/// A store that passes everything to <paramref name="inner"/> (a real one). Tests override the writes to slow, hold,
/// fail, poison or record them, and keep the real store's answers for everything else.
/// </summary>
internal abstract class ForwardingStore(IReadingStore inner) : IReadingStore
{
    protected IReadingStore Inner => inner;

    public virtual Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken) => inner.WriteAsync(readings, cancellationToken);
    public virtual Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken) => inner.WriteDeadLettersAsync(deadLetters, cancellationToken);
    public Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken) => inner.QueryAsync(query, cancellationToken);
    public Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) => inner.CountPerCommunityAsync(metric, from, to, cancellationToken);
    public Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken) => inner.LatestAsync(community, metric, cancellationToken);
    public Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken) => inner.LatestPerDeviceAsync(metric, cancellationToken);
    public Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken) => inner.DeadLettersAsync(since, limit, cancellationToken);
}
