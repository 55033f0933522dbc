namespace Sensing.Cockpit.Alerts;

/// <summary>
/// Section <c>Alerts</c>: <c>"Alerts": { "IncidentWindow": "12:00:00" }</c>. Alerts about one subject raised within
/// <see cref="IncidentWindow"/> (event time) of its open incident's latest alert join that incident; zero turns grouping off.
/// </summary>
public sealed class AlertBookOptions
{
    public const string Section = "Alerts";

    /// <summary>
    /// Twelve hours: a welfare drop is judged over hours and its meter's silence can follow it by several, while the
    /// same household half a day later is a new visit for the grid worker.
    /// </summary>
    public TimeSpan IncidentWindow { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// Where alerts the store refused wait until it takes them (one JSON alert per line, flushed to disk before the
    /// alert is pushed), so a stop or crash during a store outage loses none: the next start reads them back. Default:
    /// <c>alerts-unsaved.jsonl</c> beside <c>Store:Path</c>.
    /// </summary>
    public string? UnsavedPath { get; set; }
}

/// <summary>Where a new alert goes: the incident it belongs to, and whether it is news (pushed as <c>alert</c>) or an update to it.</summary>
public readonly record struct IncidentPlacement(string Incident, bool IsNews);

/// <summary>
/// Groups alerts about one subject into incidents. A subject is a household when the alert names one (its welfare
/// drop, its water leak, its meter's silence), else a device (a gate forced and then held open, a camera gone silent
/// that then reports fire). A new alert joins the subject's incident if that incident is still open (any of its alerts
/// not resolved) and the alert was raised within the window of the incident's alerts, in event time; otherwise it
/// opens a new incident whose id is its own id. Within an incident only the first alert is news, and any later one
/// more severe than all before it (a camera's silence is a warning, its fire is critical): the rest are updates, so
/// a grid worker's phone rings once per case, not once per detector. Not thread-safe: the alert book calls it under
/// its own lock.
/// </summary>
public sealed class Incidents(TimeSpan window)
{
    // Subject → its latest incident; older incidents of a subject can no longer be joined.
    private readonly Dictionary<(string Community, string Subject), Incident> _latest = new();

    /// <summary>The subject alerts are grouped by, or null for an alert that names neither household nor device.</summary>
    public static string? SubjectOf(Alert alert) =>
        alert.Household is { } household ? "household:" + household : alert.Device is { } device ? "device:" + device : null;

    /// <summary>
    /// Decides where <paramref name="alert"/> goes without remembering it (the book stores it first, then calls
    /// <see cref="Add"/>). <paramref name="find"/> looks up an alert's current state by id.
    /// </summary>
    public IncidentPlacement Place(Alert alert, Func<string, Alert?> find)
    {
        if (window > TimeSpan.Zero && SubjectOf(alert) is { } subject
            && _latest.TryGetValue((alert.Community, subject), out var incident)
            && alert.RaisedAt >= incident.First - window && alert.RaisedAt <= incident.Last + window
            && incident.Members.Any(id => find(id) is { Status: not AlertStatus.Resolved }))
        {
            return new IncidentPlacement(incident.Id, alert.Severity > incident.Severity);
        }
        return new IncidentPlacement(alert.Id, true);
    }

    /// <summary>
    /// Remembers a stored alert whose <see cref="Alert.Incident"/> is set (null counts as its own incident, as for
    /// alerts stored before incidents existed). Called in the order alerts were raised, also when the book loads.
    /// </summary>
    public void Add(Alert alert)
    {
        if (SubjectOf(alert) is not { } subject) return;
        var key = (alert.Community, subject);
        var id = alert.Incident ?? alert.Id;
        if (_latest.TryGetValue(key, out var incident) && incident.Id == id)
        {
            incident.Join(alert);
            return;
        }
        if (id != alert.Id) return; // a member of an incident this subject has since left behind
        _latest[key] = new Incident(alert);
    }

    private sealed class Incident(Alert first)
    {
        public string Id { get; } = first.Id;
        public DateTimeOffset First { get; private set; } = first.RaisedAt;
        public DateTimeOffset Last { get; private set; } = first.RaisedAt;
        public AlertSeverity Severity { get; private set; } = first.Severity;
        public List<string> Members { get; } = [first.Id];

        public void Join(Alert alert)
        {
            Members.Add(alert.Id);
            if (alert.RaisedAt < First) First = alert.RaisedAt;
            if (alert.RaisedAt > Last) Last = alert.RaisedAt;
            if (alert.Severity > Severity) Severity = alert.Severity;
        }
    }
}
