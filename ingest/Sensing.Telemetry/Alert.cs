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

    /// <summary>Every kind above, for checking configuration that names kinds.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        LivingAloneDrop, WaterLeak, DeviceSilent, ParkingFull, GateForced, CameraEvent, ParkingOverstay, GateHeldOpen, GateNightActivity,
    ];
}

/// <summary>Whom an unacknowledged alert went to when its response deadline passed (<see cref="Alert.Escalation"/>).</summary>
public static class AlertEscalations
{
    /// <summary>The first deadline passed: the grid's leader is asked to see that someone answers.</summary>
    public const string GridLeader = "grid_leader";
    /// <summary>The second deadline passed too (or the grid has no leader): the control room's wall shows it as escalated.</summary>
    public const string ControlRoom = "control_room";
}

/// <summary>What was done to an alert (<see cref="AlertAction.Action"/>).</summary>
public static class AlertActions
{
    public const string Raised = "raised";
    public const string Acknowledged = "acknowledged";
    public const string OnTheWay = "on_the_way";
    public const string Resolved = "resolved";
    public const string Escalated = "escalated";
}

/// <summary>
/// One entry of an alert's audit trail: who did what, when (wall clock, UTC), in which role, with what note.
/// The system's own steps (raising, escalating) are by <c>system</c> in role <c>system</c>; an escalation names
/// whom it went to in <see cref="To"/>.
/// </summary>
public sealed record AlertAction(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("note")] string? Note = null,
    [property: JsonPropertyName("to")] string? To = null);

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
    /// <summary>Someone is on the way to the household or device (implies acknowledged).</summary>
    [JsonStringEnumMemberName("on_the_way")] OnTheWay,
    [JsonStringEnumMemberName("resolved")] Resolved,
    /// <summary>Its response deadline passed and nobody acknowledged it yet: see <see cref="Alert.Escalation"/> for to whom.</summary>
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

    // The closed loop. Wall-clock UTC (not event time): people answer in real time, whatever time the feed carries.
    // Set by the alert book; null from analytics and for alerts stored before the loop had them.

    /// <summary>When the alert book took the alert in.</summary>
    [JsonPropertyName("received_at")] public DateTimeOffset? ReceivedAt { get; init; }
    /// <summary>
    /// The current response deadline: acknowledge by then, or it escalates (to the grid leader, then, with a new
    /// deadline here, to the control room). Null once acknowledged, resolved or escalated to the control room.
    /// </summary>
    [JsonPropertyName("respond_by")] public DateTimeOffset? RespondBy { get; init; }
    /// <summary><see cref="AlertEscalations.GridLeader"/>, <see cref="AlertEscalations.ControlRoom"/>, or null when never escalated.</summary>
    [JsonPropertyName("escalation")] public string? Escalation { get; init; }
    [JsonPropertyName("escalated_at")] public DateTimeOffset? EscalatedAt { get; init; }
    [JsonPropertyName("acknowledged_at")] public DateTimeOffset? AcknowledgedAt { get; init; }
    [JsonPropertyName("acknowledged_by")] public string? AcknowledgedBy { get; init; }
    [JsonPropertyName("on_the_way_at")] public DateTimeOffset? OnTheWayAt { get; init; }
    [JsonPropertyName("on_the_way_by")] public string? OnTheWayBy { get; init; }
    [JsonPropertyName("resolved_at")] public DateTimeOffset? ResolvedAt { get; init; }
    [JsonPropertyName("resolved_by")] public string? ResolvedBy { get; init; }
    /// <summary>
    /// The audit trail, oldest first (also at <c>GET /api/alerts/{id}/actions</c>). Kept inside the alert so that the
    /// action and the state it caused are stored in one write: the trail can never disagree with the status.
    /// </summary>
    [JsonPropertyName("actions")] public IReadOnlyList<AlertAction>? Actions { get; init; }

    /// <summary>A deterministic id: the same kind, subject and onset always give the same id.</summary>
    public static string MakeId(string kind, string subject, DateTimeOffset startedAt)
    {
        var text = $"{kind}|{subject}|{startedAt.UtcTicks}";
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));
        return "a-" + Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }
}
