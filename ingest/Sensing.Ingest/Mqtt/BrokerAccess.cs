using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Mqtt;

/// <summary>Who a broker connection is, and what it may do.</summary>
/// <param name="Username">The MQTT username, or empty for an anonymous client.</param>
/// <param name="Kind">How it got in.</param>
/// <param name="PublishFilters">Where it may publish; null means anywhere (the service, an anonymous client of the demo).</param>
/// <param name="MaySubscribe">Whether it may subscribe (to its <paramref name="PublishFilters"/> when those are set).</param>
public sealed record BrokerIdentity(string Username, BrokerIdentityKind Kind, IReadOnlyList<string>? PublishFilters, bool MaySubscribe);

public enum BrokerIdentityKind { Anonymous, Service, User, Device }

/// <summary>
/// The embedded broker's access policy, separate from MQTTnet so it can be tested with <c>new</c>: who may connect
/// (device credentials from the registry, <c>Broker:Users</c>, the in-process service credential, anonymous clients
/// only when <c>Broker:AllowAnonymous</c>), where each may publish (its own topics; a refusal is counted and logged
/// with the reason), who may subscribe (the service and users allowed to; never a device: a device that could
/// subscribe to <c>sensing/#</c> would read every resident's meters), and the topic length limit.
/// Thread-safe: MQTTnet calls it from every connection.
/// </summary>
public sealed class BrokerAccess : IMetricsSource
{
    /// <summary>Key of the connection's identity in MQTTnet's session items.</summary>
    public const string SessionKey = "sensing.broker.identity";

    private readonly BrokerOptions _options;
    private readonly DeviceRegistry _registry;
    private readonly ServiceCredential _service;
    private readonly ILogger _logger;
    private readonly Dictionary<string, BrokerUser> _users;
    // A verified password, remembered as its SHA-256 beside the hash it matched, so a device reconnecting every few
    // seconds does not cost a 100,000-iteration PBKDF2 each time. Wrong passwords always pay the full price.
    private readonly ConcurrentDictionary<string, (string Hash, byte[] Digest)> _verified = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Counter> _refusals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RateBucket> _rates = new(StringComparer.Ordinal);

