using System.Text.Json.Serialization;

namespace Sensing.Telemetry;

/// <summary>Alert kinds raised by analytics (the contract's <c>kind</c> strings).</summary>
public static class AlertKinds
{
    public const string LivingAloneDrop = "living_alone_drop";
    public const string WaterLeak = "water_leak";
    public const string DeviceSilent = "device_silent";
    public const string ParkingFull = "parking_full";
    public const string GateForced = "gate_forced";
    public const string CameraEvent = "camera_event";
    /// <summary>A space occupied longer than its class allows (a visitor's space, a fire lane).</summary>
    public const string ParkingOverstay = "parking_overstay";
    /// <summary>A gate reports its door held open (tailgating, a wedge in the door).</summary>
    public const string GateHeldOpen = "gate_held_open";
    /// <summary>Far more passes through a gate in the small hours than it usually sees.</summary>
    public const string GateNightActivity = "gate_night_activity";
}

[JsonConverter(typeof(JsonStringEnumConverter<AlertSeverity>))]
public enum AlertSeverity
{
    [JsonStringEnumMemberName("info")] Info,
    [JsonStringEnumMemberName("warning")] Warning,
    [JsonStringEnumMemberName("critical")] Critical,
}

[JsonConverter(typeof(JsonStringEnumConverter<AlertStatus>))]
public enum AlertStatus
{
    [JsonStringEnumMemberName("open")] Open,
    [JsonStringEnumMemberName("acknowledged")] Acknowledged,
    [JsonStringEnumMemberName("resolved")] Resolved,
    [JsonStringEnumMemberName("escalated")] Escalated,
}

/// <summary>One figure of an alert's evidence: what the detector expected against what it observed.</summary>
public sealed record EvidencePoint(
    [property: JsonPropertyName("t")] DateTimeOffset Time,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("expected")] double Expected,
    [property: JsonPropertyName("observed")] double Observed);

/// <summary>Why an alert was raised, in a form a grid worker can read and a chart can draw.</summary>
public sealed record AlertEvidence(
    [property: JsonPropertyName("summary")] string Summary,
    [property: JsonPropertyName("points")] IReadOnlyList<EvidencePoint> Points);

/// <summary>
/// An alert about one subject (a household, a device). Times are event time, so replaying a feed at
/// any speed raises the same alerts with the same <see cref="StartedAt"/> and <see cref="RaisedAt"/>.
/// </summary>
public sealed record Alert
{
    /// <summary>Stable id derived from kind, subject and onset, so the same anomaly never raises twice.</summary>
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("severity")] public required AlertSeverity Severity { get; init; }
    [JsonPropertyName("community")] public required string Community { get; init; }
    [JsonPropertyName("grid")] public string? Grid { get; init; }
    [JsonPropertyName("household")] public string? Household { get; init; }
    [JsonPropertyName("device")] public string? Device { get; init; }
    [JsonPropertyName("started_at")] public required DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("raised_at")] public required DateTimeOffset RaisedAt { get; init; }
    [JsonPropertyName("status")] public AlertStatus Status { get; init; } = AlertStatus.Open;
    [JsonPropertyName("evidence")] public required AlertEvidence Evidence { get; init; }
    /// <summary>Position in the alert book's change log; a reconnecting client asks for what came after the last one it saw.</summary>
    [JsonPropertyName("sequence")] public long Sequence { get; init; }
    [JsonPropertyName("note")] public string? Note { get; init; }
    /// <summary>
    /// The incident the alert belongs to: the id of its first alert. Alerts about one subject (a household, a device)
    /// close together in event time form one incident, so a household's welfare drop and its meter's silence are one
    /// case for the grid worker rather than two pings. Set by the alert book; null from analytics and for older alerts.
    /// </summary>
    [JsonPropertyName("incident")] public string? Incident { get; init; }
    [JsonPropertyName("updated_by")] public string? UpdatedBy { get; init; }

    /// <summary>A deterministic id: the same kind, subject and onset always give the same id.</summary>
    public static string MakeId(string kind, string subject, DateTimeOffset startedAt)
    {
        var text = $"{kind}|{subject}|{startedAt.UtcTicks}";
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));
        return "a-" + Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }
}
