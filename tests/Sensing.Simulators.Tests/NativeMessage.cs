using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sensing.Simulators.Tests;

/// <summary>A feed message read back the way ingest will read it, checked against the contract's native format.</summary>
internal sealed partial record NativeMessage(string Community, string Kind, string Device, DateTimeOffset Time, JsonElement Payload)
{
    [GeneratedRegex("^sensing/(?<community>[^/+#]+)/(?<kind>meter|gate|parking|camera)/(?<device>[^/+#]+)$")]
    private static partial Regex TopicPattern();

    public static NativeMessage Parse(FeedMessage message)
    {
        var topic = TopicPattern().Match(message.Topic);
        Assert.True(topic.Success, $"topic {message.Topic} is not sensing/{{community}}/{{kind}}/{{device}}");
        using var document = JsonDocument.Parse(message.Payload);
        var payload = document.RootElement.Clone();
        Assert.Equal(JsonValueKind.Object, payload.ValueKind);

        var ts = payload.GetProperty("ts");
        var time = ts.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeMilliseconds(ts.GetInt64())
            : DateTimeOffset.Parse(ts.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        if (ts.ValueKind == JsonValueKind.String)
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$", ts.GetString()!);
        Assert.Equal(message.Time.ToUnixTimeMilliseconds(), time.ToUnixTimeMilliseconds());

        var kind = topic.Groups["kind"].Value;
        switch (kind)
        {
            case "meter":
                Assert.Contains(payload.GetProperty("type").GetString(), (string[])["water", "electricity"]);
                Assert.True(payload.GetProperty("total").GetDouble() >= 0);
                Assert.StartsWith("h-", payload.GetProperty("household").GetString());
                break;
            case "gate":
                Assert.Contains(payload.GetProperty("event").GetString(), (string[])["pass", "denied", "forced", "held_open"]);
                Assert.Contains(payload.GetProperty("direction").GetString(), (string[])["in", "out"]);
                if (payload.TryGetProperty("credential", out var credential))
                    Assert.Contains(credential.GetString(), (string[])["card", "face", "qr", "plate"]);
                break;
            case "parking":
                Assert.False(string.IsNullOrEmpty(payload.GetProperty("lot").GetString()));
                var free = payload.GetProperty("free").GetInt32();
                var capacity = payload.GetProperty("capacity").GetInt32();
                Assert.InRange(free, 0, capacity);
                break;
            case "camera":
                Assert.Contains(payload.GetProperty("event").GetString(), (string[])["person", "vehicle", "crowd", "intrusion", "smoke", "fire", "online", "offline"]);
                break;
        }
        return new NativeMessage(topic.Groups["community"].Value, kind, topic.Groups["device"].Value, time, payload);
    }

    public string Event => Payload.GetProperty("event").GetString()!;

    public double Total => Payload.GetProperty("total").GetDouble();

    public string Household => Payload.GetProperty("household").GetString()!;
}
