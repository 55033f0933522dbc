using Sensing.Cockpit.Alerts;
using Sensing.Telemetry;

namespace Sensing.Cockpit.Tests;

/// <summary>The grouping rule alone: which incident a new alert joins, and whether it is news.</summary>
public sealed class IncidentsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    private readonly Dictionary<string, Alert> _book = new(StringComparer.Ordinal);
    private readonly Incidents _incidents = new(TimeSpan.FromHours(12));

    private static Alert NewAlert(string kind, DateTimeOffset raisedAt, string? household = null, string? device = null, AlertSeverity severity = AlertSeverity.Warning, string community = "c1") => new()
    {
        Id = Alert.MakeId(kind, household ?? device ?? "?", raisedAt),
        Kind = kind,
        Severity = severity,
        Community = community,
        Grid = "g1",
        Household = household,
        Device = device,
        StartedAt = raisedAt.AddHours(-1),
        RaisedAt = raisedAt,
        Evidence = new AlertEvidence("test", []),
    };

    /// <summary>What the book does: place, store with the incident, remember.</summary>
    private IncidentPlacement Raise(Alert alert)
    {
        var placement = _incidents.Place(alert, id => _book.GetValueOrDefault(id));
        var stored = alert with { Incident = placement.Incident };
        _book[stored.Id] = stored;
        _incidents.Add(stored);
        return placement;
    }

    [Fact]
    public void A_households_welfare_drop_its_meters_silence_and_its_leak_are_one_incident_and_one_ping()
    {
        var drop = NewAlert(AlertKinds.LivingAloneDrop, T0, household: "h-1", severity: AlertSeverity.Critical);
        Assert.Equal(new IncidentPlacement(drop.Id, true), Raise(drop));

        // The meter's silence names the household too: a hint for maintenance, not a second ping.
        Assert.Equal(new IncidentPlacement(drop.Id, false), Raise(NewAlert(AlertKinds.DeviceSilent, T0.AddHours(2), household: "h-1", device: "wm-1")));
        Assert.Equal(new IncidentPlacement(drop.Id, false), Raise(NewAlert(AlertKinds.WaterLeak, T0.AddHours(9), household: "h-1", device: "wm-1")));

        // Other households, the same household id in another community, and alerts without a subject stay apart.
        var other = NewAlert(AlertKinds.LivingAloneDrop, T0, household: "h-2");
        Assert.Equal(new IncidentPlacement(other.Id, true), Raise(other));
        var elsewhere = NewAlert(AlertKinds.LivingAloneDrop, T0.AddMinutes(1), household: "h-1", community: "c2");
        Assert.Equal(new IncidentPlacement(elsewhere.Id, true), Raise(elsewhere));
        var nobody = NewAlert(AlertKinds.CameraEvent, T0);
        Assert.Equal(new IncidentPlacement(nobody.Id, true), Raise(nobody));
    }

    [Fact]
    public void A_more_severe_alert_joins_the_incident_but_is_news()
    {
        var silent = NewAlert(AlertKinds.DeviceSilent, T0, device: "cam-7");
        Raise(silent);
        var fire = NewAlert(AlertKinds.CameraEvent, T0.AddMinutes(20), device: "cam-7", severity: AlertSeverity.Critical);
        Assert.Equal(new IncidentPlacement(silent.Id, true), Raise(fire));
        // The incident is critical now: another critical alert about the camera is an update.
        Assert.Equal(new IncidentPlacement(silent.Id, false), Raise(NewAlert(AlertKinds.CameraEvent, T0.AddMinutes(40), device: "cam-7", severity: AlertSeverity.Critical)));
    }

    [Fact]
    public void The_window_slides_with_the_incident_and_a_later_alert_opens_a_new_one()
    {
        var first = NewAlert(AlertKinds.GateForced, T0, device: "gate-1");
        Raise(first);
        Assert.False(Raise(NewAlert(AlertKinds.GateHeldOpen, T0.AddHours(11), device: "gate-1")).IsNews);
        // Eleven hours after the last member, twenty-two after the first: still the same incident.
        Assert.Equal(first.Id, Raise(NewAlert(AlertKinds.GateForced, T0.AddHours(22), device: "gate-1")).Incident);

        var later = NewAlert(AlertKinds.GateForced, T0.AddHours(35), device: "gate-1");
        Assert.Equal(new IncidentPlacement(later.Id, true), Raise(later));
        // An alert raised late, but about the time of the old incident, no longer joins it: the subject moved on.
        var straggler = NewAlert(AlertKinds.GateHeldOpen, T0.AddHours(1), device: "gate-1");
        Assert.Equal(new IncidentPlacement(straggler.Id, true), Raise(straggler));
    }

    [Fact]
    public void A_resolved_incident_is_closed_and_the_next_alert_is_news()
    {
        var drop = NewAlert(AlertKinds.LivingAloneDrop, T0, household: "h-3");
        Raise(drop);
        var silent = NewAlert(AlertKinds.DeviceSilent, T0.AddHours(1), household: "h-3", device: "em-3");
        Raise(silent);

        // Acknowledged is still being handled…
        _book[drop.Id] = _book[drop.Id] with { Status = AlertStatus.Acknowledged };
        Assert.False(Raise(NewAlert(AlertKinds.WaterLeak, T0.AddHours(2), household: "h-3", device: "wm-3")).IsNews);

        // …resolved (every alert of it) is done.
        foreach (var id in _book.Keys.ToList()) _book[id] = _book[id] with { Status = AlertStatus.Resolved };
        var again = NewAlert(AlertKinds.LivingAloneDrop, T0.AddHours(3), household: "h-3");
        Assert.Equal(new IncidentPlacement(again.Id, true), Raise(again));
    }

    [Fact]
    public void Grouping_is_off_with_a_zero_window_and_incidents_are_rebuilt_from_stored_alerts()
    {
        var off = new Incidents(TimeSpan.Zero);
        var a = NewAlert(AlertKinds.DeviceSilent, T0, device: "gate-9");
        off.Add(a with { Incident = a.Id });
        var b = NewAlert(AlertKinds.GateForced, T0.AddMinutes(5), device: "gate-9");
        Assert.Equal(new IncidentPlacement(b.Id, true), off.Place(b, _ => a));

        // A book that restarts adds what it loaded, oldest first, incident ids included (null: stored before incidents).
        var rebuilt = new Incidents(TimeSpan.FromHours(12));
        var lead = NewAlert(AlertKinds.LivingAloneDrop, T0, household: "h-4");
        var member = NewAlert(AlertKinds.DeviceSilent, T0.AddHours(1), household: "h-4", device: "wm-4") with { Incident = lead.Id };
        var loaded = new Dictionary<string, Alert> { [lead.Id] = lead, [member.Id] = member };
        rebuilt.Add(lead);
        rebuilt.Add(member);
        var next = NewAlert(AlertKinds.WaterLeak, T0.AddHours(5), household: "h-4", device: "wm-4");
        Assert.Equal(new IncidentPlacement(lead.Id, false), rebuilt.Place(next, loaded.GetValueOrDefault));
    }
}
