using MQTTnet;

namespace Sensing.Ingest.Normalization;

/// <summary>
/// Picks the normalizer for a topic by MQTT topic filter, first match wins
/// (<c>sensing/#</c> → native). Later formats (Frigate, Tasmota…) are added as more routes.
/// </summary>
public sealed class FormatRouter(IReadOnlyList<(string Filter, IPayloadNormalizer Normalizer)> routes)
{
    public IPayloadNormalizer? Find(string topic)
    {
        foreach (var (filter, normalizer) in routes)
        {
            if (MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                return normalizer;
            }
        }
        return null;
    }
}
