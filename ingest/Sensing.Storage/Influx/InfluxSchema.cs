namespace Sensing.Storage.Influx;

/// <summary>
/// How readings, dead letters and alerts are laid out in InfluxDB.
/// <para>
/// Readings: one measurement per device kind, <c>meter</c> (<c>water.*</c>, <c>electricity.*</c>), <c>gate</c>,
/// <c>parking</c>, <c>camera</c>, and <c>reading</c> for any other metric prefix, with the full metric name in the
/// <c>metric</c> tag. Why not one measurement per metric or one for everything:
/// </para>
/// <list type="bullet">
/// <item>Series cardinality is the same for any of these layouts (a series is measurement + tag set, and device ×
/// metric × label decides it), so the choice is about query cost and about which tags a series needs. A per-kind
/// measurement keeps the household tag out of every series that is not a meter's, and lets a query's
/// <c>FROM "meter"</c> narrow the series index before the tag predicates run.</item>
/// <item>A measurement per metric (<c>water.total</c>) would spread one meter over four measurements and make
/// measurement names carry data; a single <c>reading</c> measurement would put household on gates and cameras too.</item>
/// </list>
/// <para>
/// Tags (indexed, low cardinality, written sorted by key as the docs advise): <c>community</c>, <c>device</c>,
/// <c>grid</c>, <c>household</c> (meters only: per-household history is the welfare detector's main query, and a
/// household is pseudonymous), <c>label</c>, <c>metric</c>. An absent grid, household or label is an absent tag (line
/// protocol has no empty tag values), which reads back as the empty string. Fields: <c>value</c> (float),
/// <c>attributes</c> (JSON text, when present) and, for non-meter readings, <c>household</c> as a string field:
/// kept for the round trip, but not indexed, because a gate pass's household would otherwise multiply the gate's
/// series by every household that walks through it.
/// </para>
/// <para>
/// Idempotency: InfluxDB keeps one point per measurement + tag set + timestamp and a second write of the same key
/// overwrites its fields. A redelivered reading therefore replaces itself and is never counted twice (the last write
/// wins, where DuckDB keeps the first; for a redelivery both are the same figure). The tag set includes community,
/// grid and household, so a redelivery that races a registry change moving the device to another grid would land
/// in a second series.
/// </para>
/// <para>
/// Dead letters: measurement <c>deadletter</c>, tag <c>format</c> (a handful of normalizers), fields <c>topic</c>,
/// <c>reason</c>, <c>payload</c> (base64 of at most 16 KiB), <c>payload_bytes</c> (integer). Topics name devices, so
/// they are fields, not tags. Dead letters are append-only, but two letters of one format in the same instant would
/// share a key and overwrite each other; they are written with nanosecond timestamps whose last two digits (below the
/// 100 ns tick .NET keeps) carry a per-store counter, so they never collide and read back with their exact time.
/// </para>
/// <para>
/// Alerts: measurement <c>alert</c>, tag <c>id</c>, fields <c>body</c> (the alert as JSON, so new alert fields need no
/// migration) and <c>updated</c> (nanoseconds of the upsert, ordering versions), at the alert's <c>started_at</c>:
/// an id is derived from kind, subject and onset, so every version of an alert shares that timestamp and an upsert
/// overwrites the previous version in place. Alerts are few (tens a day), so the id tag's cardinality stays small.
/// </para>
/// </summary>
internal static class InfluxSchema
{
    public const string Meter = "meter";
    public const string Gate = "gate";
    public const string Parking = "parking";
    public const string Camera = "camera";
    public const string OtherReadings = "reading";
    public const string DeadLetters = "deadletter";
    public const string Alerts = "alert";

    public const string CommunityTag = "community";
    public const string DeviceTag = "device";
    public const string GridTag = "grid";
    public const string HouseholdTag = "household";
    public const string LabelTag = "label";
    public const string MetricTag = "metric";

    public const string ValueField = "value";
    public const string AttributesField = "attributes";
    public const string HouseholdField = "household";

    public const string FormatTag = "format";
    public const string TopicField = "topic";
    public const string ReasonField = "reason";
    public const string PayloadField = "payload";
    public const string PayloadBytesField = "payload_bytes";

    public const string IdTag = "id";
    public const string BodyField = "body";
    public const string UpdatedField = "updated";

    /// <summary>The measurement a metric's readings live in: its prefix before the first dot, meters folded together.</summary>
    public static string MeasurementOf(string metric)
    {
        var dot = metric.IndexOf('.', StringComparison.Ordinal);
        var prefix = dot < 0 ? metric.AsSpan() : metric.AsSpan(0, dot);
        return prefix switch
        {
            "water" or "electricity" => Meter,
            "gate" => Gate,
            "parking" => Parking,
            "camera" => Camera,
            _ => OtherReadings,
        };
    }
}
