using System.ComponentModel.DataAnnotations;

namespace Sensing.Ingest;

/// <summary>
/// The MQTT side, section <c>Mqtt</c>:
/// <code>
/// "Mqtt": { "Embedded": true, "Host": "localhost", "Port": 1883, "BindAddress": "127.0.0.1",
///           "ClientId": "sensing-ingest", "SharedGroup": null, "Username": null, "Password": null,
///           "UseTls": false, "SessionExpirySeconds": 86400, "Topics": ["sensing/#"],
///           "MaxPendingMessagesPerClient": 250000 }
/// </code>
/// </summary>
public sealed class MqttOptions
{
    public const string Section = "Mqtt";

    /// <summary>Run an in-process MQTTnet broker (the one-machine default) instead of using an external one.</summary>
    public bool Embedded { get; set; } = true;

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
    public bool UseTls { get; set; }

    /// <summary>How long the broker keeps our session while ingest is away (messages published meanwhile wait for us).</summary>
    [Range(0, uint.MaxValue)] public long SessionExpirySeconds { get; set; } = 86_400;

    /// <summary>Topic filters ingest subscribes to.</summary>
    [MinLength(1)] public string[] Topics { get; set; } = ["sensing/#"];

    /// <summary>
    /// Messages the embedded broker queues for one client (ingest) before it must drop: a burst faster than ingest
    /// waits here. MQTTnet's default is 1,000, which a burst fills in a fraction of a second; 250,000 native
    /// messages are roughly 100 MB at most. A drop, should one still happen, is counted and logged, never silent.
    /// </summary>
    [Range(1000, 10_000_000)] public int MaxPendingMessagesPerClient { get; set; } = 250_000;
}

/// <summary>
/// The pipeline, section <c>Ingest</c>:
/// <code>"Ingest": { "BatchSize": 2000, "BatchDelayMilliseconds": 50, "QueueCapacity": 20000, "MaxPayloadBytes": 262144,
///             "Formats": { "sensing/#": "native", "frigate/#": "frigate", "tele/+/SENSOR": "tasmota", … , "zigbee2mqtt/+": "off" },
///             "QuarantineWindowDays": 7 }</code>
/// </summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";

    /// <summary>Readings written per store call: large enough to amortise a transaction, small enough to ack promptly.</summary>
    [Range(1, 100_000)] public int BatchSize { get; set; } = 2000;

    /// <summary>How long a partial batch may wait for company before it is written anyway (bounds latency at low rates).</summary>
    [Range(1, 10_000)] public int BatchDelayMilliseconds { get; set; } = 50;

    /// <summary>Messages held between the MQTT client and the pipeline; when full, intake waits and the broker holds the rest.</summary>
    [Range(1, 1_000_000)] public int QueueCapacity { get; set; } = 20_000;

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
}

/// <summary>Section <c>Registry</c>: <c>"Registry": { "Path": "data/registry.json" }</c> (see <see cref="RegistrySnapshot"/> for the file's shape).</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    [Required] public string Path { get; set; } = "data/registry.json";
}
