namespace Sensing.Telemetry;

/// <summary>How readings are folded into a time bucket (the contract's <c>agg</c>).</summary>
public enum Aggregation { Mean, Sum, Min, Max, Count, Last }

public static class Aggregations
{
    public static bool TryParse(string? text, out Aggregation agg)
    {
        switch (text)
        {
            case null or "" or "mean": agg = Aggregation.Mean; return true;
            case "sum": agg = Aggregation.Sum; return true;
            case "min": agg = Aggregation.Min; return true;
            case "max": agg = Aggregation.Max; return true;
            case "count": agg = Aggregation.Count; return true;
            case "last": agg = Aggregation.Last; return true;
            default: agg = default; return false;
        }
    }
}

/// <summary>
/// A question to the time-series store. Scope by <see cref="Device"/> or <see cref="Community"/> (or both);
/// with <see cref="Every"/> null the store returns raw points, otherwise one bucket per interval that has data,
/// bucket starts aligned to the Unix epoch in UTC.
/// </summary>
public sealed record ReadingQuery(
    string Metric,
    DateTimeOffset From,
    DateTimeOffset To,
    string? Device = null,
    string? Community = null,
    TimeSpan? Every = null,
    Aggregation Aggregation = Aggregation.Mean,
    int Limit = 10_000)
{
    /// <summary>
    /// Checks what every store requires of a query and returns the bucket width in microseconds (null for raw points).
    /// Throws <see cref="ArgumentException"/> for a query no store can answer.
    /// </summary>
    public long? Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Metric, nameof(Metric));
        if (Device is null && Community is null)
        {
            throw new ArgumentException("A reading query needs a device or a community.", nameof(Device));
        }
        if (Limit <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Limit), Limit, "Limit must be positive.");
        }
        if (Every is not { } every)
        {
            return null;
        }
        var micros = every.Ticks / TimeSpan.TicksPerMicrosecond;
        return micros > 0 ? micros : throw new ArgumentOutOfRangeException(nameof(Every), every, "Every must be at least one microsecond.");
    }
}

/// <summary>One time bucket (or one raw point) of a query answer: <c>{t, value}</c>.</summary>
public readonly record struct Bucket(
    [property: System.Text.Json.Serialization.JsonPropertyName("t")] DateTimeOffset Time,
    [property: System.Text.Json.Serialization.JsonPropertyName("value")] double Value);

/// <summary>The newest reading of one series (device + metric + label).</summary>
public readonly record struct LatestReading(string Device, string Metric, string? Label, DateTimeOffset Time, double Value);

/// <summary>
/// The time-series store. A completed write is durable: ingest acknowledges messages to the broker only after it.
/// Writes are idempotent per device + metric + label + time, so redelivered messages never double-count.
/// </summary>
public interface IReadingStore
{
    Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken);

    Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken);

    Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// How many readings of <paramref name="metric"/> each community has in [<paramref name="from"/>,
    /// <paramref name="to"/>): per community the count <see cref="QueryAsync"/> gives with <see cref="Aggregation.Count"/>,
    /// for every community in one pass (a street office's wall screens each show their own community's figure).
    /// Communities without any are absent.
    /// </summary>
    Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>The newest reading of each series of <paramref name="metric"/> in a community.</summary>
    Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken);

    /// <summary>Newest event time per device: seeds last-seen and register state after a restart.</summary>
    Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken);
}

/// <summary>
/// Told about each batch of readings once it is durably stored. Implementations must return quickly
/// (queue and process elsewhere): ingest awaits them, so a slow listener slows intake instead of growing memory.
/// The batch is the listener's to keep: ingest hands over a batch it never changes or reuses, so nobody copies it.
/// </summary>
public interface IStoredReadingsListener
{
    ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken);
}

/// <summary>
/// Told about each batch of readings as soon as ingest has normalized it, before it is durable: for detectors that must
/// not wait behind the store (a forced door while the store checkpoints or is down). The readings may not be stored
/// yet, and after a restart the broker may deliver them again (at-least-once), so a listener judges what arrives and
/// leaves what is judged from stored data to <see cref="IStoredReadingsListener"/>. Each batch is heard here before
/// it is heard there, in the same order. Implementations must return quickly, as for stored batches; the batch is the
/// listener's to keep.
/// </summary>
public interface IArrivingReadingsListener
{
    ValueTask OnArrivedAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken);
}

/// <summary>Where analytics hands the alerts it raises. Raising an alert id that exists already is a no-op.</summary>
public interface IAlertSink
{
    ValueTask RaiseAsync(Alert alert, CancellationToken cancellationToken);
}

/// <summary>Read side of the device registry, as analytics and the cockpit need it.</summary>
public interface IDeviceRegistry
{
    IReadOnlyCollection<Community> Communities { get; }
    IReadOnlyCollection<Grid> Grids { get; }
    IReadOnlyCollection<Device> Devices { get; }
    IReadOnlyCollection<Household> Households { get; }
    /// <summary>The devices of one community. The default filters <see cref="Devices"/>; a registry with a community index answers from it.</summary>
    IEnumerable<Device> DevicesIn(string community) => Devices.Where(d => d.Community == community);
    Device? FindDevice(string id);
    Household? FindHousehold(string id);
    /// <summary>True when the household is marked away at <paramref name="at"/> (event time).</summary>
    bool IsAway(string household, DateTimeOffset at);
    /// <summary>Newest event time seen from the device, or null if never seen.</summary>
    DateTimeOffset? LastSeen(string device);
}

