using Microsoft.Extensions.Options;

namespace Sensing.Cockpit.Alerts;

/// <summary>
/// Section <c>Alerts:Deadlines</c>: how long an alert may stay unacknowledged before it escalates, per severity,
/// with overrides per kind. <c>Acknowledge</c> is the first deadline (from when the alert book took the alert): past
/// it, the grid leader is called. <c>Leader</c> is the second (from that escalation): past it too, the control room.
/// <code>
/// "Alerts": {
///   "Deadlines": {
///     "Acknowledge": { "Critical": "00:10:00", "Warning": "00:30:00", "Info": "02:00:00" },
///     "Leader":      { "Critical": "00:10:00", "Warning": "00:30:00", "Info": "02:00:00" },
///     "Kinds": { "living_alone_drop": { "Acknowledge": { "Critical": "00:05:00" } } },
///     "CheckEvery": "00:00:05"
///   }
/// }
/// </code>
/// A kind's override names only what differs; the rest comes from the defaults. Unknown kinds and non-positive
/// times stop the start (<see cref="Validate"/>).
/// </summary>
public sealed class ResponseDeadlineOptions
{
    public const string Section = "Alerts:Deadlines";

    /// <summary>
    /// Time to acknowledge. Critical ten minutes: a welfare drop or a fire, where a visit within the quarter hour is
    /// what a community promises its elderly; warnings (a leak, a silent camera) half an hour, a normal round of a
    /// grid; information two hours, within the same duty shift.
    /// </summary>
    public SeverityDeadlines Acknowledge { get; set; } = new()
    {
        Critical = TimeSpan.FromMinutes(10),
        Warning = TimeSpan.FromMinutes(30),
        Info = TimeSpan.FromHours(2),
    };

    /// <summary>Time the grid leader has, after the first escalation, before the control room takes it: the same again.</summary>
    public SeverityDeadlines Leader { get; set; } = new()
    {
        Critical = TimeSpan.FromMinutes(10),
        Warning = TimeSpan.FromMinutes(30),
        Info = TimeSpan.FromHours(2),
    };

    /// <summary>Overrides per alert kind (<see cref="AlertKinds"/>).</summary>
    public Dictionary<string, KindDeadlines> Kinds { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How often the escalation watcher looks for passed deadlines: the most an escalation can be late.</summary>
    public TimeSpan CheckEvery { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The first deadline of an alert of this kind and severity.</summary>
    public TimeSpan AcknowledgeWithin(string kind, AlertSeverity severity) =>
        (Kinds.TryGetValue(kind, out var own) ? own.Acknowledge?.For(severity) : null) ?? Acknowledge.For(severity)!.Value;

    /// <summary>The second deadline (counted from the escalation to the grid leader).</summary>
    public TimeSpan LeaderWithin(string kind, AlertSeverity severity) =>
        (Kinds.TryGetValue(kind, out var own) ? own.Leader?.For(severity) : null) ?? Leader.For(severity)!.Value;

    /// <summary>Every problem with the configuration, each naming its key; empty when it is good.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        Check(Acknowledge, $"{Section}:Acknowledge", required: true, problems);
        Check(Leader, $"{Section}:Leader", required: true, problems);
        foreach (var (kind, own) in Kinds)
        {
            if (!AlertKinds.All.Contains(kind))
            {
                problems.Add($"{Section}:Kinds:{kind} is not an alert kind (known: {string.Join(", ", AlertKinds.All)}).");
                continue;
            }
            if (own.Acknowledge is not null) Check(own.Acknowledge, $"{Section}:Kinds:{kind}:Acknowledge", required: false, problems);
            if (own.Leader is not null) Check(own.Leader, $"{Section}:Kinds:{kind}:Leader", required: false, problems);
        }
        if (CheckEvery <= TimeSpan.Zero || CheckEvery > TimeSpan.FromMinutes(10))
        {
            problems.Add($"{Section}:CheckEvery must be above zero and at most 00:10:00 (is {CheckEvery}).");
        }
        return problems;
    }

    private static void Check(SeverityDeadlines deadlines, string key, bool required, List<string> problems)
    {
        foreach (var severity in Enum.GetValues<AlertSeverity>())
        {
            var value = deadlines.For(severity);
            if (value is null)
            {
                if (required) problems.Add($"{key}:{severity} is required.");
            }
            else if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(7))
            {
                problems.Add($"{key}:{severity} must be above zero and at most 7.00:00:00 (is {value}).");
            }
        }
    }
}

/// <summary>One deadline per severity; null means "as the default".</summary>
public sealed class SeverityDeadlines
{
    public TimeSpan? Critical { get; set; }
    public TimeSpan? Warning { get; set; }
    public TimeSpan? Info { get; set; }

    public TimeSpan? For(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Critical => Critical,
        AlertSeverity.Warning => Warning,
        _ => Info,
    };
}

/// <summary>A kind's own deadlines (<c>Alerts:Deadlines:Kinds:&lt;kind&gt;</c>).</summary>
public sealed class KindDeadlines
{
    public SeverityDeadlines? Acknowledge { get; set; }
    public SeverityDeadlines? Leader { get; set; }
}

/// <summary>Stops the start on a bad <c>Alerts:Deadlines</c>, naming every bad key at once.</summary>
public sealed class ResponseDeadlineValidation : IValidateOptions<ResponseDeadlineOptions>
{
    public ValidateOptionsResult Validate(string? name, ResponseDeadlineOptions options)
    {
        var problems = options.Validate();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
