using System.Buffers;
using Microsoft.Extensions.Logging;
using Sensing.Ingest.Pipeline;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// How a message off MQTT enters ingest's queue, the same whether ingest's own client read it off a broker
/// (<see cref="MqttIntake"/>) or the embedded broker handed it over in process (<see cref="InProcessIntake"/>): its
/// payload copied into a pooled buffer (only the head when it is over <c>Ingest:MaxPayloadBytes</c>, kept for the
/// dead letter), and QoS 0 shed, counted and logged while the queue has no room for it.
/// </summary>
internal sealed class QueueEntrance
{
    private readonly IngestQueue _queue;
    private readonly BrokerConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _maxPayloadBytes;
    // Queue depth from which QoS 0 messages are shed (int.MaxValue: never, without flow control).
    private readonly int _qos0Room = int.MaxValue;
    // UTC ticks of the last drop logged; publishers' connections shed concurrently with the in-process intake.
    private long _lastDropReport;

    public QueueEntrance(IngestQueue queue, IngestOptions ingest, MqttOptions mqtt, BrokerConnection connection, TimeProvider time, ILogger logger)
    {
        _queue = queue;
        _connection = connection;
        _time = time;
        _logger = logger;
        _maxPayloadBytes = ingest.MaxPayloadBytes;
        if (mqtt.ReceiveMaximum > 0)
        {
            // QoS 1 needs at most Receive Maximum places (the broker sends no more unacknowledged); QoS 0 may use the
            // rest, so it never makes a QoS 1 message wait, and never fills what QoS 1 is owed.
            _qos0Room = Math.Max(ingest.QueueCapacity - mqtt.ReceiveMaximum, ingest.QueueCapacity / 2);
        }
    }

    /// <summary>
    /// True (and counted, and logged now and then) when a QoS 0 message must be dropped: the queue is as full as QoS 0
    /// may make it (a burst faster than the store). QoS 0 is at most once by the publisher's choice, and the protocol has
    /// no flow control for it, so the only alternatives are memory without bound, or to stop reading the connection,
    /// which holds the broker's PINGRESP behind the backlog until the keep-alive gives up and the broker drops its whole
    /// queue for us (measured: a third of a 300,000-message burst lost that way; benchmarks/README.md).
    /// </summary>
    public bool ShedsQos0()
    {
        if (_queue.Depth < _qos0Room) return false;
        var dropped = _connection.Qos0Dropped();
        var now = _time.GetUtcNow().UtcTicks;
        var last = Interlocked.Read(ref _lastDropReport);
        if ((dropped == 1 || now - last > TimeSpan.TicksPerMinute) && Interlocked.CompareExchange(ref _lastDropReport, now, last) == last)
        {
            _logger.LogWarning("Ingest's queue is full: QoS 0 messages are dropped until it has room ({Dropped} so far); devices whose messages must arrive should publish with QoS 1",
                dropped);
        }
        return true;
    }

    /// <summary>The message as the pipeline takes it, with its own copy of the payload (MQTTnet reuses its buffers).</summary>
    public PendingMessage Message(string topic, ReadOnlySequence<byte> payload, Func<CancellationToken, Task>? acknowledge)
    {
        var receivedAt = _time.GetUtcNow();
        if (payload.Length > _maxPayloadBytes)
        {
            // Too large to read: keep the head for the dead letter and let the pipeline record the reason.
            var head = payload.Slice(0, Math.Min(payload.Length, DeadLetter.MaxPayloadBytes)).ToArray();
            return new OversizedMessage(topic, head, (int)payload.Length, receivedAt, acknowledge);
        }
        if (payload.IsSingleSegment)
        {
            return new PendingMessage(topic, payload.FirstSpan, receivedAt, acknowledge);
        }
        var copy = ArrayPool<byte>.Shared.Rent((int)payload.Length);
        try
        {
            payload.CopyTo(copy);
            return new PendingMessage(topic, copy.AsSpan(0, (int)payload.Length), receivedAt, acknowledge);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>Waits while the queue is full: that wait is the backpressure that keeps the rest at the broker, or at the devices.</summary>
    public async ValueTask EnterAsync(PendingMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.EnqueueAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Not taken (stopping, or the publisher went away): the message stays unacknowledged, its pooled copy goes back.
            message.ReleasePayload();
            throw;
        }
    }
}
