using System.Collections.Concurrent;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

/// <summary>
/// An in-memory reading store that answers queries honestly: raw points, or buckets aligned to the Unix
/// epoch with the requested aggregation, one per interval that has data. Only what analytics uses is real.
/// </summary>
internal sealed class InMemoryReadingStore : IReadingStore
{
    private readonly Lock _lock = new();
    // (device, metric, label) → readings by time; idempotent per time like the real stores.
    private readonly Dictionary<(string Device, string Metric, string? Label), SortedDictionary<DateTimeOffset, Reading>> _series = new();

    public int Queries;

    /// <summary>When set, every query throws, as a store that lost its disk would.</summary>
    public volatile bool FailQueries;

    public Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var reading in readings)
            {
                var key = (reading.Device, reading.Metric, reading.Label);
                if (!_series.TryGetValue(key, out var series)) _series[key] = series = [];
                series[reading.Time.ToUniversalTime()] = reading;
            }
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Queries);
        if (FailQueries) throw new InvalidOperationException("The store is unavailable.");
        List<Reading> points;
        lock (_lock)
        {
            points = _series
                .Where(s => s.Key.Metric == query.Metric && (query.Device is null || s.Key.Device == query.Device))
                .SelectMany(s => s.Value.Values)
                .Where(r => (query.Community is null || r.Community == query.Community) && r.Time >= query.From && r.Time < query.To)
                .OrderBy(r => r.Time)
                .ToList();
        }
        if (query.Every is not { } every)
            return Task.FromResult<IReadOnlyList<Bucket>>(points.Take(query.Limit).Select(r => new Bucket(r.Time, r.Value)).ToList());

        var buckets = points
            .GroupBy(r => r.Time.UtcTicks - r.Time.UtcTicks % every.Ticks)
            .OrderBy(g => g.Key)
            .Select(g => new Bucket(new DateTimeOffset(g.Key, TimeSpan.Zero), Aggregate(g.Select(r => r.Value).ToList(), query.Aggregation)))
            .Take(query.Limit)
            .ToList();
        return Task.FromResult<IReadOnlyList<Bucket>>(buckets);
    }

    private static double Aggregate(List<double> values, Aggregation aggregation) => aggregation switch
    {
        Aggregation.Sum => values.Sum(),
        Aggregation.Min => values.Min(),
        Aggregation.Max => values.Max(),
        Aggregation.Count => values.Count,
        Aggregation.Last => values[^1],
        _ => values.Average(),
    };

    public Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Analytics never writes dead letters.");

    public Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Analytics does not count per community.");

    public Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Analytics does not ask for latest readings.");

    public Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Analytics does not ask for latest readings.");

    public Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Analytics never reads dead letters.");
}

/// <summary>A fixed registry with away spells; LastSeen is unknown (nothing to seed), as for a fresh install.</summary>
internal sealed class InMemoryDeviceRegistry(IEnumerable<Household> households, IEnumerable<Device> devices) : IDeviceRegistry
{
    private readonly Dictionary<string, Household> _households = households.ToDictionary(h => h.Id);
    private readonly Dictionary<string, Device> _devices = devices.ToDictionary(d => d.Id);
    private readonly ConcurrentBag<AwaySpell> _away = [];

    public IReadOnlyCollection<Community> Communities => [new Community("c1", "Test community")];
    public IReadOnlyCollection<Grid> Grids => [new Grid("g1", "c1", "Grid 1"), new Grid("g2", "c1", "Grid 2")];
    public IReadOnlyCollection<Device> Devices => _devices.Values;
    public IReadOnlyCollection<Household> Households => _households.Values;
    public Device? FindDevice(string id) => _devices.GetValueOrDefault(id);
    public Household? FindHousehold(string id) => _households.GetValueOrDefault(id);
    public void MarkAway(string household, DateTimeOffset from, DateTimeOffset? until) => _away.Add(new AwaySpell(household, from, until));
    public bool IsAway(string household, DateTimeOffset at) =>
        _away.Any(s => s.Household == household && s.From <= at && (s.Until is not { } until || at < until));
    public DateTimeOffset? LastSeen(string device) => null;
}

/// <summary>Keeps every raised alert; a test waits on it with a timeout.</summary>
internal sealed class RecordingAlertSink : IAlertSink
{
    private readonly ConcurrentQueue<Alert> _alerts = new();

    public IReadOnlyList<Alert> Alerts => [.. _alerts];

    /// <summary>Alerts this sink throws on instead of taking, as a sink whose own write failed would.</summary>
    public Func<Alert, bool>? Refuse { get; set; }

    public ValueTask RaiseAsync(Alert alert, CancellationToken cancellationToken)
    {
        if (Refuse?.Invoke(alert) == true) throw new InvalidOperationException($"refused {alert.Id} (test)");
        _alerts.Enqueue(alert);
        return ValueTask.CompletedTask;
    }

    public async Task<IReadOnlyList<Alert>> WaitForAsync(Func<IReadOnlyList<Alert>, bool> done, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!done(Alerts))
        {
            try { await Task.Delay(20, cts.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"Alerts not as expected within {timeout}: {string.Join(", ", Alerts.Select(a => $"{a.Kind} {a.Household ?? a.Device} {a.StartedAt:O}"))}"); }
        }
        return Alerts;
    }
}

/// <summary>
/// A clock whose elapsed time the test moves by hand; timers still run on the real clock, so the loop's
/// periodic silence check fires on its own and sees however much "wall time" the test says has passed.
/// </summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long _ticks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    public override DateTimeOffset GetUtcNow() => start.AddTicks(Interlocked.Read(ref _ticks));
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
}