    public BrokerAccess(BrokerOptions options, DeviceRegistry registry, ServiceCredential service, ILogger? logger = null)
    {
        _options = options;
        _registry = registry;
        _service = service;
        _logger = logger ?? NullLogger.Instance;
        _users = options.Users.ToDictionary(u => u.Username, StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether a client without credentials gets in. Set, <c>Broker:AllowAnonymous</c> decides. Unset outside the demo,
    /// anonymous clients are refused once the installation has any credential (a device's in the registry or a
    /// <c>Broker:Users</c> entry): an installation that has begun to give its devices credentials is locked to them.
    /// Until then it stays open, as the public contract's first-sight registration of native devices and users' scripts
    /// publishing to a plain <c>Demo:Enabled=false</c> service expect; the start log says which applies.
    /// </summary>
    public bool AllowAnonymous => _options.AllowAnonymous ?? !(_options.Users.Count > 0 || _registry.HasCredentials);

    /// <summary>
    /// Decides a CONNECT. Returns the identity, or null with the refusal (the reason is logged and counted, never sent
    /// to the client beyond "not authorized": it must not learn whether a username exists).
    /// </summary>
    public BrokerIdentity? Authenticate(string? username, string? password, string? clientId, out string? refusal)
    {
        refusal = null;
        BrokerIdentity? identity;
        if (string.IsNullOrEmpty(username))
        {
            identity = AllowAnonymous ? new BrokerIdentity("", BrokerIdentityKind.Anonymous, null, MaySubscribe: true) : null;
            if (identity is null) refusal = Refuse("anonymous", $"anonymous client {clientId} refused (Broker:AllowAnonymous is off, or unset with credentials configured outside the demo)");
        }
        else if (username == _service.Username)
        {
            identity = FixedTimeEquals(password, _service.Password) ? new BrokerIdentity(username, BrokerIdentityKind.Service, null, MaySubscribe: true) : null;
            if (identity is null) refusal = Refuse("credentials", $"wrong password for the service user {username} (client {clientId})");
        }
        else if (_users.TryGetValue(username, out var user))
        {
            identity = Verify(username, password, user.PasswordHash)
                ? new BrokerIdentity(username, BrokerIdentityKind.User, [.. user.Topics], user.Subscribe) : null;
            if (identity is null) refusal = Refuse("credentials", $"wrong password for Broker:Users user {username} (client {clientId})");
        }
        else if (_registry.FindCredential(username) is { } credential)
        {
            if (!Verify(username, password, credential.PasswordHash))
            {
                refusal = Refuse("credentials", $"wrong password for device credential {username} (client {clientId})");
                return null;
            }
            var topics = credential.Topics is { Count: > 0 } listed ? listed
                : _registry.FindDevice(username) is { } device ? [NativeTopic(device)] : null;
            identity = topics is null ? null : new BrokerIdentity(username, BrokerIdentityKind.Device, topics, MaySubscribe: false);
            if (identity is null) refusal = Refuse("credentials", $"credential {username} lists no topics and names no registered device, so it may publish nowhere");
        }
        else
        {
            identity = null;
            refusal = Refuse("credentials", $"unknown user {username} (client {clientId})");
        }
        if (identity is not null && identity.Kind != BrokerIdentityKind.Service && clientId is { Length: > 0 } && clientId == _service.ClientId)
        {
            // Taking ingest's client id would take over its persistent session, and with it every queued message.
            refusal = Refuse("client_id", $"{DisplayName(identity)} asked for ingest's client id {clientId}");
            return null;
        }
        return identity;
    }

    /// <summary>Null when <paramref name="identity"/> may publish to <paramref name="topic"/>; else the reason (counted and logged).</summary>
    public string? PublishRefusal(BrokerIdentity identity, string topic) => PublishRefusal(identity, topic, out _);

    /// <inheritdoc cref="PublishRefusal(BrokerIdentity, string)"/>
    /// <param name="topicTooLong">True when the refusal is for the topic's length (MQTT 5: "topic name invalid" rather than "not authorized").</param>
    public string? PublishRefusal(BrokerIdentity identity, string topic, out bool topicTooLong)
    {
        var bytes = Encoding.UTF8.GetByteCount(topic);
        topicTooLong = bytes > _options.MaxTopicLength;
        if (topicTooLong)
        {
            return Refuse("topic_length", $"{DisplayName(identity)} published to a topic of {bytes} bytes, more than Broker:MaxTopicLength ({_options.MaxTopicLength})");
        }
        if (identity.PublishFilters is null || Matches(identity.PublishFilters, topic)) return null;
        return Refuse("topic_acl", $"{DisplayName(identity)} may publish only to {string.Join(", ", identity.PublishFilters)}, not to {Shorten(topic)}");
    }

    /// <summary>
    /// Null when a publish to <paramref name="topic"/> is within its message rate (<c>Broker:MaxMessagesPerSecondPerDevice</c>
    /// over <c>Broker:MessageBurstPerDevice</c>); else the reason, counted as <c>rate</c>. The bucket is the topic's: a
    /// device may publish only to its own topic, so that is the device's; a gateway's registry credential (one that lists
    /// topics) fronts many devices, each on its own topic under it, and one busy device must not silence the others.
    /// Devices and gateways with registry credentials are limited, anonymous clients only with <c>Broker:RateLimitAnonymous</c>.
    /// </summary>
    public string? RateRefusal(BrokerIdentity identity, string topic)
    {
        var rate = _options.MaxMessagesPerSecondPerDevice;
        if (rate <= 0) return null;
        var limited = identity.Kind == BrokerIdentityKind.Device || (identity.Kind == BrokerIdentityKind.Anonymous && _options.RateLimitAnonymous);
        if (!limited) return null;
        var key = topic;
        if (!_rates.TryGetValue(key, out var bucket))
        {
            // Bounded: a client inventing topics must not grow this without end. Forgetting every bucket now and then
            // only grants each a fresh burst.
            if (_rates.Count >= MaxRateBuckets) _rates.Clear();
            bucket = _rates.GetOrAdd(key, _ => new RateBucket(_options.MessageBurstPerDevice));
        }
        if (bucket.TryTake(rate, _options.MessageBurstPerDevice)) return null;
        return Refuse("rate", $"{DisplayName(identity)} on {Shorten(topic)} publishes faster than Broker:MaxMessagesPerSecondPerDevice ({rate}/s over a burst of {_options.MessageBurstPerDevice}); its messages are refused until it slows down");
    }

    private const int MaxRateBuckets = 500_000;

    /// <summary>Null when <paramref name="identity"/> may subscribe to <paramref name="filter"/>; else the reason.</summary>
    public string? SubscribeRefusal(BrokerIdentity identity, string filter)
    {
        if (!identity.MaySubscribe) return Refuse("subscribe_acl", $"{DisplayName(identity)} may not subscribe (to {Shorten(filter)}): devices only publish");
        if (identity.PublishFilters is null || identity.PublishFilters.Any(allowed => Within(filter, allowed))) return null;
        return Refuse("subscribe_acl", $"{DisplayName(identity)} may subscribe only within {string.Join(", ", identity.PublishFilters)}, not to {Shorten(filter)}");
    }

    /// <summary>Counts a packet refused for its size (the listener reports these).</summary>
    public void PacketTooLarge(string endpoint, long size) =>
        Refuse("packet_size", $"client {endpoint} announced a packet of {size} bytes, more than Broker:MaxPacketSize ({_options.MaxPacketSize}); connection closed");

    public long Refusals(string kind) => _refusals.TryGetValue(kind, out var c) ? c.Value : 0;

    public void Collect(ICollection<MetricSample> samples)
    {
        foreach (var (kind, counter) in _refusals.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            samples.Add(new("sensing_broker_refusals_total", "Connections, publishes, subscriptions and packets the embedded broker refused, by reason (anonymous, credentials, client_id, topic_acl, topic_length, subscribe_acl, packet_size, rate).",
                "counter", counter.Value, $"reason=\"{kind}\""));
        }
    }

    /// <summary>The native topic of a registered device: <c>sensing/{community}/{kind}/{id}</c>.</summary>
    public static string NativeTopic(Device device) => $"{Normalization.NativeNormalizer.TopicRoot}/{device.Community}/{device.Kind.Name()}/{device.Id}";

    private static bool Matches(IReadOnlyList<string> filters, string topic)
    {
        foreach (var filter in filters)
        {
            if (MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch) return true;
        }
        return false;
    }

    /// <summary>True when every topic <paramref name="filter"/> matches is also matched by <paramref name="allowed"/>.</summary>
    private static bool Within(string filter, string allowed)
    {
        var f = filter.Split('/');
        var a = allowed.Split('/');
        for (var i = 0; i < f.Length; i++)
        {
            if (i >= a.Length) return false;
            if (a[i] == "#") return true;
            if (f[i] == "#") return false;
            if (a[i] == "+") continue;
            if (f[i] != a[i]) return false;
        }
        return f.Length == a.Length || (a.Length == f.Length + 1 && a[^1] == "#");
    }

    private bool Verify(string username, string? password, string hash)
    {
        if (password is null) return false;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(password));
        if (_verified.TryGetValue(username, out var known) && known.Hash == hash && CryptographicOperations.FixedTimeEquals(known.Digest, digest)) return true;
        if (!PasswordHash.Verify(password, hash)) return false;
        _verified[username] = (hash, digest);
        return true;
    }

    private static bool FixedTimeEquals(string? a, string b) =>
        a is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private string Refuse(string kind, string reason)
    {
        var count = _refusals.GetOrAdd(kind, static _ => new Counter()).Increment();
        // The first of each kind, then every 100th: a misconfigured device retrying every second must not drown the log.
        if (count % 100 == 1)
        {
            _logger.LogWarning("Embedded broker refused: {Reason} ({Count} {Kind} refusals so far)", reason, count, kind);
        }
        return reason;
    }

    private static string DisplayName(BrokerIdentity identity) => identity.Kind switch
    {
        BrokerIdentityKind.Anonymous => "an anonymous client",
        BrokerIdentityKind.Device => $"device {identity.Username}",
        _ => $"user {identity.Username}",
    };

    private static string Shorten(string text) => text.Length <= 120 ? text : text[..120] + "…";

    /// <summary>A token bucket: full at <c>burst</c>, refilled at <c>rate</c> tokens a second, one token per message.</summary>
    private sealed class RateBucket(int burst)
    {
        private readonly Lock _lock = new();
        private double _tokens = burst;
        private long _last = System.Diagnostics.Stopwatch.GetTimestamp();

        public bool TryTake(double rate, int burst)
        {
            lock (_lock)
            {
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                _tokens = Math.Min(burst, _tokens + (now - _last) * rate / System.Diagnostics.Stopwatch.Frequency);
                _last = now;
                if (_tokens < 1) return false;
                _tokens -= 1;
                return true;
            }
        }
    }

    private sealed class Counter
    {
        private long _value;
        public long Value => Interlocked.Read(ref _value);
        public long Increment() => Interlocked.Increment(ref _value);
    }
}

/// <summary>
/// The credential ingest's own MQTT client (and the in-process demo feed) uses with the embedded broker: the username
/// <c>sensing-service</c> and a random password made at start, never written anywhere, so nothing outside the process
/// can use it. Tools outside the process get a <c>Broker:Users</c> entry instead.
/// </summary>
public sealed class ServiceCredential(string clientId)
{
    public const string DefaultUsername = "sensing-service";

    public string Username { get; } = DefaultUsername;
    public string Password { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));

    /// <summary>Ingest's client id (<c>Mqtt:ClientId</c>): reserved for the service, as its persistent session lives under it.</summary>
    public string ClientId { get; } = clientId;
}
