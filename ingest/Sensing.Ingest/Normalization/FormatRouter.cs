using MQTTnet;

namespace Sensing.Ingest.Normalization;

/// <summary>
/// Picks the normalizer for a topic by MQTT topic filter (<c>sensing/#</c> → native, <c>tele/+/SENSOR</c> → tasmota…).
/// When filters overlap, the more specific one wins, whatever order configuration listed them in: filters are
/// compared level by level from the left, and at the first level where they differ a literal beats <c>+</c>, which
/// beats <c>#</c>. So <c>sensing/#</c> wins over <c>+/status/#</c> for <c>sensing/status/…</c>: a community named
/// "status" stays native.
/// </summary>
public sealed class FormatRouter
{
    private readonly (string Filter, IPayloadNormalizer Normalizer)[] _routes;

    public FormatRouter(IReadOnlyList<(string Filter, IPayloadNormalizer Normalizer)> routes)
    {
        _routes = [.. routes];
        Array.Sort(_routes, (a, b) => CompareSpecificity(a.Filter, b.Filter));
    }

    /// <summary>The filters in the order they are tried.</summary>
    public IEnumerable<string> Filters => _routes.Select(r => r.Filter);

    public IPayloadNormalizer? Find(string topic)
    {
        foreach (var (filter, normalizer) in _routes)
        {
            if (MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                return normalizer;
            }
        }
        return null;
    }

    /// <summary>Negative when <paramref name="a"/> is more specific than <paramref name="b"/> (it is tried first).</summary>
    public static int CompareSpecificity(string a, string b)
    {
        var x = a.Split('/');
        var y = b.Split('/');
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            var rank = Rank(x[i]).CompareTo(Rank(y[i]));
            if (rank != 0) return rank;
        }
        // Same shape as far as both go: the longer one is narrower (a/b/c before a/b/#… is decided above; a/b/c before a/b).
        var length = y.Length.CompareTo(x.Length);
        return length != 0 ? length : string.CompareOrdinal(a, b);
    }

    private static int Rank(string level) => level switch { "#" => 2, "+" => 1, _ => 0 };
}
