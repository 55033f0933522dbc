using System.Security.Claims;

namespace Sensing.Cockpit.Access;

/// <summary>
/// What a signed-in caller may see. Admins, operators and engineers see every community; a grid worker sees
/// only the grids in their token (those they work, and those they lead as grid leader), over HTTP and SignalR alike.
/// </summary>
public sealed record CallerScope(string User, string Role, string? Community, IReadOnlySet<string> Grids, IReadOnlySet<string>? Leads = null)
{
    private static readonly IReadOnlySet<string> s_none = new HashSet<string>();

    public static CallerScope Of(ClaimsPrincipal principal) => new(
        principal.FindFirstValue(TokenIssuer.NameClaim) ?? "",
        principal.FindFirstValue(TokenIssuer.RoleClaim) ?? "",
        principal.FindFirstValue(TokenIssuer.CommunityClaim),
        principal.FindAll(TokenIssuer.GridClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal),
        principal.FindAll(TokenIssuer.LeadClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal));

    public bool IsWorker => Role == Roles.Worker;

    /// <summary>The grids this caller leads (a grid worker named grid leader in <c>Auth:Users</c>): escalations come to them.</summary>
    public IReadOnlySet<string> LedGrids => Leads ?? s_none;

    public bool CanSee(string community, string? grid) =>
        !IsWorker || (community == Community && grid is not null && (Grids.Contains(grid) || LedGrids.Contains(grid)));

    public bool CanSee(Alert alert) => CanSee(alert.Community, alert.Grid);

    /// <summary>SignalR group names of the grids this caller answers.</summary>
    public IEnumerable<string> GridGroups => IsWorker && Community is not null ? Grids.Select(g => GridGroup(Community, g)) : [];

    /// <summary>SignalR group names of the grids this caller leads.</summary>
    public IEnumerable<string> LeaderGroups => IsWorker && Community is not null ? LedGrids.Select(g => LeaderGroup(Community, g)) : [];

    public static string GridGroup(string community, string grid) => $"grid:{community}/{grid}";
    public static string LeaderGroup(string community, string grid) => $"leader:{community}/{grid}";
    public static string CommunityGroup(string community) => $"community:{community}";
}
