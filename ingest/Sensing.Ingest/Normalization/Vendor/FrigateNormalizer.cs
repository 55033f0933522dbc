using System.Buffers.Text;
using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Frigate NVR (object detection on camera streams), topic prefix <c>frigate</c> (Frigate's <c>topic_prefix</c>; any
/// first segment is accepted, so another prefix only needs another filter in <c>Ingest:Formats</c>):
/// <list type="bullet">
/// <item><c>frigate/events</c> — <c>{"type":"new"|"update"|"end","before":{…},"after":{"id","camera","label","top_score",
/// "false_positive","start_time","current_zones":[…],…}}</c>. A <c>new</c> tracked object is one detection:
/// <c>camera.person</c>/<c>camera.vehicle</c>/<c>camera.smoke</c>/<c>camera.fire</c> = 1 at its <c>start_time</c>, label
/// the first current zone, attributes score and Frigate's event id. <c>update</c> and <c>end</c> describe the same
/// object again and are skipped, so an object is counted once; so are labels outside the canonical vocabulary
/// (dog, cat, package…) and false positives. A redelivered <c>new</c> has the same start time: the same store key.</item>
/// <item><c>frigate/&lt;camera&gt;/&lt;object&gt;</c> — the number of such objects in view now (plain text); for a
/// registered camera it becomes the same metric with that count, like a native camera's <c>count</c>. The same topic
/// shape carries zone counts, so an unregistered name here is skipped, not quarantined.</item>
/// <item><c>frigate/available</c> — <c>online</c>/<c>offline</c> of Frigate itself: every registered <c>frigate:</c>
/// camera goes <c>camera.online</c>/<c>camera.offline</c> at the receive time (Frigate down means its cameras are dark).</item>
/// <item><c>frigate/stats</c> — every stats interval; a camera with <c>camera_fps</c> &gt; 0 is <c>camera.online</c>, else
/// <c>camera.offline</c>, at <c>service.last_updated</c>: the heartbeat the cockpit's "cameras online" tile needs.</item>
/// </list>
/// Everything else under the prefix (snapshots — JPEG bytes —, <c>…/state</c> and <c>…/set</c> topics, reviews,
/// motion) is skipped on purpose. Source id: <c>frigate:&lt;camera name&gt;</c>.
/// </summary>
public sealed class FrigateNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "frigate";
    private const int MaxName = 64;

    private readonly AttributeWriter _attributes = new();
    private readonly StringInterner _zones = new(capacity: 1024);
    private readonly char[] _camera = new char[MaxName];
    private readonly char[] _label = new char[MaxName];
    private readonly char[] _eventId = new char[MaxName];
    private readonly char[] _names = new char[MaxName * 64];
    private readonly (int Start, int Length, double Fps)[] _cameras = new (int, int, double)[64];

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[5];
        var segments = topic.Split(parts, '/');
        if (segments == 2)
        {
            var what = topic[parts[1]];
            if (what.SequenceEqual("events")) return Event(message, readings);
            if (what.SequenceEqual("available")) return Available(message, readings);
            if (what.SequenceEqual("stats")) return Stats(message, readings);
            return null;   // reviews, tracked_object_update, camera_activity, restart…
        }
        if (segments == 3)
        {
            return Count(message, topic[parts[1]], topic[parts[2]], readings);
        }
        return null;   // …/snapshot, …/state, …/set, …/active
    }

    /// <summary>Frigate's labels in the canonical camera vocabulary; null for the rest.</summary>
    private static string? MetricOf(ReadOnlySpan<char> label) => label switch
    {
        "person" => "camera.person",
        "car" or "truck" or "bus" or "motorcycle" or "bicycle" or "license_plate" => "camera.vehicle",
        "smoke" => "camera.smoke",
        "fire" => "camera.fire",
        _ => null,
    };

    private string? Event(in IncomingMessage message, List<Reading> readings)
    {
        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "frigate: " + notObject;
        var type = EventType.Missing;
        var after = new After();
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.TokenType != JsonTokenType.String ? EventType.Wrong
                    : reader.ValueTextEquals("new"u8) ? EventType.New
                    : reader.ValueTextEquals("update"u8) ? EventType.Update
                    : reader.ValueTextEquals("end"u8) ? EventType.End
                    : EventType.Wrong;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("after"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "frigate: 'after' must be an object"; continue; }
                after.Present = true;
                error = First(error, ReadAfter(ref reader, ref after));
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (EndOfPayload(ref reader) is { } trailing) return "frigate: " + trailing;
        if (type == EventType.Missing) return "frigate: event has no 'type'";
        if (type == EventType.Wrong) return "frigate: 'type' must be new, update or end";
        if (!after.Present) return "frigate: event has no 'after' object";
        if (error is not null) return error;
        if (after.CameraLength == 0) return "frigate: after.camera is missing";
        if (after.LabelLength == 0) return "frigate: after.label is missing";
        if (after.Start is not { } start) return "frigate: after.start_time is missing";
        // One tracked object is one detection: count it when it is new, not again for each update and its end.
        if (type != EventType.New || after.FalsePositive) return null;
        var label = _label.AsSpan(0, after.LabelLength);
        if (MetricOf(label) is not { } metric) return null;

        if (!Context.TryFind(Name, Name, _camera.AsSpan(0, after.CameraLength), message, out var device, out var reason)) return reason;
        if (VendorContext.KindMismatch(Name, device, DeviceKind.Camera) is { } refused) return refused;
        if (after.Score is { } score) _attributes.Number("score"u8, score);
        if (after.IdLength > 0) _attributes.String("frigate_id"u8, _eventId.AsSpan(0, after.IdLength));
        if (metric == "camera.vehicle") _attributes.String("label"u8, label);
        readings.Add(new Reading(device.Id, device.Community, device.Grid, null, metric, start, 1, after.Zone, _attributes.Take()));
        return null;
    }

    private enum EventType { Missing, Wrong, New, Update, End }

    private struct After
    {
        public bool Present, FalsePositive;
        public int CameraLength, LabelLength, IdLength;
        public double? Score;
        public DateTimeOffset? Start;
        public string? Zone;
    }

    private string? ReadAfter(ref Utf8JsonReader reader, ref After after)
    {
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("camera"u8))
            {
                reader.Read();
                if (!TryChars(ref reader, _camera, out after.CameraLength)) error ??= "frigate: after.camera must be a camera name (a string of at most 64 characters)";
            }
            else if (reader.ValueTextEquals("label"u8))
            {
                reader.Read();
                if (!TryChars(ref reader, _label, out after.LabelLength)) error ??= "frigate: after.label must be a string";
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (!TryChars(ref reader, _eventId, out after.IdLength)) after.IdLength = 0;
            }
            else if (reader.ValueTextEquals("top_score"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (!TryNumber(ref reader, out var score)) error ??= "frigate: after.top_score must be a number";
                else after.Score = score;
            }
            else if (reader.ValueTextEquals("false_positive"u8))
            {
                reader.Read();
                if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) after.FalsePositive = reader.GetBoolean();
                else { reader.Skip(); error ??= "frigate: after.false_positive must be true or false"; }
            }
            else if (reader.ValueTextEquals("start_time"u8))
            {
                reader.Read();
                if (!TryNumber(ref reader, out var seconds)) error ??= "frigate: after.start_time must be Unix seconds (a number)";
                else if (!VendorTime.TryFromUnixSeconds(seconds, out var start)) error ??= "frigate: after.start_time out of range (years 2000–2099)";
                else after.Start = start;
            }
            else if (reader.ValueTextEquals("current_zones"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray) { reader.Skip(); error ??= "frigate: after.current_zones must be an array"; continue; }
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String) { reader.Skip(); error ??= "frigate: after.current_zones must hold zone names"; continue; }
                    if (after.Zone is null)
                    {
                        var zone = _zones.Intern(ref reader);
                        if (!NativeNormalizer.IsCleanText(zone)) error ??= "frigate: zone names must not contain control characters";
                        else after.Zone = zone;
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

    private string? Count(in IncomingMessage message, ReadOnlySpan<char> camera, ReadOnlySpan<char> objectName, List<Reading> readings)
    {
        if (MetricOf(objectName) is not { } metric) return null;   // motion, review_status, all, dog…
        var payload = message.Payload.Span.Trim(" \r\n\t"u8);
        if (!Utf8Parser.TryParse(payload, out int count, out var consumed) || consumed != payload.Length || count < 0)
        {
            return $"frigate: an object count must be a non-negative whole number, got {Preview(payload)}";
        }
        Span<char> source = stackalloc char[VendorContext.MaxSourceLength];
        if (!"frigate:".TryCopyTo(source) || !camera.TryCopyTo(source[8..])) return null;
        // Zones publish counts on the same topic shape: an unregistered name is not necessarily a camera.
        if (Context.Registry.FindBySource(source[..(8 + camera.Length)]) is not { } device) return null;
        if (VendorContext.KindMismatch(Name, device, DeviceKind.Camera) is { } refused) return refused;
        readings.Add(new Reading(device.Id, device.Community, device.Grid, null, metric, message.ReceivedAt, count));
        return null;
    }

    private string? Available(in IncomingMessage message, List<Reading> readings)
    {
        var payload = message.Payload.Span.Trim(" \r\n\t"u8);
        string metric;
        if (payload.SequenceEqual("online"u8)) metric = Metrics.CameraOnline;
        else if (payload.SequenceEqual("offline"u8)) metric = Metrics.CameraOffline;
        else return $"frigate: availability must be online or offline, got {Preview(payload)}";
        foreach (var device in Context.Registry.Devices)
        {
            if (device.Kind == DeviceKind.Camera && device.Source is { } source && source.StartsWith("frigate:", StringComparison.Ordinal))
            {
                readings.Add(new Reading(device.Id, device.Community, device.Grid, null, metric, message.ReceivedAt, 1));
            }
        }
        return null;
    }

    private string? Stats(in IncomingMessage message, List<Reading> readings)
    {
        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "frigate: " + notObject;
        var cameras = 0;
        var used = 0;
        DateTimeOffset? updated = null;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("cameras"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "frigate: stats 'cameras' must be an object"; continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var length = 0;
                    var named = cameras < _cameras.Length && TryChars(ref reader, _names.AsSpan(used, MaxName), out length);
                    reader.Read();
                    if (!named || reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                    var fps = 0d;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isFps = reader.ValueTextEquals("camera_fps"u8);
                        reader.Read();
                        if (isFps && TryNumber(ref reader, out var value)) fps = value;
                        else reader.Skip();
                    }
                    _cameras[cameras++] = (used, length, fps);
                    used += length;
                }
            }
            else if (reader.ValueTextEquals("service"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isUpdated = reader.ValueTextEquals("last_updated"u8);
                    reader.Read();
                    if (isUpdated && TryNumber(ref reader, out var seconds) && VendorTime.TryFromUnixSeconds(seconds, out var at)) updated = at;
                    else reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (EndOfPayload(ref reader) is { } trailing) return "frigate: " + trailing;
        if (error is not null) return error;
        var time = updated ?? message.ReceivedAt;
        for (var i = 0; i < cameras; i++)
        {
            var (start, length, fps) = _cameras[i];
            // A heartbeat for many cameras: an unknown one is listed in quarantine, the known ones still count as seen.
            if (!Context.TryFind(Name, Name, _names.AsSpan(start, length), message, out var device, out _, listOnly: true)) continue;
            if (device.Kind != DeviceKind.Camera) continue;
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, fps > 0 ? Metrics.CameraOnline : Metrics.CameraOffline, time, 1));
        }
        return null;
    }

    /// <summary>A short payload quoted in the reason; control characters (a line break) are folded, as a reason is one line.</summary>
    private static string Preview(ReadOnlySpan<byte> payload) =>
        payload.Length <= 32 && System.Text.Unicode.Utf8.IsValid(payload)
            ? "'" + string.Create(System.Text.Encoding.UTF8.GetCharCount(payload), payload.ToArray(), static (chars, bytes) =>
            {
                System.Text.Encoding.UTF8.GetChars(bytes, chars);
                for (var i = 0; i < chars.Length; i++) if (char.IsControl(chars[i])) chars[i] = ' ';
            }) + "'"
            : $"{payload.Length} bytes";
}
