using MQTTnet;
using MQTTnet.Protocol;

namespace Sensing.Testing;

/// <summary>
/// Publishes many messages fast, as a fleet of devices would: over several connections, each keeping up to a window
/// of QoS 1 publishes in flight (one awaited PUBACK at a time would be a round trip per message). A topic always goes
/// through the same connection, in the order given, so one device's messages reach the broker in order.
/// </summary>
public static class FeedPublisher
{
    public static async Task PublishAsync(IReadOnlyList<IMqttClient> clients, IReadOnlyList<(string Topic, byte[] Payload)> messages,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, int window = 1000, CancellationToken cancellationToken = default)
    {
        var lanes = new List<(string Topic, byte[] Payload)>[clients.Count];
        for (var i = 0; i < lanes.Length; i++) lanes[i] = [];
        foreach (var message in messages)
        {
            lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(message.Topic) % (uint)clients.Count)].Add(message);
        }
        await Task.WhenAll(clients.Select((client, i) => PublishLaneAsync(client, lanes[i], qos, window, cancellationToken)));
    }

    private static async Task PublishLaneAsync(IMqttClient client, List<(string Topic, byte[] Payload)> messages, MqttQualityOfServiceLevel qos, int window, CancellationToken cancellationToken)
    {
        using var inFlight = new SemaphoreSlim(window);
        var pending = new List<Task>(messages.Count);
        string? refused = null;
        foreach (var (topic, payload) in messages)
        {
            await inFlight.WaitAsync(cancellationToken);
            var publish = client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build(), cancellationToken);
            pending.Add(publish.ContinueWith(t =>
            {
                inFlight.Release();
                if (t.IsCompletedSuccessfully && !t.Result.IsSuccess) refused ??= $"{topic}: {t.Result.ReasonCode} {t.Result.ReasonString}";
                return t;
            }, TaskScheduler.Default).Unwrap());
        }
        await Task.WhenAll(pending);
        if (refused is not null) throw new InvalidOperationException($"The broker refused a publish: {refused}");
    }
}
