using System.ComponentModel.DataAnnotations;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// The embedded broker's limits and access, section <c>Broker</c> (its port and bind address stay <c>Mqtt:Port</c> and
/// <c>Mqtt:BindAddress</c>, its queue <c>Mqtt:MaxPendingMessagesPerClient</c>):
/// <code>
/// "Broker": { "AllowAnonymous": null,            // null: on in the demo; otherwise off once any credential exists
///             "MaxPacketSize": 1048576, "MaxTopicLength": 512,
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
