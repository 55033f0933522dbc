using System.ComponentModel.DataAnnotations;

namespace Sensing.Ingest;

/// <summary>
/// The MQTT side, section <c>Mqtt</c>:
/// <code>
/// "Mqtt": { "Embedded": true, "EmbeddedIntake": "InProcess", "Host": "localhost", "Port": 1883, "BindAddress": "127.0.0.1",
///           "ClientId": "sensing-ingest", "SharedGroup": null, "Username": null, "Password": null,
///           "UseTls": false, "CaFile": null, "AllowUntrustedCertificates": false, "TlsServerName": null,
///           "ClientCertificateFile": null, "ClientKeyFile": null, "ClientCertificatePassword": null,
///           "SessionExpirySeconds": 86400, "ReceiveMaximum": 40000, "SocketBufferBytes": 1048576, "Topics": ["sensing/#"], "UnsharedTopics": [],
///           "MaxPendingMessagesPerClient": 250000 }
/// </code>
/// Checked at start by <see cref="Mqtt.MqttOptionsValidator"/> (certificate files are loaded then, not at the first connect).
/// </summary>
public sealed class MqttOptions
{
    public const string Section = "Mqtt";

    /// <summary>Run an in-process MQTTnet broker (the one-machine default) instead of using an external one.</summary>
    public bool Embedded { get; set; } = true;

    /// <summary>
    /// How ingest takes messages from the embedded broker. <see cref="Ingest.EmbeddedIntake.InProcess"/> (the default): the
    /// broker hands them to ingest's queue itself (<see cref="Mqtt.InProcessIntake"/>). <see cref="Ingest.EmbeddedIntake.Subscriber"/>:
    /// ingest's own MQTT client subscribes to the embedded broker over loopback, as it does to an external one (a
    /// persistent session, Receive Maximum, acknowledgements after the store); slower, kept to compare the two.
    /// </summary>
    public EmbeddedIntake EmbeddedIntake { get; set; } = EmbeddedIntake.InProcess;

    /// <summary>Broker host ingest connects to; with the embedded broker, the local machine.</summary>
    [Required] public string Host { get; set; } = "localhost";

    [Range(1, 65535)] public int Port { get; set; } = 1883;

    /// <summary>
    /// Address the embedded broker listens on. Loopback by default, like mosquitto 2 without a configured
    /// listener: the embedded broker accepts anonymous clients, so exposing it to a network is a deliberate choice.
    /// </summary>
    [Required] public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Stable client id: with clean start off, the broker keeps the session (and queued messages) under it.</summary>
    [Required] public string ClientId { get; set; } = "sensing-ingest";

    /// <summary>When set, subscribe through <c>$share/&lt;group&gt;/...</c> so several ingest instances split one feed.</summary>
    public string? SharedGroup { get; set; }

    public string? Username { get; set; }
    public string? Password { get; set; }

    /// <summary>Connect with TLS (an external broker's TLS listener, usually port 8883).</summary>
    public bool UseTls { get; set; }

    /// <summary>
    /// PEM (one or more certificates) or DER file of the CA that signed the broker's certificate. When set, only chains
    /// ending at one of these CAs are trusted (like mosquitto_sub's <c>--cafile</c>); when not, the system's trust store.
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>Accept any server certificate (no chain or name check). For a test rig only: it gives up what TLS is for.</summary>
    public bool AllowUntrustedCertificates { get; set; }

    /// <summary>Name the broker's certificate must carry, when it differs from <see cref="Host"/> (e.g. connecting by IP address).</summary>
    public string? TlsServerName { get; set; }

    /// <summary>Client certificate for brokers that require one: PEM (with <see cref="ClientKeyFile"/>, or the key in the same file) or PKCS#12 (<c>.pfx</c>/<c>.p12</c>).</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>PEM private key of <see cref="ClientCertificateFile"/> when it is not in the certificate file.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>Password of a PKCS#12 client certificate or of an encrypted PEM key.</summary>
    public string? ClientCertificatePassword { get; set; }

    /// <summary>How long the broker keeps our session while ingest is away (messages published meanwhile wait for us).</summary>
    [Range(0, uint.MaxValue)] public long SessionExpirySeconds { get; set; } = 86_400;

