using Microsoft.Extensions.Options;

namespace Sensing.Cockpit.Access;

/// <summary>
/// Who may sign in: the users of <c>Auth:Users</c>, plus the contract's demo users when <c>Demo:Enabled</c>
/// (admin/admin-demo, operator/operator-demo, worker1/worker-demo for grid g1 of c1, engineer/engineer-demo,
/// worker2/worker-demo for grid g2 of c1 so the grid scoping can be seen, and leader1/leader-demo, the grid leader of
/// g1 of c1, to whom g1's unacknowledged alerts escalate).
/// </summary>
public sealed class UserDirectory
{
    private readonly Dictionary<string, UserAccount> _users = new(StringComparer.Ordinal);

    public UserDirectory(IOptions<AuthOptions> options, IConfiguration configuration)
    {
        if (DemoEnabled(configuration))
        {
            foreach (var user in DemoUsers()) _users[user.Username] = user;
        }
        foreach (var user in options.Value.Users) _users[user.Username] = user;
    }

    /// <summary>The users who lead this grid (grid workers with it in <c>Leads</c>), by name.</summary>
    public IReadOnlyList<string> LeadersOf(string community, string grid) =>
        [.. _users.Values
            .Where(u => u.Role == Roles.Worker && u.Community == community && u.Leads.Contains(grid, StringComparer.Ordinal))
            .Select(u => u.Username)
            .Order(StringComparer.Ordinal)];

    public static bool DemoEnabled(IConfiguration configuration) => configuration.GetValue("Demo:Enabled", true);

    /// <summary>The account for these credentials, or null. Unknown users cost a hash too, so timing does not tell who exists.</summary>
    public UserAccount? SignIn(string username, string password) => SignIn(username, password, out _);

    /// <summary>
    /// As <see cref="SignIn(string, string)"/>, also telling whether the user exists, for the audit log only: the
    /// caller's answer stays the same 401 either way, so the response never tells who exists.
    /// </summary>
    public UserAccount? SignIn(string username, string password, out bool knownUser)
    {
        knownUser = _users.TryGetValue(username, out var user);
        if (user is null)
        {
            PasswordHash.Verify(password, s_decoyHash);
            return null;
        }
        return PasswordHash.Verify(password, user.PasswordHash) ? user : null;
    }

    private static readonly string s_decoyHash = PasswordHash.Create("decoy");

    public static IEnumerable<UserAccount> DemoUsers()
    {
        yield return new() { Username = "admin", PasswordHash = PasswordHash.Create("admin-demo"), Role = Roles.Admin };
        yield return new() { Username = "operator", PasswordHash = PasswordHash.Create("operator-demo"), Role = Roles.Operator };
        yield return new() { Username = "worker1", PasswordHash = PasswordHash.Create("worker-demo"), Role = Roles.Worker, Community = "c1", Grids = ["g1"] };
        yield return new() { Username = "worker2", PasswordHash = PasswordHash.Create("worker-demo"), Role = Roles.Worker, Community = "c1", Grids = ["g2"] };
        yield return new() { Username = "leader1", PasswordHash = PasswordHash.Create("leader-demo"), Role = Roles.Worker, Community = "c1", Leads = ["g1"] };
        yield return new() { Username = "engineer", PasswordHash = PasswordHash.Create("engineer-demo"), Role = Roles.Engineer };
    }
}
