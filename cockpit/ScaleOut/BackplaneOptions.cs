using System.ComponentModel.DataAnnotations;
using StackExchange.Redis;

namespace Sensing.Cockpit.ScaleOut;

/// <summary>
/// Section <c>SignalR</c>: the backplane that lets several cockpit instances behind one address reach each other's
/// SignalR clients, and share the alert book's changes.
/// <code>
/// "SignalR": { "Redis": "redis.internal:6379,password=…", "RedisChannelPrefix": "sensing", "RedisRequired": false }
/// </code>
/// No <c>Redis</c> (or an empty one): a single instance, no backplane.
/// </summary>
public sealed class BackplaneOptions : IValidatableObject
{
    public const string Section = "SignalR";

    /// <summary>A StackExchange.Redis connection string (<c>host:port[,password=…][,ssl=true]…</c>); empty: no backplane.</summary>
    public string? Redis { get; set; }

    /// <summary>
    /// Put in front of every channel this service uses (<c>sensing:</c>…), so two deployments on one Redis (staging and
    /// production, two districts) never see each other's pushes or alerts. Letters, digits, '.', '_' and '-'.
    /// </summary>
    public string RedisChannelPrefix { get; set; } = "sensing";

    /// <summary>
    /// Refuse to start while Redis cannot be reached (false: start, report <c>backplane.state</c> "disconnected" and a
    /// <c>degraded</c> status on /healthz, and keep reconnecting). See the README's scale-out section for why false is the default.
    /// </summary>
    public bool RedisRequired { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Redis);

    /// <summary>The parsed connection string, with what this service relies on: reconnecting rather than failing at start.</summary>
    public ConfigurationOptions RedisConfiguration()
    {
        var configuration = ConfigurationOptions.Parse(Redis!);
        // Keep trying in the background when Redis is away at start; whether to start at all is RedisRequired's call.
        configuration.AbortOnConnectFail = false;
        // While Redis is away a push fails at once instead of waiting in StackExchange.Redis' backlog (5 s per send by
        // default): the alert book pushes inline after persisting, so a backlog would hold up every alert raised during an
        // outage. A push lost this way is caught up by clients (AlertsSince, GET /api/alerts), like any missed push.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        // SignalR's channels are "<hub type>:…"; the prefix and a colon keep ours apart from another deployment's.
        configuration.ChannelPrefix = RedisChannel.Literal(RedisChannelPrefix + ":");
        return configuration;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(RedisChannelPrefix) || RedisChannelPrefix.Length > 64
            || !RedisChannelPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            yield return new ValidationResult(
                $"SignalR:RedisChannelPrefix '{RedisChannelPrefix}' must be 1–64 letters, digits, '.', '_' or '-'.", [nameof(RedisChannelPrefix)]);
        }
        if (!Enabled)
        {
            if (RedisRequired) yield return new ValidationResult("SignalR:RedisRequired is true but SignalR:Redis is empty.", [nameof(Redis)]);
            yield break;
        }
        string? error = null;
        try
        {
            if (ConfigurationOptions.Parse(Redis!).EndPoints.Count == 0) error = "names no host";
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or NotSupportedException)
        {
            error = ex.Message;
        }
        if (error is not null)
        {
            yield return new ValidationResult($"SignalR:Redis is not a valid Redis connection string ({error}).", [nameof(Redis)]);
        }
    }
}