/// <summary>Durable keeping of alerts and their lifecycle, so a restart forgets no open alert.</summary>
public interface IAlertStore
{
    /// <summary>Inserts the alert or replaces the stored one with the same id.</summary>
    Task UpsertAsync(Alert alert, CancellationToken cancellationToken);

    /// <summary>Alerts raised at or after <paramref name="since"/> plus every alert not yet resolved, oldest first.</summary>
    Task<IReadOnlyList<Alert>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken);
}

/// <summary>
/// One series' figures over one whole hour of a store window, per household its readings carried: how many readings,
/// their sum, and the time of the last one. A series is a device + metric + label (a gate's label is the pass's
/// direction); a meter's readings all carry its household, a gate's passes each the household that walked through
/// (or none), so a gate-hour comes as one entry per household.
/// </summary>
public readonly record struct HourlySeries(
    string Device,
    string Metric,
    string? Label,
    string? Household,
    string Community,
    string? Grid,
    DateTimeOffset Hour,
    long Count,
    double Sum,
    DateTimeOffset LastTime);

/// <summary>
/// The store's windows as analytics reads them: every series of some metrics, per whole UTC hour, in one pass.
/// Detectors judge households from these windows rather than from the readings their own process happened to see, so
/// several ingest instances may share a feed (a household's water and electricity reaching different processes)
/// without changing what is judged. Optional: analytics reads a store without it series by series through
/// <see cref="IReadingStore.QueryAsync"/>, which is slower and knows no gate household.
/// </summary>
public interface IHourlyWindowStore
{
    /// <summary>
    /// Every series of <paramref name="metrics"/> with readings in [<paramref name="from"/>, <paramref name="to"/>)
    /// (both whole UTC hours), one entry per series, household and hour, ordered by hour, then device, metric, label,
    /// household (none first) and community.
    /// </summary>
    IAsyncEnumerable<HourlySeries> HourlyAsync(
        IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to, string? community, CancellationToken cancellationToken);
}

/// <summary>
/// Whose data a household export or erasure covers: the pseudonymous household id and the devices assigned to it
/// (its meters). A reading belongs to the household when it is tagged with it (meters, gate passes of its
/// credentials) or comes from one of these devices; a dead letter when its topic names one of these devices or its
/// payload carries the id as a JSON string; an alert when it names the household or one of these devices.
/// </summary>
public sealed class HouseholdScope(string household, IReadOnlyList<string> devices)
{
    // A class, not a record: the cached bytes below must not take part in equality.
    private byte[]? _quoted;

    public string Household { get; } = household;
    public IReadOnlyList<string> Devices { get; } = devices;

    /// <summary>
    /// True when a dead letter is attributable to the household (see the type's summary). The id is looked for as a
    /// JSON string (<c>"h-1"</c>, quotes included), so <c>h-10</c> is not taken for <c>h-1</c>.
    /// </summary>
    public bool Owns(DeadLetter letter)
    {
        var topic = letter.Topic.AsSpan();
        foreach (var device in Devices)
        {
            if (topic.EndsWith(device, StringComparison.Ordinal) && topic.Length > device.Length && topic[^(device.Length + 1)] == '/') return true;
        }
        _quoted ??= System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(Household));
        return letter.Payload.AsSpan().IndexOf(_quoted) >= 0;
    }

    public bool Owns(Alert alert) =>
        alert.Household == Household || (alert.Device is { } device && Devices.Contains(device, StringComparer.Ordinal));
}

/// <summary>What an erasure removed from the store.</summary>
public sealed record HouseholdErasure(long Readings, long DeadLetters, long Alerts);

/// <summary>
/// A household's data in the store, for an admin's export and erasure (the privacy duties of issue 9). Streams, so a
/// household with years of readings is never held in memory whole.
/// </summary>
public interface IHouseholdDataStore
{
    /// <summary>
    /// Every reading of the household (see <see cref="HouseholdScope"/>), oldest first (DuckDB over all of them; InfluxDB
    /// per measurement: meters, then gates, parking, cameras, others).
    /// </summary>
    IAsyncEnumerable<Reading> HouseholdReadingsAsync(HouseholdScope scope, CancellationToken cancellationToken);

    /// <summary>The dead letters attributable to the household, oldest first.</summary>
    IAsyncEnumerable<DeadLetter> HouseholdDeadLettersAsync(HouseholdScope scope, CancellationToken cancellationToken);

    /// <summary>Every stored alert of the household (any age, any status), oldest first, with its actions.</summary>
    Task<IReadOnlyList<Alert>> HouseholdAlertsAsync(HouseholdScope scope, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the household's readings (raw and rollups), attributable dead letters and alerts. Idempotent: erasing
    /// twice removes nothing the second time.
    /// </summary>
    Task<HouseholdErasure> EraseHouseholdAsync(HouseholdScope scope, CancellationToken cancellationToken);
}
