using System.Collections.Concurrent;
using System.Text.Json;
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
/// Every alert and its lifecycle (open → acknowledged → on the way → resolved, with escalation when nobody
/// acknowledges in time; see <see cref="EscalateDueAsync"/>). Alerts from analytics arrive through
/// <see cref="IAlertSink"/>; an id seen before is ignored, so a replayed feed never raises twice. Each change is
/// persisted before it is pushed, gets the next sequence number (clients catch up from the last one they saw),
/// and goes to the community's wall screens and to the workers of the alert's grid. A new alert is placed in an
/// incident (<see cref="Incidents"/>): the first alert of an incident, and any that makes it more severe, is pushed
/// as <c>alert</c> (a new ping); the others about the same subject are pushed as <c>alertUpdated</c>, carrying the
/// incident's id in <c>incident</c>.
/// <para>
/// A change the store refuses to take (DuckDB out of memory, InfluxDB away) is not lost for it: a new alert, a person's
/// action or an escalation is kept, numbered and pushed all the same, and written by the next change of the book or the
/// next escalation tick (every <c>Alerts:Deadlines:CheckEvery</c>), oldest first, each alert as the book then holds it
/// (its actions list every step); <c>sensing_alerts_unsaved</c> counts the alerts waiting. Meanwhile each change waits
/// in <see cref="AlertBookOptions.UnsavedPath"/> (flushed before the push), so a stop or crash before the store is back
/// loses nothing: the next start reads it back. So the closed loop holds during an outage: a worker's acknowledgement
/// is taken (not refused, to be retried from a stairwell), and an alert nobody answers is still escalated.
/// </para>
/// <para>
/// Every action (raised, acknowledged, on the way, resolved, escalated) is appended to the alert's
/// <see cref="Alert.Actions"/> in the same write as the change it made. The people side runs on the wall clock of
/// <see cref="ClockKey"/>'s <see cref="TimeProvider"/> (the host's own clock unless a test puts a fake one there).
/// </para>
/// </summary>
public sealed class AlertBook(
    IAlertStore store,
    IHubContext<CockpitHub, ICockpitClient> cockpit,
    IHubContext<WorkerHub, IWorkerClient> workers,
    [FromKeyedServices(AlertBook.ClockKey)] TimeProvider time,
    IOptions<AlertBookOptions> options,
    IOptions<ResponseDeadlineOptions> deadlines,
    UserDirectory users,
    IEnumerable<IAlertReplica> replicas,
    ILogger<AlertBook> logger) : IAlertSink, IMetricsSource, IHostedService
{
    /// <summary>
    /// The key of the book's clock. Its own service, so a test can move the people side (deadlines, escalation,
    /// response times) on a fake clock while ingest, tokens and the tiles keep real time.
    /// </summary>
    public const string ClockKey = "alerts";

    /// <summary>Who the system's own actions are by (raising, escalating).</summary>
    public const string System = "system";

    // How far back the book keeps resolved alerts in memory (open ones are always kept), and so how far back closure looks.
    private static readonly TimeSpan s_memory = TimeSpan.FromDays(7);

    private readonly ConcurrentDictionary<string, Alert> _alerts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _raisedByKind = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly Incidents _incidents = new(options.Value.IncidentWindow);
    // Ids of alerts whose latest change the store refused, in the order first refused; written again, current state,
    // before the next change. Changed only under _changes; /metrics reads its Count without the lock (a moment stale at worst).
    private readonly List<string> _unsaved = [];
    private readonly string? _unsavedPath = options.Value.UnsavedPath;
    // When the store last refused a change; null once it took every waiting one. For s_askAgainAfter from then, new
    // alerts and people's actions are kept without asking it: each refusal can take the store's retries' time (half a
    // minute against a hung InfluxDB), and analytics raising or a worker acknowledging would wait for it. The
    // escalation tick asks at every tick regardless.
    private static readonly TimeSpan s_askAgainAfter = TimeSpan.FromSeconds(10);
    private DateTimeOffset? _refusedAt;
    // The longest one alert write may take. A store that hangs rather than refuses (InfluxDB frozen: its client gives up
    // after 30 s) would otherwise hold _changes that long at every escalation tick, and every raise and every worker's
    // action waits on _changes. A write cut short is kept and written again, as a refused one is.
    private static readonly TimeSpan s_writeBudget = TimeSpan.FromSeconds(3);
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
        LoadUnsaved();
    }

    /// <summary>Alerts a previous run raised while the store refused them: kept again, and written with the next change.</summary>
    private void LoadUnsaved()
    {
        if (_unsavedPath is null || !File.Exists(_unsavedPath)) return;
        foreach (var line in File.ReadLines(_unsavedPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            Alert? alert;
            try
            {
                alert = JsonSerializer.Deserialize<Alert>(line);
            }
            catch (JsonException ex)
            {
                // Only a line torn by a crash in the middle of its write can be unreadable; its alert was never pushed.
                logger.LogWarning(ex, "Skipped an unreadable line of {Path}", _unsavedPath);
                continue;
            }
            if (alert is null) continue;
            // One line per refused change: an alert raised, then acknowledged, during the outage has two; the newer wins.
            var known = _alerts.GetValueOrDefault(alert.Id);
            if (known is not null && known.Sequence >= alert.Sequence) continue;
            _alerts[alert.Id] = alert;
            if (known is null) _incidents.Add(alert);
            _sequence = Math.Max(_sequence, alert.Sequence);
            if (!_unsaved.Contains(alert.Id)) _unsaved.Add(alert.Id);
        }
        if (_unsaved.Count > 0)
            logger.LogWarning("{Count} alerts the store had not taken before the last stop are back from {Path}; written with the book's next change", _unsaved.Count, _unsavedPath);
        else
            RewriteUnsaved(); // the store had them all (a stop between its write and the file's rewrite): the file goes
    }

    /// <summary>Keeps a refused change on disk before it is pushed: a crash before the store is back then loses nothing.</summary>
    private void KeepUnsaved(Alert alert)
    {
        if (!_unsaved.Contains(alert.Id)) _unsaved.Add(alert.Id);
        if (_unsavedPath is null) return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_unsavedPath)!);
            using var file = new FileStream(_unsavedPath, FileMode.Append, FileAccess.Write, FileShare.Read);
            file.Write(JsonSerializer.SerializeToUtf8Bytes(alert));
            file.WriteByte((byte)'\n');
            file.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogError(ex, "Could not keep alert {Id} in {Path}: it lives in memory only until the store takes it", alert.Id, _unsavedPath);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (_unsaved.Count == 0) return;
            await SaveUnsavedLockedAsync(cancellationToken, evenIfJustRefused: true);
            if (_unsaved.Count > 0)
                logger.LogWarning("Stopping with {Count} alerts the store has not taken; they wait in {Path} for the next start: {Ids}",
                    _unsaved.Count, _unsavedPath ?? "(memory only: lost)", string.Join(", ", _unsaved));
        }
        finally
        {
            _changes.Release();
        }
    }

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
            var now = time.GetUtcNow();
            stored = alert with
            {
                Status = AlertStatus.Open,
                Sequence = _sequence + 1,
                Incident = placement.Incident,
                ReceivedAt = now,
                // Only news carries a deadline: an update joins a case someone is (or will be) answering already,
                // and escalating it too would ring the grid leader twice for one household.
                RespondBy = placement.IsNews ? now + deadlines.Value.AcknowledgeWithin(alert.Kind, alert.Severity) : null,
                Actions = [new AlertAction(now, System, System, AlertActions.Raised, placement.IsNews ? null : $"joins incident {placement.Incident}")],
            };
            // A forced door must reach the wall screen while the store is down; it is written once the store is back.
            await SaveUnsavedLockedAsync(cancellationToken);
            await WriteOrKeepLockedAsync(stored, cancellationToken);
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
        await PushAsync(stored, placement.IsNews ? Push.New : Push.Updated);
    }

    /// <summary>Open or escalated → acknowledged: someone answers. Stops the escalation clock.</summary>
    public Task<AlertChange> AcknowledgeAsync(string id, CallerScope caller, CancellationToken cancellationToken) =>
        ChangeAsync(id, caller, cancellationToken, (alert, now) => alert.Status switch
        {
            AlertStatus.Open or AlertStatus.Escalated => (Acknowledged(alert, caller, now), null),
            AlertStatus.Acknowledged => (null, "already acknowledged"),
            AlertStatus.OnTheWay => (null, "already acknowledged: someone is on the way"),
            _ => (null, "already resolved"),
        });

    /// <summary>Open, escalated or acknowledged → on the way. Going without acknowledging first acknowledges too.</summary>
    public Task<AlertChange> OnTheWayAsync(string id, CallerScope caller, CancellationToken cancellationToken) =>
        ChangeAsync(id, caller, cancellationToken, (alert, now) => alert.Status switch
        {
            AlertStatus.Open or AlertStatus.Escalated or AlertStatus.Acknowledged => (OnTheWay(alert, caller, now), null),
            AlertStatus.OnTheWay => (null, "already on the way"),
            _ => (null, "already resolved"),
        });

    /// <summary>Any state but resolved → resolved, with the note of what was found and done.</summary>
    public Task<AlertChange> ResolveAsync(string id, CallerScope caller, string? note, CancellationToken cancellationToken) =>
        ChangeAsync(id, caller, cancellationToken, (alert, now) => alert.Status switch
        {
            AlertStatus.Resolved => (null, "already resolved"),
            _ => (alert with
            {
                Status = AlertStatus.Resolved,
                UpdatedBy = caller.User,
                Note = note,
                ResolvedAt = now,
                ResolvedBy = caller.User,
                RespondBy = null,
                Actions = [.. alert.Actions ?? [], new AlertAction(now, caller.User, caller.Role, AlertActions.Resolved, note)],
            }, null),
        });

    private static Alert Acknowledged(Alert alert, CallerScope caller, DateTimeOffset now) => alert with
    {
        Status = AlertStatus.Acknowledged,
        UpdatedBy = caller.User,
        AcknowledgedAt = now,
        AcknowledgedBy = caller.User,
        RespondBy = null,
        Actions = [.. alert.Actions ?? [], new AlertAction(now, caller.User, caller.Role, AlertActions.Acknowledged)],
    };

    private static Alert OnTheWay(Alert alert, CallerScope caller, DateTimeOffset now)
    {
        var acknowledged = alert.AcknowledgedAt is null ? Acknowledged(alert, caller, now) : alert;
        return acknowledged with
        {
            Status = AlertStatus.OnTheWay,
            UpdatedBy = caller.User,
            OnTheWayAt = now,
            OnTheWayBy = caller.User,
            Actions = [.. acknowledged.Actions ?? [], new AlertAction(now, caller.User, caller.Role, AlertActions.OnTheWay)],
        };
    }

    /// <summary>
    /// Escalates every alert whose response deadline has passed with nobody acknowledging: first to the grid leader
    /// (status <c>escalated</c>, escalation <c>grid_leader</c>, a second deadline in <c>respond_by</c>), then, past
    /// that one too, to the control room (escalation <c>control_room</c>, no further deadline). An alert without a
    /// grid, or of a grid nobody leads, goes to the control room at the first deadline: there is no one else to ask.
    /// Called by <see cref="EscalationWatcher"/>; returns how many alerts it escalated.
    /// </summary>
    public async Task<int> EscalateDueAsync(CancellationToken cancellationToken)
    {
        var escalated = new List<Alert>();
        await _changes.WaitAsync(cancellationToken);
        try
        {
            await SaveUnsavedLockedAsync(cancellationToken, evenIfJustRefused: true);
            var now = time.GetUtcNow();
            foreach (var alert in _alerts.Values.Where(a => a.Status is AlertStatus.Open or AlertStatus.Escalated && a.RespondBy <= now).OrderBy(a => a.Sequence).ToList())
            {
                var leaders = alert.Escalation is null && alert.Grid is not null ? users.LeadersOf(alert.Community, alert.Grid) : [];
                var next = leaders.Count > 0
                    ? alert with
                    {
                        Escalation = AlertEscalations.GridLeader,
                        RespondBy = now + deadlines.Value.LeaderWithin(alert.Kind, alert.Severity),
                        Actions = [.. alert.Actions ?? [], new AlertAction(now, System, System, AlertActions.Escalated,
                            $"not acknowledged by {alert.RespondBy:u}; to grid leader {string.Join(", ", leaders)}", AlertEscalations.GridLeader)],
                    }
                    : alert with
                    {
                        Escalation = AlertEscalations.ControlRoom,
                        RespondBy = null,
                        Actions = [.. alert.Actions ?? [], new AlertAction(now, System, System, AlertActions.Escalated,
                            alert.Escalation is not null ? $"not acknowledged by {alert.RespondBy:u}, grid leader included"
                                : alert.Grid is null ? $"not acknowledged by {alert.RespondBy:u}; no grid"
                                : $"not acknowledged by {alert.RespondBy:u}; grid {alert.Grid} has no leader", AlertEscalations.ControlRoom)],
                    };
                next = next with { Status = AlertStatus.Escalated, EscalatedAt = now, Sequence = _sequence + 1 };
                // A store outage is no reason to leave an alert nobody answers with nobody rung.
                await WriteOrKeepLockedAsync(next, cancellationToken);
                _sequence = next.Sequence;
                _alerts[next.Id] = next;
                escalated.Add(next);
            }
        }
        finally
        {
            _changes.Release();
        }
        foreach (var alert in escalated)
        {
            logger.LogWarning("Alert {Id} {Kind} ({Severity}) in {Community}/{Grid} not acknowledged in time: escalated to {Escalation}",
                alert.Id, alert.Kind, alert.Severity, alert.Community, alert.Grid, alert.Escalation);
            await PushAsync(alert, Push.Escalated);
        }
        return escalated.Count;
    }

    /// <summary>The audit trail of an alert the caller may see, oldest first.</summary>
    public (IReadOnlyList<AlertAction>? Actions, AlertChange Refusal) ActionsOf(string id, CallerScope caller) =>
        !_alerts.TryGetValue(id, out var alert) ? (null, AlertChange.NotFound)
        : !caller.CanSee(alert) ? (null, AlertChange.Forbidden)
        : (alert.Actions ?? [], default);

    private async Task<AlertChange> ChangeAsync(string id, CallerScope caller, CancellationToken cancellationToken, Func<Alert, DateTimeOffset, (Alert? Next, string? Refusal)> change)
    {
        Alert updated;
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (!_alerts.TryGetValue(id, out var alert)) return AlertChange.NotFound;
            if (!caller.CanSee(alert)) return AlertChange.Forbidden;
            var (next, refusal) = change(alert, time.GetUtcNow());
            if (next is null) return AlertChange.Conflict(refusal!);
            updated = next with { Sequence = _sequence + 1 };
            await SaveUnsavedLockedAsync(cancellationToken);
            await WriteOrKeepLockedAsync(updated, cancellationToken);
            _sequence = updated.Sequence;
            _alerts[id] = updated;
        }
        finally
        {
            _changes.Release();
        }
        logger.LogInformation("Alert {Id} {Status} by {User}", id, updated.Status, caller.User);
        await PushAsync(updated, Push.Updated);
        return AlertChange.Done(updated);
    }

    public Alert? Find(string id) => _alerts.GetValueOrDefault(id);

    /// <summary>The file of waiting alerts after some were written: gone when none waits, else only those (replaced whole).</summary>
    private void RewriteUnsaved()
    {
        if (_unsavedPath is null) return;
        try
        {
            if (_unsaved.Count == 0)
            {
                File.Delete(_unsavedPath);
                return;
            }
            var next = _unsavedPath + ".next";
            File.WriteAllLines(next, _unsaved.Where(_alerts.ContainsKey).Select(id => JsonSerializer.Serialize(_alerts[id])));
            File.Move(next, _unsavedPath, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left as it was: the next start reads back alerts the store already has, and keeps the newer of the two.
            logger.LogWarning(ex, "Could not rewrite {Path}", _unsavedPath);
        }
    }

    /// <summary>
    /// Writes an alert's new state, or keeps it for later (<see cref="KeepUnsaved"/>) when the store refuses it. While
    /// older changes still wait, the store is not asked (the caller has just tried them, and each refusal can take its
    /// retries' time: a worker acknowledging would wait for it). Call holding <c>_changes</c>, after
    /// <see cref="SaveUnsavedLockedAsync"/>.
    /// </summary>
    private async Task WriteOrKeepLockedAsync(Alert alert, CancellationToken cancellationToken)
    {
        if (_unsaved.Count > 0)
        {
            KeepUnsaved(alert);
            return;
        }
        try
        {
            await UpsertWithinBudgetAsync(alert, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _refusedAt = time.GetUtcNow();
            KeepUnsaved(alert);
            logger.LogWarning(ex, "The store did not take alert {Id} ({Status}); kept and pushed, written with the book's next change", alert.Id, alert.Status);
        }
    }

    private async Task UpsertWithinBudgetAsync(Alert alert, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(s_writeBudget);
        await store.UpsertAsync(alert, budget.Token);
    }

    /// <summary>
    /// Writes the alerts whose changes the store refused, oldest first, each as the book holds it now; stops at
    /// the first refusal (the store is still away) and leaves the rest for the next call. Call holding <c>_changes</c>.
    /// Returns whether none is left waiting.
    /// </summary>
    private async Task<bool> SaveUnsavedLockedAsync(CancellationToken cancellationToken, bool evenIfJustRefused = false)
    {
        if (_unsaved.Count == 0) return true;
        if (!evenIfJustRefused && _refusedAt is { } refused && time.GetUtcNow() - refused < s_askAgainAfter) return false;
        var saved = 0;
        try
        {
            foreach (var id in _unsaved)
            {
                // Erased meanwhile (a household's erasure): nothing to write back.
                if (_alerts.TryGetValue(id, out var alert)) await UpsertWithinBudgetAsync(alert, cancellationToken);
                saved++;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _refusedAt = time.GetUtcNow();
            logger.LogWarning(ex, "The store still does not take alerts: {Count} waiting", _unsaved.Count - saved);
        }
        finally
        {
            _unsaved.RemoveRange(0, saved);
            if (saved > 0) RewriteUnsaved();
        }
        if (_unsaved.Count > 0) return false;
        _refusedAt = null;
        logger.LogInformation("The store took the {Count} alerts it had refused", saved);
        return true;
    }

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
            await SaveUnsavedLockedAsync(cancellationToken);
            await WriteOrKeepLockedAsync(alert, cancellationToken);
            _sequence = Math.Max(_sequence, alert.Sequence);
            _alerts[alert.Id] = alert;
            if (known is null) _incidents.Add(alert);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>
    /// Erases a household's alerts: <paramref name="eraseStore"/> (which deletes them, with the rest of its data, from
    /// the store) runs while the book takes no change, so no acknowledgement can write a deleted alert back; then the
    /// book forgets them. Returns what <paramref name="eraseStore"/> returned and how many alerts the book held.
    /// </summary>
    public async Task<(T Result, int Forgotten)> EraseHouseholdAsync<T>(HouseholdScope scope, Func<CancellationToken, Task<T>> eraseStore, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken);
        try
        {
            var result = await eraseStore(cancellationToken);
            var forgotten = 0;
            foreach (var alert in _alerts.Values.Where(scope.Owns).ToList())
            {
                if (_alerts.TryRemove(alert.Id, out _)) forgotten++;
            }
            // Nor may they wait on disk for a store that comes back later.
            if (_unsaved.RemoveAll(id => !_alerts.ContainsKey(id)) > 0) RewriteUnsaved();
            return (result, forgotten);
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

    /// <summary>Open figures and the closure rate (as <see cref="Closure"/>'s total, last 7 days) of one community.</summary>
    public (int Open, IReadOnlyDictionary<string, int> OpenByGrid, double? ClosureRate, int OpenSilent) Figures(string community)
    {
        int open = 0, silent = 0;
        var byGrid = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var alert in _alerts.Values)
        {
            if (alert.Community != community) continue;
            if (alert.Status != AlertStatus.Resolved)
            {
                open++;
                if (alert.Kind == AlertKinds.DeviceSilent) silent++;
                var grid = alert.Grid ?? NoGrid;
                byGrid[grid] = byGrid.GetValueOrDefault(grid) + 1;
            }
        }
        return (open, byGrid, Closure(Everyone, community, null, null, []).Total.ClosureRate, silent);
    }

    /// <summary>Where alerts without a grid are counted, in open figures and closure.</summary>
    public const string NoGrid = "-";

    /// <summary>A scope that sees every alert (the wall's tiles are the whole community's).</summary>
    public static readonly CallerScope Everyone = new(System, Roles.Admin, null, new HashSet<string>());

    /// <summary>
    /// Closure figures of one community's alerts the caller may see (see <see cref="ClosureFigures"/> for what is
    /// counted), per grid and in total. <paramref name="since"/> defaults to, and is held no earlier than, seven days
    /// ago: the book keeps resolved alerts that long. <paramref name="grids"/> are grids to list even when they had no
    /// alerts (the registry's grids of the community), so a quiet grid shows as quiet rather than missing.
    /// </summary>
    public ClosureReport Closure(CallerScope caller, string community, string? grid, DateTimeOffset? since, IEnumerable<string> grids)
    {
        var earliest = time.GetUtcNow() - s_memory;
        var from = since is { } asked && asked > earliest ? asked : earliest;
        var counted = _alerts.Values
            .Where(a => a.Community == community && caller.CanSee(a)
                && (grid is null || a.Grid == grid)
                && ((a.ReceivedAt ?? a.RaisedAt) >= from || a.Status != AlertStatus.Resolved))
            .ToList();
        var byGrid = counted.GroupBy(a => a.Grid ?? NoGrid, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var known in grids)
        {
            if ((grid is null || known == grid) && caller.CanSee(community, known)) byGrid.TryAdd(known, []);
        }
        return new ClosureReport(
            community, from,
            [.. byGrid.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => ClosureFigures.Of(g.Key, g.Value))],
            ClosureFigures.Of(null, counted));
    }

    private enum Push { New, Updated, Escalated }

    /// <summary>
    /// To the community's wall screens and the grid's workers: <c>alert</c> for news, <c>alertUpdated</c> for every
    /// other change (escalations included). The grid's leaders get <c>escalated</c> when it escalates, and from then on
    /// its updates, so they see who took it. A worker who both works and leads a grid can hear a change twice: clients
    /// keep the higher sequence number.
    /// </summary>
    private async Task PushAsync(Alert alert, Push push)
    {
        // Other instances' books first: a worker there who answers this push must find the alert in that book.
        foreach (var replica in replicas) await replica.ShareAsync(alert);
        try
        {
            var wall = cockpit.Clients.Group(CallerScope.CommunityGroup(alert.Community));
            await (push == Push.New ? wall.Alert(alert) : wall.AlertUpdated(alert));
            if (alert.Grid is not null)
            {
                var grid = workers.Clients.Group(CallerScope.GridGroup(alert.Community, alert.Grid));
                await (push == Push.New ? grid.Alert(alert) : grid.AlertUpdated(alert));
                if (alert.Escalation is not null)
                {
                    var leaders = workers.Clients.Group(CallerScope.LeaderGroup(alert.Community, alert.Grid));
                    await (push == Push.Escalated ? leaders.Escalated(alert) : leaders.AlertUpdated(alert));
                }
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
        samples.Add(new("sensing_alerts_escalated", "Alerts not resolved whose response deadline passed unacknowledged.", "gauge", _alerts.Values.Count(a => a.Status == AlertStatus.Escalated)));
        samples.Add(new("sensing_alerts_unsaved", "Alerts raised or changed and pushed whose latest change the store refused; written with the book's next change or escalation tick.", "gauge", _unsaved.Count));
        samples.Add(new("sensing_alert_pings_total", "Alerts pushed as news (a new incident, or one that became more severe) since start; the rest joined an incident as updates.", "counter", Interlocked.Read(ref _pings)));
    }
}
