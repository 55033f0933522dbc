using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Hikvision access controllers and face-recognition terminals (DS-K1T…, DS-K26xx; the 海康威视 gates most Chinese
/// residential compounds already have), chosen as the access-gate vendor because they dominate that market and their
/// ISAPI event notification is documented, JSON, and pushed by the device itself. The device pushes
/// <c>EventNotificationAlert</c> to an HTTP host (ISAPI <c>httpHosts</c>, or arming on <c>alertStream</c>); a small
/// HTTP→MQTT bridge (or a newer device's own MQTT client) publishes each body unchanged on
/// <c>hikvision/&lt;device&gt;/event</c>:
/// <code>{"ipAddress":"10.0.0.31","macAddress":"…","dateTime":"2026-11-20T07:15:00+08:00","eventType":"AccessControllerEvent",
///  "eventState":"active","AccessControllerEvent":{"majorEventType":5,"subEventType":75,"cardReaderNo":1,"doorNo":1,
///  "serialNo":1842,"currentVerifyMode":"cardOrFace","name":"…","employeeNoString":"…"}}</code>
/// (also accepted wrapped in <c>{"EventNotificationAlert":{…}}</c>). Only major type 5 (events) is read, minor types:
/// <list type="bullet">
/// <item><c>gate.pass</c> — an authentication passed: card 0x01, card+PIN 0x02, fingerprint 0x26, face 0x4b, QR 0x9c,
/// PIN 0xb5 and the combined modes (0x10, 0x28, 0x2b, 0x2e, 0x36, 0x39, 0x3c, 0x3f, 0x42, 0x45, 0x48, 0x4d, 0x69, 0x99, 0x9e, 0x9f);</item>
/// <item><c>gate.denied</c> — it failed: no right 0x06, outside schedule 0x07, expired 0x08, unknown card 0x09, anti-passback
/// 0x0a, face 0x4c/0x50, fingerprint 0x27/0x31, QR 0x9d, liveness 0x68, blocklist 0x71, PIN 0x96/0x97 and the combined modes;</item>
/// <item><c>gate.forced</c> — door opened abnormally 0x1b, forced or climbed turnstile 0x87/0x88;</item>
/// <item><c>gate.held_open</c> — door open timeout 0x1c.</item>
/// </list>
/// Everything else (lock and door-contact states, buttons, heartbeats, other event types) is skipped on purpose.
/// Direction (the label): card reader 1 (odd) is the entry reader of a door, 2 (even) its exit reader, as Hikvision
/// numbers them; without a reader number (door events, single-reader terminals) it is <c>in</c>. The device is
/// <c>hikvision:&lt;device&gt;</c> for door 1 and <c>hikvision:&lt;device&gt;/&lt;door&gt;</c> for the others. Time is
/// <c>dateTime</c> (local time without an offset is read in <c>Sensing:TimeZone</c>) plus serialNo mod 1000 milliseconds:
/// the device stamps whole seconds, and two passes in one second are two passes, while a redelivered event (same
/// serial) still lands on the same store key. Names, card and employee numbers are never copied into readings.
/// </summary>
public sealed class HikvisionNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "hikvision";

    private readonly AttributeWriter _attributes = new();

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[4];
        if (topic.Split(parts, '/') != 3 || !topic[parts[2]].SequenceEqual("event")) return "hikvision: topic must be hikvision/<device>/event";
        var deviceName = topic[parts[1]];

        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "hikvision: " + notObject;
        var e = new Event();
        var error = ReadAlert(ref reader, ref e, wrapped: false);
        if (error is null && EndOfPayload(ref reader) is { } trailing) return "hikvision: " + trailing;
        if (error is not null) return error;
        if (e.Type == EventType.Missing) return "hikvision: no 'eventType'";
        if (e.Type == EventType.Other) return null;   // heartBeat, videoloss…
        if (!e.HasAccessEvent) return "hikvision: AccessControllerEvent notification without its 'AccessControllerEvent' object";
        if (e.Major is not { } major) return "hikvision: AccessControllerEvent.majorEventType is missing";
        if (e.Minor is not { } minor) return "hikvision: AccessControllerEvent.subEventType is missing";
        if (major != 5 || Classify(minor) is not { } metric) return null;
        // Doors and readers count from 1; a 0 would silently become door 1 (found by fuzzing).
        if (e.Door is 0) return "hikvision: AccessControllerEvent.doorNo must be 1 or more";
        if (e.Reader is 0) return "hikvision: AccessControllerEvent.cardReaderNo must be 1 or more";

        Span<char> doorSource = stackalloc char[VendorContext.MaxSourceLength];
        scoped ReadOnlySpan<char> sourceId = deviceName;
        if (e.Door is > 1 and var door)
        {
            if (!deviceName.TryCopyTo(doorSource) || !door.TryFormat(doorSource[(deviceName.Length + 1)..], out var digits)) return "hikvision: device id is too long";
            doorSource[deviceName.Length] = '/';
            sourceId = doorSource[..(deviceName.Length + 1 + digits)];
        }
        if (!Context.TryFind(Name, Name, sourceId, message, out var device, out var reason)) return reason;
        if (VendorContext.KindMismatch(Name, device, DeviceKind.Gate) is { } refused) return refused;

        var time = e.Time ?? message.ReceivedAt;
        if (e.Serial is { } serial) time = time.AddMilliseconds(serial % 1000);
        var direction = e.Reader is { } readerNo && readerNo % 2 == 0 ? "out" : "in";
        if (Credential(minor) is { } credential) _attributes.String("credential"u8, credential);
        _attributes.Number("event_code"u8, minor);
        if (e.Serial is { } serialNo) _attributes.Number("serial"u8, serialNo);
        readings.Add(new Reading(device.Id, device.Community, device.Grid, null, metric, time, 1, direction, _attributes.Take()));
        return null;
    }

    /// <summary>The gate metric of a major-5 minor type, or null for the events this mapping leaves out.</summary>
    public static string? Classify(long minor) => minor switch
    {
        0x01 or 0x02 or 0x10 or 0x26 or 0x28 or 0x2b or 0x2e or 0x36 or 0x39 or 0x3c or 0x3f or 0x42 or 0x45 or 0x48
            or 0x4b or 0x4d or 0x69 or 0x99 or 0x9c or 0x9e or 0x9f or 0xb5 => Metrics.GatePass,
        0x03 or 0x06 or 0x07 or 0x08 or 0x09 or 0x0a or 0x27 or 0x29 or 0x2c or 0x2f or 0x31 or 0x37 or 0x3a or 0x3d
            or 0x40 or 0x43 or 0x46 or 0x49 or 0x4c or 0x4e or 0x50 or 0x68 or 0x70 or 0x71 or 0x96 or 0x97 or 0x98
            or 0x9d or 0xa0 => Metrics.GateDenied,
        0x1b or 0x87 or 0x88 => Metrics.GateForced,
        0x1c => Metrics.GateHeldOpen,
        _ => null,
    };

    private static string? Credential(long minor) => minor switch
    {
        0x01 or 0x02 or 0x06 or 0x07 or 0x08 or 0x09 => "card",
        0x4b or 0x4c or 0x4d or 0x50 => "face",
        0x9c or 0x9d => "qr",
        _ => null,
    };

    private enum EventType { Missing, Access, Other }

    private struct Event
    {
        public EventType Type;
        public bool HasAccessEvent;
        public DateTimeOffset? Time;
        public long? Major, Minor, Reader, Door, Serial;
    }

    private string? ReadAlert(ref Utf8JsonReader reader, ref Event e, bool wrapped)
    {
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!wrapped && reader.ValueTextEquals("EventNotificationAlert"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "hikvision: 'EventNotificationAlert' must be an object"; continue; }
                error = First(error, ReadAlert(ref reader, ref e, wrapped: true));
            }
            else if (reader.ValueTextEquals("eventType"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String) { reader.Skip(); error ??= "hikvision: 'eventType' must be a string"; continue; }
                e.Type = reader.ValueTextEquals("AccessControllerEvent"u8) ? EventType.Access : EventType.Other;
            }
            else if (reader.ValueTextEquals("dateTime"u8))
            {
                reader.Read();
                if (!VendorTime.TryRead(ref reader, Context.TimeZone, out var at, out _)) { reader.Skip(); error ??= "hikvision: 'dateTime' must be an ISO 8601 time"; }
                else if (!VendorTime.InRange(at)) error ??= "hikvision: 'dateTime' out of range (years 2000–2099; is the device clock set?)";
                else e.Time = at;
            }
            else if (reader.ValueTextEquals("AccessControllerEvent"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "hikvision: 'AccessControllerEvent' must be an object"; continue; }
                e.HasAccessEvent = true;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("majorEventType"u8)) error = First(error, Whole(ref reader, "majorEventType", ref e.Major));
                    else if (reader.ValueTextEquals("subEventType"u8)) error = First(error, Whole(ref reader, "subEventType", ref e.Minor));
                    else if (reader.ValueTextEquals("cardReaderNo"u8)) error = First(error, Whole(ref reader, "cardReaderNo", ref e.Reader));
                    else if (reader.ValueTextEquals("doorNo"u8)) error = First(error, Whole(ref reader, "doorNo", ref e.Door));
                    else if (reader.ValueTextEquals("serialNo"u8)) error = First(error, Whole(ref reader, "serialNo", ref e.Serial));
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
        return error;
    }

    private static string? Whole(ref Utf8JsonReader reader, string field, ref long? value)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) && number >= 0)
        {
            value = number;
            return null;
        }
        reader.Skip();
        return $"hikvision: AccessControllerEvent.{field} must be a non-negative whole number";
    }
}
