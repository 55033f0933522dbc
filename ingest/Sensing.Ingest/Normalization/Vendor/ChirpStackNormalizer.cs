using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// ChirpStack v4 LoRaWAN network server, MQTT integration with the JSON marshaler: topic
/// <c>application/&lt;application id&gt;/device/&lt;DevEUI&gt;/event/up</c>, payload
/// <code>{"deduplicationId":"…","time":"2026-11-20T07:15:00.123+08:00","deviceInfo":{"devEui":"0004a30b001c0530","deviceName":"…",…},
///  "fCnt":42,"fPort":2,"data":"base64…","object":{"occupied":true},"rxInfo":[…],"txInfo":{…}}</code>
/// The device is <c>chirpstack:&lt;DevEUI, lower-case hex&gt;</c>; <c>object</c> (set when the device profile has a
/// codec) is read with the vocabulary of <see cref="DecodedPayload"/> (parking occupancy or free/capacity, water and
/// energy registers with explicit units). The reading time is <c>time</c> (the network server's receive time),
/// else the broker's. The frame counter is kept as an attribute, not used for order: it restarts at every OTAA
/// join, while duplicates and late deliveries are already handled by time (same time, same store key; a late
/// register yields no consumption). An uplink without a decoded object but with data means no codec is configured:
/// refused with that reason; one without either (a MAC-only frame on port 0) and one whose object has none of the
/// vocabulary (a battery status frame) are skipped.
/// </summary>
public sealed class ChirpStackNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "chirpstack";

    private readonly DecodedPayload _decoded = new();

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[7];
        if (topic.Split(parts, '/') != 6 || !topic[parts[0]].SequenceEqual("application") || !topic[parts[2]].SequenceEqual("device")
            || !topic[parts[4]].SequenceEqual("event") || !topic[parts[5]].SequenceEqual("up"))
        {
            return "chirpstack: topic must be application/<application>/device/<DevEUI>/event/up";
        }
        var topicEui = topic[parts[3]];

        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "chirpstack: " + notObject;
        Span<char> eui = stackalloc char[16];
        var euiLength = 0;
        DateTimeOffset? time = null;
        long? fCnt = null;
        bool hasObject = false, hasData = false;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("time"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (!VendorTime.TryRead(ref reader, Context.TimeZone, out var at, out var local) || local) { reader.Skip(); error ??= "chirpstack: 'time' must be an RFC 3339 time with an offset"; }
                else if (!VendorTime.InRange(at)) error ??= "chirpstack: 'time' out of range (years 2000–2099)";
                else time = at;
            }
            else if (reader.ValueTextEquals("deviceInfo"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "chirpstack: 'deviceInfo' must be an object"; continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isEui = reader.ValueTextEquals("devEui"u8);
                    reader.Read();
                    if (!isEui) { reader.Skip(); continue; }
                    if (!TryChars(ref reader, eui, out euiLength) || !IsEui(eui[..euiLength])) error ??= "chirpstack: deviceInfo.devEui must be 16 hex digits";
                }
            }
            else if (reader.ValueTextEquals("fCnt"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var counter) && counter >= 0) fCnt = counter;
                else { reader.Skip(); error ??= "chirpstack: 'fCnt' must be a non-negative whole number"; }
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                hasData = reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("object"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "chirpstack: 'object' must be a JSON object (the codec's output)"; continue; }
                hasObject = true;
                error = First(error, _decoded.Read(ref reader, Name, "object"));
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (EndOfPayload(ref reader) is { } trailing) return "chirpstack: " + trailing;
        if (error is not null) return error;
        if (!hasObject)
        {
            return hasData ? "chirpstack: uplink has data but no decoded 'object': configure a codec in the device profile (see the vendor formats in the README)" : null;
        }
        if (!_decoded.HasReadings) return null;
        if (euiLength == 0)
        {
            if (!IsEui(topicEui)) return "chirpstack: no deviceInfo.devEui and the topic's DevEUI is not 16 hex digits";
        }
        else if (!topicEui.Equals(eui[..euiLength], StringComparison.OrdinalIgnoreCase))
        {
            return $"chirpstack: deviceInfo.devEui {eui[..euiLength].ToString()} differs from the topic's {topicEui.ToString()}";
        }
        var id = euiLength == 0 ? topicEui : eui[..euiLength];
        if (!Context.TryFind(Name, Name, id, message, out var device, out var reason, lowerCase: true)) return reason;
        return _decoded.Emit(Name, "object", device, time ?? message.ReceivedAt, fCnt, readings);
    }

    internal static bool IsEui(ReadOnlySpan<char> text) => text.Length == 16 && !text.ContainsAnyExcept("0123456789abcdefABCDEF");
}