    /// <summary>
    /// MQTT 5 flow control: sent in CONNECT as Receive Maximum, so the broker should have no more than this many QoS 1
    /// messages unacknowledged at ingest (ingest acknowledges only once a message is stored) and keep the rest of a
    /// burst itself. The same number bounds how many messages ingest reads off the connection ahead of the pipeline,
    /// which is what holds when a broker overshoots (mosquitto 2.0.11 does, once acknowledgements flow; see the Mqtt
    /// folder's README), and is kept free in <c>Ingest:QueueCapacity</c> for QoS 1: QoS 0 messages beyond the rest are
    /// dropped and counted.
    /// Keep it at least twice <c>Ingest:BatchSize</c> so one batch fills while the previous is written. 0 sends none,
    /// reads ahead without bound and never drops QoS 0 (the broker's default applies; not recommended).
    /// <para>
    /// 40,000: two seconds at 20,000 msg/s, so intake goes on through a store stall (a checkpoint, the minute's rollup
    /// fold; 1–2 s at that rate) and analytics, which hears readings as they arrive, does not wait for the store
    /// (benchmarks/README.md, the steady 20,000 msg/s runs: a forced door on the wall screen in ~60 ms at the median).
    /// A longer stall (the two back to back) still outlasts it. About 0.5 KB per message in flight.
    /// </para>
    /// </summary>
    [Range(0, ushort.MaxValue)] public int ReceiveMaximum { get; set; } = 40_000;

    /// <summary>
    /// The kernel's send and receive buffers of ingest's connection to the broker. MQTTnet sets both to 8 KB unless
    /// told otherwise, and a buffer set that small also turns off TCP window scaling: the broker may then have at most
    /// ~8 KB (some 60 messages) on the wire to ingest at a time, and once ingest pauses reading (its queue full) the
    /// broker's kernel falls back to zero-window probes that back off exponentially, so ingest sat idle for up to
    /// 25 s with a backlog waiting (the e2e benchmark's alert probe; benchmarks/README.md). 1 MiB lets the window scale.
    /// </summary>
    [Range(8 * 1024, 64 * 1024 * 1024)] public int SocketBufferBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Topic filters ingest subscribes to (through <c>$share/&lt;group&gt;/</c> when <see cref="SharedGroup"/> is set);
    /// <see cref="DefaultTopics"/> when none are configured. Not an initializer: the configuration binder appends
    /// configured array items to an initial value, so <c>Mqtt:Topics:0=sensing/+/gate/#</c> would have kept
    /// <c>sensing/#</c> beside it.
    /// </summary>
    [MinLength(1)] public string[] Topics { get; set; } = [];

    public static readonly string[] DefaultTopics = ["sensing/#"];

    /// <summary>
    /// Topic filters every instance subscribes to directly even when <see cref="SharedGroup"/> is set: feeds that must
    /// reach one instance in order, whole. Meter registers are such a feed: consumption is the difference between a
    /// meter's consecutive registers, and a shared subscription hands consecutive messages to different instances.
    /// Every instance then stores the same registers and consumption, which idempotent writes keep single. Must not
    /// overlap <see cref="Topics"/> (a message matching both would arrive twice).
    /// </summary>
    public string[] UnsharedTopics { get; set; } = [];

    /// <summary>
    /// The topic filters of the enabled vendor formats of <c>Ingest:Formats</c>, filled in at start rather than
    /// configured here: ingest subscribes to what it has a normalizer for, alongside <see cref="Topics"/> (and through
    /// the shared group like them). Native routes are left to <see cref="Topics"/> and <see cref="UnsharedTopics"/>:
    /// joining <c>sensing/#</c> here beside a narrower shared topic would be a second shared subscription matching the
    /// same messages, and the broker hands each message once per matching subscription, to a member picked for each.
    /// </summary>
    public string[] FormatTopics { get; set; } = [];

    /// <summary>
    /// Messages the embedded broker queues for one client (ingest) before it must drop: a burst faster than ingest
    /// waits here. MQTTnet's default is 1,000, which a burst fills in a fraction of a second; 250,000 native
    /// messages are roughly 100 MB at most. A drop, should one still happen, is counted and logged, never silent.
    /// </summary>
    [Range(1000, 10_000_000)] public int MaxPendingMessagesPerClient { get; set; } = 250_000;
}

/// <summary>How ingest takes messages from the embedded broker (<see cref="MqttOptions.EmbeddedIntake"/>).</summary>
public enum EmbeddedIntake
{
    /// <summary>The broker hands each message on ingest's topics to ingest's queue in process.</summary>
    InProcess,

    /// <summary>Ingest's MQTT client subscribes to the broker over loopback, as to an external broker.</summary>
    Subscriber,
}

