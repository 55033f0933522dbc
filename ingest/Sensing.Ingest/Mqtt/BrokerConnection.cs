using Microsoft.Extensions.Options;

namespace Sensing.Ingest.Mqtt;

/// <summary>Ingest's MQTT connection as <c>/healthz</c> shows it (<c>"mqtt": {…}</c>).</summary>
/// <param name="Since">When the current state (connected, or not) began.</param>
/// <param name="Connects">Successful connections since start; every one after the first is a reconnect.</param>
/// <param name="FailedAttempts">Connection attempts that failed since the last success (0 while connected).</param>
/// <param name="SessionPresent">Whether the broker still had ingest's session at the last connect (null before one).</param>
/// <param name="LastError">Why the last attempt failed or the connection dropped, as specific as the broker or TLS said.</param>
/// <param name="Qos0Dropped">QoS 0 messages dropped because ingest's queue was full (see <see cref="MqttIntake"/>).</param>
/// <param name="DisconnectedSince">When the connection dropped, while ingest is away from the broker after having been connected (null while connected or before the first connection).</param>
/// <param name="LastGap">The last spell without the broker, from the drop to the reconnection (null if the connection never dropped).</param>
/// <param name="Gaps">Spells without the broker since start (drops followed by a reconnection, or still running).</param>
/// <param name="InProcess">True when the embedded broker hands messages to ingest in process (<see cref="InProcessIntake"/>): no client connection, no session.</param>
public sealed record BrokerStatus(
    string Host,
    int Port,
    bool Tls,
    bool Embedded,
    string ClientId,
    string? SharedGroup,
    int ReceiveMaximum,
    bool Connected,
    DateTimeOffset Since,
    long Connects,
    long Reconnects,
    int FailedAttempts,
    bool? SessionPresent,
    IReadOnlyList<string> Subscriptions,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long Qos0Dropped = 0,
    DateTimeOffset? DisconnectedSince = null,
    BrokerGap? LastGap = null,
    long Gaps = 0,
    bool InProcess = false);

/// <summary>
/// A spell without the broker: messages published meanwhile waited at the broker (persistent session) or, for devices that
/// could not reach it either, were not sent. The wall screen shows it so a dip in the figures is explained, not guessed at.
/// </summary>
public sealed record BrokerGap(DateTimeOffset From, DateTimeOffset To)
{
    public double Seconds => (To - From).TotalSeconds;
}

/// <summary>
/// What ingest knows of its broker connection: written by <see cref="MqttIntake"/> (or <see cref="InProcessIntake"/>), read by <c>/healthz</c> and
/// <c>/metrics</c>. Changes are rare (connects, drops), so a lock and an immutable snapshot keep it simple.
/// </summary>
public sealed class BrokerConnection : IMetricsSource
{
    private readonly Lock _lock = new();
    private BrokerStatus _status;
    private long _acksSkipped;
    private long _qos0Dropped;

    private readonly TimeProvider _time;

    public BrokerConnection(IOptions<MqttOptions> options, TimeProvider time)
    {
        _time = time;
        var o = options.Value;
        _status = new BrokerStatus(o.Host, o.Port, o.UseTls, o.Embedded, o.ClientId, string.IsNullOrEmpty(o.SharedGroup) ? null : o.SharedGroup,
            o.ReceiveMaximum, Connected: false, Since: time.GetUtcNow(), Connects: 0, Reconnects: 0, FailedAttempts: 0, SessionPresent: null,
            Subscriptions: [], LastError: null, LastErrorAt: null);
    }

    public BrokerStatus Status
    {
        get { lock (_lock) return _status with { Qos0Dropped = Interlocked.Read(ref _qos0Dropped) }; }
    }

    /// <summary>Acknowledgements not sent because the connection they belonged to had gone (the broker redelivers those messages).</summary>
    public long AcknowledgementsSkipped => Interlocked.Read(ref _acksSkipped);

    internal void Connected(DateTimeOffset at, bool? sessionPresent, IReadOnlyList<string> subscriptions, bool inProcess = false)
    {
        lock (_lock)
        {
            var connects = _status.Connects + 1;
            _status = _status with
            {
                Connected = true, Since = at, Connects = connects, Reconnects = connects - 1, FailedAttempts = 0,
                SessionPresent = sessionPresent, Subscriptions = subscriptions,
                DisconnectedSince = null, InProcess = inProcess,
                LastGap = _status.DisconnectedSince is { } from ? new BrokerGap(from, at) : _status.LastGap,
            };
        }
    }

    internal void Disconnected(DateTimeOffset at, string reason)
    {
        lock (_lock)
        {
            if (!_status.Connected) return;
            _status = _status with { Connected = false, Since = at, LastError = reason, LastErrorAt = at, DisconnectedSince = at, Gaps = _status.Gaps + 1 };
        }
    }

    internal void AttemptFailed(DateTimeOffset at, string error)
    {
        lock (_lock)
        {
            _status = _status with { Connected = false, FailedAttempts = _status.FailedAttempts + 1, LastError = error, LastErrorAt = at };
        }
    }

    internal void AcknowledgementSkipped() => Interlocked.Increment(ref _acksSkipped);

    internal long Qos0Dropped() => Interlocked.Increment(ref _qos0Dropped);

    public void Collect(ICollection<MetricSample> samples)
    {
        var s = Status;
        samples.Add(new("sensing_broker_reconnects_total", "Times ingest connected to the MQTT broker again after its connection dropped.", "counter", s.Reconnects));
        samples.Add(new("sensing_broker_disconnected_seconds", "How long ingest has been without its broker after a drop (0 while connected).", "gauge",
            s.DisconnectedSince is { } since ? Math.Max(0, (_time.GetUtcNow() - since).TotalSeconds) : 0));
        samples.Add(new("sensing_broker_last_gap_seconds", "Length of the last spell without the broker, from the drop to the reconnection.", "gauge", s.LastGap?.Seconds ?? 0));
        samples.Add(new("sensing_broker_connect_failures", "Connection attempts that failed since the last successful one.", "gauge", s.FailedAttempts));
        samples.Add(new("sensing_broker_session_present", "1 when the broker had kept ingest's session at the last connect.", "gauge", s.SessionPresent == true ? 1 : 0));
        samples.Add(new("sensing_broker_acks_skipped_total", "Acknowledgements dropped because their connection had gone; the broker redelivers those messages.", "counter", AcknowledgementsSkipped));
        samples.Add(new("sensing_qos0_dropped_total", "QoS 0 messages dropped because ingest's queue was full (at most once, as published).", "counter", s.Qos0Dropped));
    }
}
