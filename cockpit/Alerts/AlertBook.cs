using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Hubs;

namespace Sensing.Cockpit.Alerts;

/// <summary>The outcome of an action on an alert: the updated alert, or why not (not found, not yours, already closed).</summary>
public readonly record struct AlertChange(Alert? Alert, string? Error, int StatusCode)
{
    public static AlertChange Done(Alert alert) => new(alert, null, 200);
    public static AlertChange NotFound => new(null, "no such alert", 404);
    public static AlertChange Forbidden => new(null, "the alert is not in your grids", 403);
    public static AlertChange Conflict(string why) => new(null, why, 409);
}

/// <summary>
/// Every alert and its lifecycle (open → acknowledged → resolved). Alerts from analytics arrive through
/// <see cref="IAlertSink"/>; an id seen before is ignored, so a replayed feed never raises twice. Each change is
/// persisted before it is pushed, gets the next sequence number (clients catch up from the last one they saw),
/// and goes to the community's wall screens and to the workers of the alert's grid. A new alert is placed in an
/// incident (<see cref="Incidents"/>): the first alert of an incident, and any that makes it more severe, is pushed
/// as <c>alert</c> (a new ping); the others about the same subject are pushed as <c>alertUpdated</c>, carrying the
/// incident's id in <c>incident</c>.
/// </summary>
public sealed class AlertBook(
    IAlertStore store,
    IHubContext<CockpitHub, ICockpitClient> cockpit,
    IHubContext<WorkerHub, IWorkerClient> workers,
    TimeProvider time,
    IOptions<AlertBookOptions> options,
    IEnumerable<IAlertReplica> replicas,
    ILogger<AlertBook> logger) : IAlertSink, IMetricsSource, IHostedService
{
    // How far back the book keeps resolved alerts in memory (open ones are always kept).
    private static readonly TimeSpan s_memory = TimeSpan.FromDays(7);

    private readonly ConcurrentDictionary<string, Alert> _alerts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _raisedByKind = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly Incidents _incidents = new(options.Value.IncidentWindow);
    private long _sequence;
    private long _pings;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // In the order they were raised, so each subject's incidents are rebuilt as they grew.
        foreach (var alert in (await store.LoadAsync(time.GetUtcNow() - s_memory, cancellationToken)).OrderBy(a => a.Sequence))
        {
            _alerts[alert.Id] = alert;
            _sequence = Math.Max(_sequence, alert.Sequence);
            _incidents.Add(alert);
        }
        logger.LogInformation("Alert book loaded {Count} alerts", _alerts.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public long Sequence => Interlocked.Read(ref _sequence);

    public async ValueTask RaiseAsync(Alert alert, CancellationToken cancellationToken)
    {
        Alert stored;
        IncidentPlacement placement;
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (_alerts.ContainsKey(alert.Id)) return;
            placement = _incidents.Place(alert, Find);
            stored = alert with { Status = AlertStatus.Open, Sequence = _sequence + 1, Incident = placement.Incident };
            await store.UpsertAsync(stored, cancellationToken);
            _sequence = stored.Sequence;
            _alerts[stored.Id] = stored;
            _incidents.Add(stored);
        }
        finally
        {
            _changes.Release();
        }
        _raisedByKind.AddOrUpdate(stored.Kind, 1, (_, n) => n + 1);
        if (placement.IsNews) Interlocked.Increment(ref _pings);
        logger.LogInformation("Alert {Id} {Kind} ({Severity}) in {Community}/{Grid}, incident {Incident}{Update}: {Summary}",
            stored.Id, stored.Kind, stored.Severity, stored.Community, stored.Grid, stored.Incident, placement.IsNews ? "" : " (update)", stored.Evidence.Summary);
        await PushAsync(stored, isNew: placement.IsNews);
    }

    public Task<AlertChange> AcknowledgeAsync(string id, CallerScope caller, CancellationToken cancellationToken) =>
        ChangeAsync(id, caller, cancellationToken, alert => alert.Status switch
        {
            AlertStatus.Open or AlertStatus.Escalated => (alert with { Status = AlertStatus.Acknowledged, UpdatedBy = caller.User }, null),
            AlertStatus.Acknowledged => (null, "already acknowledged"),
            _ => (null, "already resolved"),
        });

    public Task<AlertChange> ResolveAsync(string id, CallerScope caller, string? note, CancellationToken cancellationToken) =>
        ChangeAsync(id, caller, cancellationToken, alert => alert.Status switch
        {
            AlertStatus.Resolved => (null, "already resolved"),
            _ => (alert with { Status = AlertStatus.Resolved, UpdatedBy = caller.User, Note = note }, null),
        });

    private async Task<AlertChange> ChangeAsync(string id, CallerScope caller, CancellationToken cancellationToken, Func<Alert, (Alert? Next, string? Refusal)> change)
    {
        Alert updated;
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (!_alerts.TryGetValue(id, out var alert)) return AlertChange.NotFound;
            if (!caller.CanSee(alert)) return AlertChange.Forbidden;
            var (next, refusal) = change(alert);
            if (next is null) return AlertChange.Conflict(refusal!);
            updated = next with { Sequence = _sequence + 1 };
            await store.UpsertAsync(updated, cancellationToken);
            _sequence = updated.Sequence;
            _alerts[id] = updated;
        }
        finally
        {
            _changes.Release();
        }
        logger.LogInformation("Alert {Id} {Status} by {User}", id, updated.Status, caller.User);
        await PushAsync(updated, isNew: false);
        return AlertChange.Done(updated);
    }

    public Alert? Find(string id) => _alerts.GetValueOrDefault(id);

    /// <summary>
    /// A change another cockpit instance's book made (several instances behind one address, ScaleOut/): kept and
    /// persisted like our own so a worker connected here can act on it, but not pushed, because that instance pushed it
    /// through the backplane to every instance's clients already. The newer version wins (<see cref="IAlertReplica.Supersedes"/>);
    /// our sequence moves past it, so our next change of the alert is newer still.
    /// </summary>
    public async Task LearnAsync(Alert alert, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken);
        try
        {
            var known = _alerts.GetValueOrDefault(alert.Id);
            if (known is not null && !IAlertReplica.Supersedes(alert, known)) return;
            await store.UpsertAsync(alert, cancellationToken);
            _sequence = Math.Max(_sequence, alert.Sequence);
            _alerts[alert.Id] = alert;
            if (known is null) _incidents.Add(alert);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Alerts the caller may see, newest raised first, filtered as <c>GET /api/alerts</c> asks.</summary>
    public IReadOnlyList<Alert> Query(CallerScope caller, AlertStatus? status, string? community, string? grid, DateTimeOffset? since) =>
        [.. _alerts.Values
            .Where(a => caller.CanSee(a)
                && (status is null || a.Status == status)
                && (community is null || a.Community == community)
                && (grid is null || a.Grid == grid)
                && (since is null || a.RaisedAt >= since))
            .OrderByDescending(a => a.RaisedAt).ThenByDescending(a => a.Sequence)];

    public IReadOnlyList<Alert> ChangedSince(CallerScope caller, long sequence) =>
        [.. _alerts.Values.Where(a => a.Sequence > sequence && caller.CanSee(a)).OrderBy(a => a.Sequence)];

    /// <summary>Open figures and the closure rate (resolved share of alerts raised in the last 7 days) of one community.</summary>
    public (int Open, IReadOnlyDictionary<string, int> OpenByGrid, double? ClosureRate, int OpenSilent) Figures(string community)
    {
        var since = time.GetUtcNow() - s_memory;
        int open = 0, silent = 0, recent = 0, resolved = 0;
        var byGrid = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var alert in _alerts.Values)
        {
            if (alert.Community != community) continue;
            if (alert.Status != AlertStatus.Resolved)
            {
                open++;
                if (alert.Kind == AlertKinds.DeviceSilent) silent++;
                var grid = alert.Grid ?? "-";
                byGrid[grid] = byGrid.GetValueOrDefault(grid) + 1;
            }
            if (alert.RaisedAt >= since || alert.Status != AlertStatus.Resolved)
            {
                recent++;
                if (alert.Status == AlertStatus.Resolved) resolved++;
            }
        }
        return (open, byGrid, recent == 0 ? null : (double)resolved / recent, silent);
    }

    private async Task PushAsync(Alert alert, bool isNew)
    {
        // Other instances' books first: a worker there who answers this push must find the alert in that book.
        foreach (var replica in replicas) await replica.ShareAsync(alert);
        try
        {
            var wall = cockpit.Clients.Group(CallerScope.CommunityGroup(alert.Community));
            await (isNew ? wall.Alert(alert) : wall.AlertUpdated(alert));
            if (alert.Grid is not null)
            {
                var grid = workers.Clients.Group(CallerScope.GridGroup(alert.Community, alert.Grid));
                await (isNew ? grid.Alert(alert) : grid.AlertUpdated(alert));
            }
        }
        catch (Exception ex)
        {
            // The alert is stored; a client that missed the push catches up by sequence number.
            logger.LogWarning(ex, "Could not push alert {Id}", alert.Id);
        }
    }

    public void Collect(ICollection<MetricSample> samples)
    {
        foreach (var (kind, count) in _raisedByKind)
        {
            samples.Add(new("sensing_alerts_raised_total", "Alerts raised by analytics since start.", "counter", count, $"kind=\"{kind}\""));
        }
        if (_raisedByKind.IsEmpty)
        {
            samples.Add(new("sensing_alerts_raised_total", "Alerts raised by analytics since start.", "counter", 0));
        }
        samples.Add(new("sensing_alerts_open", "Alerts not yet resolved.", "gauge", _alerts.Values.Count(a => a.Status != AlertStatus.Resolved)));
        samples.Add(new("sensing_alert_pings_total", "Alerts pushed as news (a new incident, or one that became more severe) since start; the rest joined an incident as updates.", "counter", Interlocked.Read(ref _pings)));
    }
}
