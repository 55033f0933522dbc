using System.ComponentModel.DataAnnotations;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// The embedded broker's limits and access, section <c>Broker</c> (its port and bind address stay <c>Mqtt:Port</c> and
/// <c>Mqtt:BindAddress</c>, its queue <c>Mqtt:MaxPendingMessagesPerClient</c>):
/// <code>
/// "Broker": { "AllowAnonymous": null,            // null: on in the demo; otherwise off once any credential exists
///             "MaxPacketSize": 1048576, "MaxTopicLength": 512,
///             "MaxMessagesPerSecondPerDevice": 20, "MessageBurstPerDevice": 200, "RateLimitAnonymous": false,
///             "MaxPendingMessagesPerClient": null, "PendingMessagesOverflow": "DropOldest",
///             "TlsPort": null, "TlsCertificateFile": null, "TlsKeyFile": null, "TlsCertificatePassword": null,
///             "Users": [{"Username":"simulator","PasswordHash":"pbkdf2-sha256$…","Topics":["sensing/#"],"Subscribe":false}] }
/// </code>
/// Devices' own credentials live in the registry (<see cref="DeviceCredential"/>); <c>Broker:Users</c> is for
/// tools and gateways configured with the service (a simulator, a recorder, a bridge). Checked at start by
/// <see cref="BrokerOptionsValidator"/>.
/// </summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";

    /// <summary>
    /// Whether clients without credentials may connect (and then publish and subscribe anywhere, as before issue 9).
    /// Unset: on in the demo; outside it, off as soon as any credential is configured (see <see cref="BrokerAccess.AllowAnonymous"/>).
    /// </summary>
    public bool? AllowAnonymous { get; set; }

    /// <summary>
    /// Largest MQTT packet accepted, in bytes (the whole packet: header, topic, properties, payload). Checked as the
    /// packet's length arrives, before it is read: a client announcing more is disconnected without the broker buffering
    /// it. Above <c>Ingest:MaxPayloadBytes</c> (256 KiB) on purpose: a payload between the two still arrives and is
    /// dead-lettered with its size, so the device's owner can see what it sent.
    /// </summary>
    [Range(1024, 268_435_455)] public int MaxPacketSize { get; set; } = 1024 * 1024;

    /// <summary>Longest topic a client may publish to, in UTF-8 bytes (the protocol allows 65,535; ours are under 100).</summary>
    [Range(16, 65_535)] public int MaxTopicLength { get; set; } = 512;

    /// <summary>
    /// A flooding device (issue 9): messages a second one device may publish on average, over <see cref="MessageBurstPerDevice"/>
    /// (a token bucket per topic: a device publishes only to its own, and each device behind a gateway credential has its
    /// own under the gateway's topics). Beyond it the broker refuses the publish: MQTT 5
    /// clients get PUBACK "quota exceeded" with the reason, MQTT 3.1.1 ones lose the message (their protocol cannot be
    /// told), each refusal counted in <c>sensing_broker_refusals_total{reason="rate"}</c> and logged (the first, then every
    /// 100th, naming the device). The flood never reaches ingest's queue, so other devices' readings and alerts keep
    /// their pace. Applies to devices and gateways with registry credentials (and to anonymous clients with <see cref="RateLimitAnonymous"/>);
    /// the service, and <c>Broker:Users</c> (gateways, simulators: many devices behind one client) are not limited.
    /// Our devices report every few seconds at most; 0 turns the limit off.
    /// </summary>
    [Range(0, 1_000_000)] public double MaxMessagesPerSecondPerDevice { get; set; } = 20;

    /// <summary>Messages a device may send in a burst above its rate (a gateway's store-and-forward after an outage, a camera's event burst).</summary>
    [Range(1, 10_000_000)] public int MessageBurstPerDevice { get; set; } = 200;

    /// <summary>
    /// Also limit anonymous clients. Off by default: in the demo the anonymous clients are the tools
    /// (<c>simulate --speed max</c>, <c>replay</c>), which publish many topics' history as fast as they can.
    /// </summary>
    public bool RateLimitAnonymous { get; set; }

    /// <summary>
    /// Messages the broker queues for one subscriber before it drops (<see cref="PendingMessagesOverflow"/>): the bound
    /// on what a slow or absent subscriber (a recorder, a dashboard) costs in memory. Null: <c>Mqtt:MaxPendingMessagesPerClient</c>
    /// (250,000), the key that predates this section. MQTTnet 5.2 has one bound for every client, ingest included, so
    /// it must also hold the longest burst ingest has to ride out.
    /// </summary>
    [Range(1000, 10_000_000)] public int? MaxPendingMessagesPerClient { get; set; }

    /// <summary>
    /// What a full queue drops: <c>DropOldest</c> (the default: a subscriber that comes back gets the most recent
    /// messages) or <c>DropNew</c> (keeps the oldest). Either way each drop is counted in
    /// <c>sensing_broker_queue_overflows_total</c> and logged.
    /// </summary>
    public PendingOverflow PendingMessagesOverflow { get; set; } = PendingOverflow.DropOldest;

    /// <summary>Port of a TLS listener beside the plain one (8883 by convention); none when unset.</summary>
    [Range(1, 65535)] public int? TlsPort { get; set; }

    /// <summary>The broker's certificate: PEM (with <see cref="TlsKeyFile"/>, or the key in the same file) or PKCS#12 (<c>.pfx</c>/<c>.p12</c>).</summary>
    public string? TlsCertificateFile { get; set; }

    /// <summary>PEM private key of <see cref="TlsCertificateFile"/> when it is not in the certificate file.</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>Password of a PKCS#12 certificate or of an encrypted PEM key.</summary>
    public string? TlsCertificatePassword { get; set; }

    /// <summary>Broker users from configuration: tools and gateways (devices are credentialled in the registry).</summary>
    public List<BrokerUser> Users { get; set; } = [];
}

/// <summary>What a subscriber's full queue drops (<see cref="BrokerOptions.PendingMessagesOverflow"/>).</summary>
public enum PendingOverflow { DropOldest, DropNew }

/// <summary>A configured broker user: a password hash (never a password), where it may publish, and whether it may subscribe.</summary>
public sealed class BrokerUser
{
    [Required] public string Username { get; set; } = "";

    /// <summary>From <c>PasswordHash.Create</c> (<c>pbkdf2-sha256$…</c>).</summary>
    [Required] public string PasswordHash { get; set; } = "";

    /// <summary>Topic filters it may publish to (e.g. <c>sensing/#</c> for a simulator); none: it may not publish.</summary>
    public List<string> Topics { get; set; } = [];

    /// <summary>May subscribe to its <see cref="Topics"/> (a recorder); devices and gateways may not subscribe at all.</summary>
    public bool Subscribe { get; set; }
}
