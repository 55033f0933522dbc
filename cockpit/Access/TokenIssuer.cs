using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Sensing.Cockpit.Access;

/// <summary>Issues and describes the bearer tokens (HMAC-SHA256 JWTs) that the API and the hubs accept.</summary>
public sealed class TokenIssuer
{
    public const string RoleClaim = "role";
    public const string NameClaim = "sub";
    public const string CommunityClaim = "community";
    public const string GridClaim = "grid";
    public const string LeadClaim = "lead";

    private readonly AuthOptions _options;
    private readonly TimeProvider _time;

    public TokenIssuer(IOptions<AuthOptions> options, IConfiguration configuration, TimeProvider time, ILogger<TokenIssuer> logger)
    {
        _options = options.Value;
        _time = time;
        if (!string.IsNullOrEmpty(_options.SigningKey))
        {
            Key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_options.SigningKey));
        }
        else if (UserDirectory.DemoEnabled(configuration))
        {
            // A random key per process: demo tokens die with the process, and no known default key exists anywhere.
            Key = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32));
            logger.LogWarning("Auth:SigningKey is not set; using a random per-process key (demo only). Set Auth:SigningKey for production and for several instances.");
        }
        else
        {
            throw new OptionsValidationException(AuthOptions.Section, typeof(AuthOptions),
                ["Auth:SigningKey is required when Demo:Enabled is false (at least 32 characters)."]);
        }
        if (Key.KeySize < 256)
        {
            throw new OptionsValidationException(AuthOptions.Section, typeof(AuthOptions), ["Auth:SigningKey must be at least 32 bytes."]);
        }
    }

    public SymmetricSecurityKey Key { get; }
    public string Issuer => _options.Issuer;
    public TimeSpan Lifetime => TimeSpan.FromMinutes(_options.TokenLifetimeMinutes);
    public TimeSpan ClockSkew => TimeSpan.FromSeconds(_options.ClockSkewSeconds);

    public string Issue(UserAccount user)
    {
        var claims = new List<Claim> { new(NameClaim, user.Username), new(RoleClaim, user.Role) };
        if (user.Community is not null) claims.Add(new Claim(CommunityClaim, user.Community));
        claims.AddRange(user.Grids.Select(g => new Claim(GridClaim, g)));
        claims.AddRange(user.Leads.Select(g => new Claim(LeadClaim, g)));
        var now = _time.GetUtcNow().UtcDateTime;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            Issuer = _options.Issuer,
            Audience = _options.Issuer,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + Lifetime,
            SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.HmacSha256),
        });
    }

    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = _options.Issuer,
        ValidAudience = _options.Issuer,
        IssuerSigningKey = Key,
        NameClaimType = NameClaim,
        RoleClaimType = RoleClaim,
        ClockSkew = ClockSkew,
        // Only what Issue signs with: a token claiming another algorithm is refused before its signature is looked at.
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
    };
}
