using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Ingest.Pipeline;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// Ingest's intake beside the embedded broker (<c>Mqtt:Embedded=true</c> with <c>Mqtt:EmbeddedIntake=InProcess</c>, the
/// default): the broker hands each message on ingest's topics to ingest's queue from the publisher's own connection
/// (<see cref="EmbeddedBroker"/>), instead of queueing it for ingest's client, writing it to a loopback socket, reading
/// it back and matching the acknowledgement to it. That trip, in one process, cost about a third of the service's CPU
/// at 12,000 msg/s QoS 1 (benchmarks/README.md).
/// <para>
/// Delivery stays at least once from the device to the store. The broker acknowledges a QoS 1 message once it is in
/// ingest's queue, where it acknowledged it before once it was in ingest's session at the broker: both are this
/// process's memory, gone with it, and the pipeline makes the queue durable (store or spool) as it did. While the queue
/// is full the broker reads no further from that publisher's connection, so the device holds its unacknowledged
/// messages and sends them when there is room, rather than the broker holding them up to
/// <c>Mqtt:MaxPendingMessagesPerClient</c> and then dropping. QoS 0 is shed and counted beyond its share of the queue,
/// as with a broker client (<see cref="QueueEntrance"/>).
/// </para>
/// </summary>
public sealed class InProcessIntake
{
    private readonly QueueEntrance _entrance;
    private readonly IngestMetrics _metrics;
    private readonly BrokerConnection _connection;
    private readonly TimeProvider _time;
    private readonly string[] _filters;

    public InProcessIntake(IOptions<MqttOptions> mqtt, IOptions<IngestOptions> ingest, IngestQueue queue, IngestMetrics metrics,
        BrokerConnection connection, TimeProvider time, ILogger<InProcessIntake> logger)
    {
        _entrance = new QueueEntrance(queue, ingest.Value, mqtt.Value, connection, time, logger);
        _metrics = metrics;
        _connection = connection;
        _time = time;
        // What ingest's client would subscribe to (the embedded broker refuses a shared group, so no $share prefix).
        _filters = [.. MqttIntake.SubscriptionFilters(mqtt.Value)];
    }

    /// <summary>The topic filters whose messages ingest takes.</summary>
    public IReadOnlyList<string> Filters => _filters;

    /// <summary>True when <paramref name="topic"/> is one ingest reads (<c>Mqtt:Topics</c>, <c>Mqtt:UnsharedTopics</c>, the formats' filters).</summary>
    public bool Reads(string topic)
    {
        foreach (var filter in _filters)
        {
            if (MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch) return true;
        }
        return false;
    }

    /// <summary>
    /// Takes a message the broker has accepted from a publisher; returns once it is in ingest's queue (or shed, for
    /// QoS 0), waiting while the queue is full. Cancelled when the publisher's connection closes: the message is then
    /// not taken, and a QoS 1 publisher, unacknowledged, sends it again.
    /// </summary>
    public ValueTask TakeAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        _metrics.Received();
        if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce && _entrance.ShedsQos0()) return ValueTask.CompletedTask;
        return _entrance.EnterAsync(_entrance.Message(message.Topic, message.Payload, acknowledge: null), cancellationToken);
    }

    /// <summary>The broker listens: for <c>/healthz</c> ingest is now connected to it, for as long as it runs.</summary>
    internal void Opened()
    {
        _connection.Connected(_time.GetUtcNow(), sessionPresent: null, _filters, inProcess: true);
        _metrics.SetBrokerConnected(true);
    }

    internal void Closed()
    {
        _connection.Disconnected(_time.GetUtcNow(), "the embedded broker stopped");
        _metrics.SetBrokerConnected(false);
    }
}
