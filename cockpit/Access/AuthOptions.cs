using System.ComponentModel.DataAnnotations;

namespace Sensing.Cockpit.Access;

/// <summary>
/// Section <c>Auth</c>:
/// <code>
/// "Auth": {
///   "SigningKey": "at least 32 characters of secret",   // required unless Demo:Enabled
///   "Issuer": "sensing", "TokenLifetimeMinutes": 720, "ClockSkewSeconds": 30, "SignInPermitsPerMinute": 10,
///   "Users": [ { "Username": "li.wei", "PasswordHash": "pbkdf2-sha256$100000$&lt;salt b64&gt;$&lt;hash b64&gt;",
///                "Role": "worker", "Community": "c1", "Grids": ["g1"], "Leads": ["g1", "g2"] } ]
/// }
/// </code>
/// Hashes come from <c>PasswordHash.Create</c>; roles are admin, operator, worker (grid worker) and engineer. A worker
/// with <c>Leads</c> is the grid leader of those grids (of their community): unacknowledged alerts escalate to them.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    public string? SigningKey { get; set; }
    [Required] public string Issuer { get; set; } = "sensing";
    [Range(1, 60 * 24 * 30)] public int TokenLifetimeMinutes { get; set; } = 12 * 60;
    /// <summary>
    /// How far a token's times may disagree with this server's clock. Small: it is also how long a token keeps working
    /// after it expired. The library's default is five minutes.
    /// </summary>
    [Range(0, 300)] public int ClockSkewSeconds { get; set; } = 30;
    /// <summary>Sign-in attempts allowed per client address per minute: slows password guessing.</summary>
    [Range(1, 10_000)] public int SignInPermitsPerMinute { get; set; } = 10;
    public List<UserAccount> Users { get; set; } = [];
}

public sealed class UserAccount
{
    [Required] public string Username { get; set; } = "";
    [Required] public string PasswordHash { get; set; } = "";
    [Required] public string Role { get; set; } = Roles.Operator;
    public string? Community { get; set; }
    public List<string> Grids { get; set; } = [];
    /// <summary>Grids of <see cref="Community"/> this worker leads: they see those grids' alerts and get their escalations.</summary>
    public List<string> Leads { get; set; } = [];
}

public static class Roles
{
    public const string Admin = "admin";
    public const string Operator = "operator";
    public const string Worker = "worker";
    public const string Engineer = "engineer";

    public static bool IsKnown(string role) => role is Admin or Operator or Worker or Engineer;
}
