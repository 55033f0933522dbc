using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// The Things Stack v3 (The Things Network, TTS Cloud/Enterprise) MQTT server: topic
/// <c>v3/&lt;application id&gt;@&lt;tenant id&gt;/devices/&lt;device id&gt;/up</c>, payload
/// <code>{"end_device_ids":{"device_id":"park-017","application_ids":{"application_id":"parking"},"dev_eui":"0004A30B001C0530",…},
///  "received_at":"2026-11-19T23:15:00.123456789Z","uplink_message":{"f_port":1,"f_cnt":42,"frm_payload":"…",
///  "decoded_payload":{"occupied":true},"rx_metadata":[…],"received_at":"…"}}</code>
/// The device is <c>tts:&lt;dev_eui, lower-case hex&gt;</c>, or <c>tts:&lt;device id&gt;</c> when the uplink carries no
/// DevEUI (ABP devices may not). <c>decoded_payload</c> (set by the payload formatter) is read with the vocabulary of
/// <see cref="DecodedPayload"/>. Time: <c>uplink_message.received_at</c> (network server), else the top-level
/// <c>received_at</c>, else the broker's; nanosecond fractions are cut to the 100 ns .NET keeps. Frame counter,
/// duplicates and missing formatter: as for <see cref="ChirpStackNormalizer"/>.
/// </summary>
public sealed class TheThingsStackNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "tts";

    private readonly DecodedPayload _decoded = new();

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[6];
        if (topic.Split(parts, '/') != 5 || !topic[parts[0]].SequenceEqual("v3") || !topic[parts[2]].SequenceEqual("devices") || !topic[parts[4]].SequenceEqual("up"))
        {
            return "tts: topic must be v3/<application>@<tenant>/devices/<device>/up";
        }
        var deviceId = topic[parts[3]];

        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "tts: " + notObject;
        Span<char> eui = stackalloc char[16];
        var euiLength = 0;
        DateTimeOffset? published = null, received = null;
        long? fCnt = null;
        bool hasUplink = false, hasObject = false, hasData = false;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("end_device_ids"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "tts: 'end_device_ids' must be an object"; continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isEui = reader.ValueTextEquals("dev_eui"u8);
                    reader.Read();
                    if (!isEui) { reader.Skip(); continue; }
                    if (!TryChars(ref reader, eui, out euiLength) || !ChirpStackNormalizer.IsEui(eui[..euiLength])) error ??= "tts: end_device_ids.dev_eui must be 16 hex digits";
                }
            }
            else if (reader.ValueTextEquals("received_at"u8))
            {
                reader.Read();
                error = First(error, Time(ref reader, "received_at", ref published));
            }
            else if (reader.ValueTextEquals("uplink_message"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "tts: 'uplink_message' must be an object"; continue; }
                hasUplink = true;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("received_at"u8))
                    {
                        reader.Read();
                        error = First(error, Time(ref reader, "uplink_message.received_at", ref received));
                    }
                    else if (reader.ValueTextEquals("f_cnt"u8))
                    {
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var counter) && counter >= 0) fCnt = counter;
                        else { reader.Skip(); error ??= "tts: uplink_message.f_cnt must be a non-negative whole number"; }
                    }
                    else if (reader.ValueTextEquals("frm_payload"u8))
                    {
                        reader.Read();
                        hasData = reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0;
                        reader.Skip();
                    }
                    else if (reader.ValueTextEquals("decoded_payload"u8))
                    {
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.Null) continue;
                        if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "tts: uplink_message.decoded_payload must be a JSON object"; continue; }
                        hasObject = true;
                        error = First(error, _decoded.Read(ref reader, Name, "decoded_payload"));
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (EndOfPayload(ref reader) is { } trailing) return "tts: " + trailing;
        if (error is not null) return error;
        if (!hasUplink) return "tts: message has no 'uplink_message'";
        if (!hasObject)
        {
            return hasData ? "tts: uplink has frm_payload but no decoded_payload: configure a payload formatter for the device (see the vendor formats in the README)" : null;
        }
        if (!_decoded.HasReadings) return null;
        var id = euiLength > 0 ? eui[..euiLength] : deviceId;
        if (!Context.TryFind(Name, Name, id, message, out var device, out var reason, lowerCase: euiLength > 0)) return reason;
        return _decoded.Emit(Name, "decoded_payload", device, received ?? published ?? message.ReceivedAt, fCnt, readings);
    }

    private static string? Time(ref Utf8JsonReader reader, string field, ref DateTimeOffset? time)
    {
        if (!VendorTime.TryRead(ref reader, TimeZoneInfo.Utc, out var at, out var local) || local)
        {
            reader.Skip();
            return $"tts: {field} must be an RFC 3339 time with an offset";
        }
        if (!VendorTime.InRange(at)) return $"tts: {field} out of range (years 2000–2099)";
        time = at;
        return null;
    }
}