/// <summary>
/// The pipeline, section <c>Ingest</c>:
/// <code>"Ingest": { "BatchSize": 2000, "BatchDelayMilliseconds": 50, "QueueCapacity": 80000, "MaxPayloadBytes": 262144,
///             "Formats": { "sensing/#": "native", "frigate/#": "frigate", "tele/+/SENSOR": "tasmota", … , "zigbee2mqtt/+": "off" },
///             "QuarantineWindowDays": 7, "MaxClockAheadSeconds": 0, "MaxClockBehindSeconds": 0 }</code>
/// </summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";

    /// <summary>Readings written per store call: large enough to amortise a transaction, small enough to ack promptly.</summary>
    [Range(1, 100_000)] public int BatchSize { get; set; } = 2000;

    /// <summary>How long a partial batch may wait for company before it is written anyway (bounds latency at low rates).</summary>
    [Range(1, 10_000)] public int BatchDelayMilliseconds { get; set; } = 50;

    /// <summary>
    /// Messages held between the MQTT client and the pipeline; when full, intake waits and the broker holds the rest.
    /// QoS 0 messages (which the broker cannot hold back) may fill it up to capacity less <c>Mqtt:ReceiveMaximum</c>
    /// and are dropped and counted beyond: raise it to ride out longer QoS 0 bursts (about 0.3 KB per place).
    /// <para>
    /// 80,000 (with the default Receive Maximum of 40,000, room for 40,000 QoS 0 messages): a DuckDB checkpoint holds a
    /// write for up to ~1 s and the minute's rollup fold up to ~2 s, and at 20,000 msg/s QoS 0 the old 20,000 (10,000
    /// for QoS 0) shed messages at every checkpoint (the e2e benchmark sustained 15,000 msg/s at QoS 0 through
    /// mosquitto with 20,000, 20,000 msg/s with 40,000 and 30,000 for QoS 0).
    /// </para>
    /// </summary>
    [Range(1, 1_000_000)] public int QueueCapacity { get; set; } = 80_000;

    /// <summary>Payloads larger than this are dead-lettered unread: no device in the contract sends more than a few hundred bytes.</summary>
    [Range(256, 16 * 1024 * 1024)] public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// Topic filter → wire format (<see cref="Normalization.VendorFormats.Names"/>): which normalizer reads which topics, and
    /// what ingest subscribes to besides <see cref="MqttOptions.Topics"/>. Starts with the defaults of
    /// <see cref="Normalization.VendorFormats.Defaults"/>; configuration adds filters or replaces a default's format, and
    /// <c>off</c> (or an empty value) removes one. Keys compare case-insensitively, as configuration keys do.
    /// </summary>
    public Dictionary<string, string> Formats { get; set; } = new(Normalization.VendorFormats.Defaults, StringComparer.OrdinalIgnoreCase);

    /// <summary>How far back quarantined messages are looked up: to list them after a restart, and to replay them on registration.</summary>
    [Range(1, 366)] public int QuarantineWindowDays { get; set; } = 7;

    /// <summary>
    /// A device clock running ahead (issue 9): a message whose reading time is more than this many seconds after the time
    /// ingest received it is dead-lettered whole, with the skew in its reason, rather than stored at a time that has not
    /// come yet (or re-stamped with the receive time, which would put a meter register at a time it was not read and
    /// misplace its consumption). The dead letter keeps the raw message, so it can be replayed once the clock is fixed.
    /// 0 (the default) checks nothing: <c>simulate --speed max</c> and <c>replay --rewrite-time</c> publish event times
    /// ahead of the wall clock on purpose. In production 600 (ten minutes) is a sensible bound.
    /// </summary>
    [Range(0, 366 * 86_400)] public int MaxClockAheadSeconds { get; set; }

    /// <summary>
    /// A device clock running behind: a message whose reading time is more than this many seconds before its receipt is
    /// dead-lettered whole, with the skew in its reason. 0 (the default) checks nothing: meters and gateways legitimately
    /// forward what they buffered while offline, and recorded feeds (<c>replay</c>, the demo's backfill) are the past by
    /// design; set it above the longest outage a device may buffer (e.g. 172800, two days) to catch a clock reset to 1970.
    /// </summary>
    [Range(0, int.MaxValue)] public int MaxClockBehindSeconds { get; set; }
}

/// <summary>Section <c>Registry</c>: <c>"Registry": { "Path": "data/registry.json" }</c> (see <see cref="RegistrySnapshot"/> for the file's shape).</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    [Required] public string Path { get; set; } = "data/registry.json";
}
