using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.ScaleOut;
using Sensing.Cockpit.Tiles;

namespace Sensing.Cockpit.Hubs;

/// <summary>
/// What the wall screen receives. The wire names are the contract's (<c>tiles</c>, <c>alert</c>, <c>alertUpdated</c>):
/// the JS client matches names case-insensitively but the .NET client does not, so they are spelled out.
/// </summary>
public interface ICockpitClient
{
    [HubMethodName("tiles")] Task Tiles(CommunityTiles tiles);
    [HubMethodName("alert")] Task Alert(Alert alert);
    [HubMethodName("alertUpdated")] Task AlertUpdated(Alert alert);
}

/// <summary>
/// What a grid worker's client receives: alerts of their own grids only. A grid leader also receives
/// <c>escalated</c> when an alert of a grid they lead passes its deadline unacknowledged (and its later updates).
/// </summary>
public interface IWorkerClient
{
    [HubMethodName("alert")] Task Alert(Alert alert);
    [HubMethodName("alertUpdated")] Task AlertUpdated(Alert alert);
    [HubMethodName("escalated")] Task Escalated(Alert alert);
}

/// <summary><c>/hubs/cockpit</c>: the control room's wall screen watches one community at a time.</summary>
[Authorize(Roles = $"{Roles.Admin},{Roles.Operator},{Roles.Engineer}")]
public sealed class CockpitHub(TileBoard tiles, TileWatchers watchers, AlertBook alerts, RedisBackplane backplane) : Hub<ICockpitClient>
{
    private const string WatchedKey = "community";

    /// <summary>
    /// The group a community's tiles go to from this instance: only its own wall screens. With several instances on a
    /// backplane every instance computes tiles; a screen takes them from the instance it is connected to, once, rather
    /// than from each instance in turn.
    /// </summary>
    public static string TilesGroup(string community, string instance) => $"tiles:{community}@{instance}";

    /// <summary>Joins the community's live updates (leaving the previous one) and returns its current tiles.</summary>
    public async Task<CommunityTiles> Watch(string community)
    {
        if (Context.Items.TryGetValue(WatchedKey, out var previous) && previous is string old && old != community)
        {
            await Groups.RemoveFromGroupAsync(Context.ConnectionId, CallerScope.CommunityGroup(old));
            await Groups.RemoveFromGroupAsync(Context.ConnectionId, TilesGroup(old, backplane.Instance));
        }
        Context.Items[WatchedKey] = community;
        await Groups.AddToGroupAsync(Context.ConnectionId, CallerScope.CommunityGroup(community));
        await Groups.AddToGroupAsync(Context.ConnectionId, TilesGroup(community, backplane.Instance));
        // Counted once in its group: from now on the broadcaster computes this community's tiles for this screen.
        watchers.Watch(Context.ConnectionId, community);
        return await tiles.ComputeAsync(community, Context.ConnectionAborted);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        watchers.Leave(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }

    /// <summary>Catch-up after a reconnect: every alert changed after the given sequence number.</summary>
    public IReadOnlyList<Alert> AlertsSince(long sequence) => alerts.ChangedSince(CallerScope.Of(Context.User!), sequence);
}

/// <summary><c>/hubs/worker</c>: a grid worker's phone. Joined to their grids' groups (and a leader's to their led grids' escalations) on connect.</summary>
[Authorize(Roles = Roles.Worker)]
public sealed class WorkerHub(AlertBook alerts) : Hub<IWorkerClient>
{
    public override async Task OnConnectedAsync()
    {
        var caller = CallerScope.Of(Context.User!);
        foreach (var group in caller.GridGroups.Concat(caller.LeaderGroups))
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, group);
        }
        await base.OnConnectedAsync();
    }

    public IReadOnlyList<Alert> AlertsSince(long sequence) => alerts.ChangedSince(CallerScope.Of(Context.User!), sequence);

    public async Task<Alert> Acknowledge(string id) =>
        Unwrap(await alerts.AcknowledgeAsync(id, CallerScope.Of(Context.User!), Context.ConnectionAborted));

    public async Task<Alert> OnTheWay(string id) =>
        Unwrap(await alerts.OnTheWayAsync(id, CallerScope.Of(Context.User!), Context.ConnectionAborted));

    public async Task<Alert> Resolve(string id, string? note) =>
        Unwrap(await alerts.ResolveAsync(id, CallerScope.Of(Context.User!), note, Context.ConnectionAborted));

    private static Alert Unwrap(AlertChange change) => change.Alert ?? throw new HubException(change.Error);
}
