using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Normalization;

/// <summary>
/// The contract's native format: topic <c>sensing/{community}/{kind}/{device}</c>, a flat JSON object payload.
/// Parses with <see cref="Utf8JsonReader"/> straight off the payload bytes; device, community, grid and
/// household strings come from the registry, so a known device's reading allocates nothing but itself.
/// Unknown extra fields are kept verbatim in <see cref="Reading.Attributes"/>.
/// </summary>
public sealed class NativeNormalizer : IPayloadNormalizer
{
    public const string TopicRoot = "sensing";

    // Timestamps outside this range are almost always a unit mistake (epoch seconds sent as milliseconds).
    private static readonly DateTimeOffset s_earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset s_latest = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly JsonReaderOptions s_readerOptions = new() { MaxDepth = 16 };

    /// <summary>
    /// Longest id or label (household, space, lot, zone) kept: they are series keys and tags in every store, and real
    /// ones are a few dozen characters. A 200 KB "zone" would be stored, indexed and pushed to every screen.
    /// </summary>
    public const int MaxLabelLength = 128;

    /// <summary>
    /// Most bytes of unknown fields kept as a reading's attributes. The contract keeps unknown fields, but a device
    /// sending kilobytes of them is broken or hostile: every reading would carry them into the store.
    /// </summary>
    public const int MaxAttributeBytes = 4096;

    private readonly DeviceRegistry _registry;
    private readonly StringInterner _labels = new(capacity: 4096);
    private readonly ArrayBufferWriter<byte> _attributes = new(256);

    public NativeNormalizer(DeviceRegistry registry) => _registry = registry;

    public string Format => "native";

    public string? Normalize(in IncomingMessage message, List<Reading> readings)
    {
        if (!TryParseTopic(message.Topic, out var community, out var kind, out var deviceId, out var topicError))
        {
            return topicError;
        }

        // The contract says UTF-8. Utf8JsonReader does not validate string contents while reading: GetString on
        // invalid UTF-8 throws InvalidOperationException (which escaped this method, breaking "never throws"),
        // and the household and attribute paths would silently turn bad bytes into U+FFFD. One vectorized pass
        // over a few hundred bytes refuses all of it up front with a specific reason.
        if (!System.Text.Unicode.Utf8.IsValid(message.Payload.Span))
        {
            return "payload is not valid UTF-8";
        }

        var fields = new Fields();
        string? error;
        try
        {
            error = ReadFields(message.Payload.Span, ref fields);
        }
        catch (JsonException ex)
        {
            // Utf8JsonReader reports truncation, bad tokens and excessive nesting this way.
            return "malformed JSON: " + JsonProblems.Describe(ex);
        }
        catch (InvalidOperationException ex)
        {
            // Valid UTF-8 can still escape an unpaired surrogate ("\ud800"): reading that string throws (found by fuzzing).
            return "malformed JSON: " + JsonProblems.Describe(ex);
        }
        if (error is not null)
        {
            return error;
        }

        var time = fields.Time ?? message.ReceivedAt;
        var device = _registry.Resolve(deviceId, kind, community);
        var first = readings.Count;
        var refused = kind switch
        {
            DeviceKind.Meter => Meter(device, time, ref fields, readings),
            DeviceKind.Gate => Gate(device, time, ref fields, readings),
            DeviceKind.Parking => Parking(device, time, ref fields, readings),
            _ => Camera(device, time, ref fields, readings),
        };
        // Checked last, so a message that is wrong anyway gets the reason that names its real fault.
        if (refused is null && fields.AttributeBytes > MaxAttributeBytes)
        {
            readings.RemoveRange(first, readings.Count - first);
            return $"unknown fields take {fields.AttributeBytes} bytes, more than the {MaxAttributeBytes} kept as attributes";
        }
        return refused;
    }

    /// <summary>
    /// Splits <c>sensing/{community}/{kind}/{device}</c>. Exactly four non-empty segments:
    /// <c>sensing/c1/meter/wm-1</c> is fine, <c>sensing/c1/meter</c> and <c>sensing/c1/meter/a/b</c> are not.
    /// </summary>
    public static bool TryParseTopic(
        string topic, out ReadOnlySpan<char> community, out DeviceKind kind, out ReadOnlySpan<char> device, out string? error)
    {
        community = default;
        device = default;
        kind = default;
        var rest = topic.AsSpan();
        Span<Range> parts = stackalloc Range[5];
        var count = rest.Split(parts, '/');
        if (count != 4 || !rest[parts[0]].SequenceEqual(TopicRoot))
        {
            error = "topic must be sensing/{community}/{kind}/{device}";
            return false;
        }
        community = rest[parts[1]];
        device = rest[parts[3]];
        if (community.IsEmpty || device.IsEmpty)
        {
            error = "topic has an empty community or device segment";
            return false;
        }
        if (!IsCleanText(community) || !IsCleanText(device))
        {
            error = "topic: community and device ids must not contain control characters or end with a backslash";
            return false;
        }
        if (!DeviceKinds.TryParse(rest[parts[2]], out kind))
        {
            error = $"unknown device kind '{rest[parts[2]].ToString()}' (expected meter, gate, parking or camera)";
            return false;
        }
        error = null;
        return true;
    }

    private string? Meter(Device device, DateTimeOffset time, ref Fields f, List<Reading> readings)
    {
        if (f.Type is null) return f.TypeWrong ? "meter: field 'type' must be a string" : "meter: field 'type' is missing";
        var metric = Metrics.RegisterOf(f.Type);
        if (metric is null) return "meter: field 'type' must be 'water' or 'electricity'";
        if (f.Total is not { } total) return f.TotalWrong ? "meter: field 'total' must be a number" : "meter: field 'total' is missing";
        // Checked before the registry's household stands in: a household sent as an object or number is a broken
        // (or name-carrying) payload, not a missing field.
        if (f.HouseholdNotText) return "meter: field 'household' must be a string";
        if (total < 0) return "meter: field 'total' must not be negative (it is a cumulative register)";
        var household = f.Household ?? device.Household;
        if (household is null) return f.HouseholdWrong ? "meter: field 'household' must be a string" : "meter: field 'household' is missing";
        readings.Add(new Reading(device.Id, device.Community, device.Grid, household, metric, time, total, null, Attributes(ref f)));
        return null;
    }

    private string? Gate(Device device, DateTimeOffset time, ref Fields f, List<Reading> readings)
    {
        if (f.Event is null) return f.EventWrong ? "gate: field 'event' must be a string" : "gate: field 'event' is missing";
        var metric = f.Event switch
        {
            "pass" => Metrics.GatePass,
            "denied" => Metrics.GateDenied,
            "forced" => Metrics.GateForced,
            "held_open" => Metrics.GateHeldOpen,
            _ => null,
        };
        if (metric is null) return "gate: field 'event' must be pass, denied, forced or held_open";
        if (f.Direction is null) return f.DirectionWrong ? "gate: field 'direction' must be a string" : "gate: field 'direction' is missing";
        if (f.Direction is not ("in" or "out")) return "gate: field 'direction' must be 'in' or 'out'";
        if (f.CredentialWrong) return "gate: field 'credential' must be a string";
        if (f.Credential is not (null or "card" or "face" or "qr" or "plate")) return "gate: field 'credential' must be card, face, qr or plate";
        if (f.HouseholdWrong) return "gate: field 'household' must be a string";
        // The credential rides in the attributes: it matters for audits, not for counting passes.
        // It is one of four fixed words, so it needs no escaping.
        if (f.Credential is not null)
        {
            BeginAttribute(ref f, "credential"u8);
            _attributes.Write("\""u8);
            Encoding.UTF8.GetBytes(f.Credential, _attributes);
            _attributes.Write("\""u8);
        }
        readings.Add(new Reading(device.Id, device.Community, device.Grid, f.Household, metric, time, 1, f.Direction, Attributes(ref f)));
        return null;
    }

    private string? Parking(Device device, DateTimeOffset time, ref Fields f, List<Reading> readings)
    {
        if (f.Space is not null || f.Occupied is not null || f.OccupiedWrong)
        {
            if (f.Space is null) return f.SpaceWrong ? "parking: field 'space' must be a string" : "parking: field 'space' is missing";
            if (f.Occupied is not { } occupied) return f.OccupiedWrong ? "parking: field 'occupied' must be true or false" : "parking: field 'occupied' is missing";
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingOccupied, time, occupied ? 1 : 0, f.Space, Attributes(ref f)));
            return null;
        }
        if (f.Lot is null)
        {
            return f.LotWrong ? "parking: field 'lot' must be a string" : "parking: needs either 'space' and 'occupied', or 'lot', 'free' and 'capacity'";
        }
        if (f.Free is not { } free) return f.FreeWrong ? "parking: field 'free' must be a number" : "parking: field 'free' is missing";
        if (f.Capacity is not { } capacity) return f.CapacityWrong ? "parking: field 'capacity' must be a number" : "parking: field 'capacity' is missing";
        if (free < 0 || capacity < 0) return "parking: 'free' and 'capacity' must not be negative";
        if (free > capacity) return "parking: 'free' must not exceed 'capacity'";
        var attributes = Attributes(ref f);
        readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingFree, time, free, f.Lot, attributes));
        readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingCapacity, time, capacity, f.Lot, attributes));
        return null;
    }

    private string? Camera(Device device, DateTimeOffset time, ref Fields f, List<Reading> readings)
    {
        if (f.Event is null) return f.EventWrong ? "camera: field 'event' must be a string" : "camera: field 'event' is missing";
        var metric = f.Event switch
        {
            "person" => "camera.person",
            "vehicle" => "camera.vehicle",
            "crowd" => "camera.crowd",
            "intrusion" => "camera.intrusion",
            "smoke" => "camera.smoke",
            "fire" => "camera.fire",
            "online" => Metrics.CameraOnline,
            "offline" => Metrics.CameraOffline,
            _ => null,
        };
        if (metric is null) return "camera: field 'event' must be person, vehicle, crowd, intrusion, smoke, fire, online or offline";
        if (f.CountWrong) return "camera: field 'count' must be a number";
        if (f.Count is < 0) return "camera: field 'count' must not be negative";
        if (f.Count is { } count && count != Math.Floor(count)) return "camera: field 'count' must be a whole number";
        if (f.ScoreWrong) return "camera: field 'score' must be a number";
        if (f.ZoneWrong) return "camera: field 'zone' must be a string";
        if (f.Score is { } score)
        {
            BeginAttribute(ref f, "score"u8);
            var span = _attributes.GetSpan(32);
            score.TryFormat(span, out var written, "R", CultureInfo.InvariantCulture);
            _attributes.Advance(written);
        }
        readings.Add(new Reading(device.Id, device.Community, device.Grid, null, metric, time, f.Count ?? 1, f.Zone, Attributes(ref f)));
        return null;
    }

    /// <summary>The fields of all four kinds; a <c>…Wrong</c> flag records a field present with the wrong JSON type.</summary>
    private struct Fields
    {
        public DateTimeOffset? Time;
        public string? Type, Household, Event, Direction, Credential, Space, Lot, Zone;
        public double? Total, Free, Capacity, Count, Score;
        public bool? Occupied;
        public bool HouseholdNotText;
        public int AttributeBytes;
        public bool TypeWrong, HouseholdWrong, EventWrong, DirectionWrong, CredentialWrong, SpaceWrong, LotWrong, ZoneWrong;
        public bool TotalWrong, FreeWrong, CapacityWrong, CountWrong, ScoreWrong, OccupiedWrong;
        public bool HasAttributes;
    }

    private string? ReadFields(ReadOnlySpan<byte> payload, ref Fields f)
    {
        var reader = new Utf8JsonReader(payload, s_readerOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return "payload must be a JSON object";
        }
        _attributes.ResetWrittenCount();
        // Big enough for the longest known name fully escaped: "credential" as ten \uXXXX escapes is 60 bytes.
        // (It was 32, so a fully escaped "household" (54 bytes) was filed as an unknown attribute instead.)
        Span<byte> unescaped = stackalloc byte[64];
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                // Trailing content after the object (a second document, garbage) is refused by the next Read.
                if (reader.Read()) return "payload has content after the JSON object";
                f.AttributeBytes = _attributes.WrittenCount;
                return null;
            }
            // reader.TokenType is PropertyName here. Escaped names (legal, rare) are unescaped for matching;
            // the raw form is what an unknown field keeps, and it is valid JSON either way.
            var rawName = reader.ValueSpan;
            scoped ReadOnlySpan<byte> name = rawName;
            if (reader.ValueIsEscaped)
            {
                name = rawName.Length <= unescaped.Length ? unescaped[..reader.CopyString(unescaped)] : [];
            }
            reader.Read();
            if (AssignField(name, ref reader, ref f, out var error))
            {
                if (error is not null) return error;
            }
            else
            {
                KeepAttribute(rawName, payload, ref reader, ref f);
            }
        }
        return "payload is truncated";
    }

    /// <summary>Reads a known field into <paramref name="f"/>; false when the name is not a known field.</summary>
    private bool AssignField(scoped ReadOnlySpan<byte> name, ref Utf8JsonReader reader, ref Fields f, out string? error)
    {
        error = null;
        switch (name.Length)
        {
            case 2 when name.SequenceEqual("ts"u8):
                error = ReadTime(ref reader, out f.Time);
                return true;
            case 4 when name.SequenceEqual("type"u8): ReadString(ref reader, ref f.Type, ref f.TypeWrong); return true;
            case 5 when name.SequenceEqual("total"u8): ReadNumber(ref reader, ref f.Total, ref f.TotalWrong); return true;
            case 9 when name.SequenceEqual("household"u8): ReadHousehold(ref reader, ref f); error = Unclean(f.Household, "household"); return true;
            case 5 when name.SequenceEqual("event"u8): ReadString(ref reader, ref f.Event, ref f.EventWrong); return true;
            case 9 when name.SequenceEqual("direction"u8): ReadString(ref reader, ref f.Direction, ref f.DirectionWrong); return true;
            case 10 when name.SequenceEqual("credential"u8): ReadString(ref reader, ref f.Credential, ref f.CredentialWrong); return true;
            case 5 when name.SequenceEqual("space"u8): ReadLabel(ref reader, ref f.Space, ref f.SpaceWrong); error = Unclean(f.Space, "space"); return true;
            case 8 when name.SequenceEqual("occupied"u8):
                if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) f.Occupied = reader.GetBoolean();
                else { f.OccupiedWrong = true; reader.Skip(); }
                return true;
            case 3 when name.SequenceEqual("lot"u8): ReadLabel(ref reader, ref f.Lot, ref f.LotWrong); error = Unclean(f.Lot, "lot"); return true;
            case 4 when name.SequenceEqual("free"u8): ReadNumber(ref reader, ref f.Free, ref f.FreeWrong); return true;
            case 8 when name.SequenceEqual("capacity"u8): ReadNumber(ref reader, ref f.Capacity, ref f.CapacityWrong); return true;
            case 5 when name.SequenceEqual("count"u8): ReadNumber(ref reader, ref f.Count, ref f.CountWrong); return true;
            case 5 when name.SequenceEqual("score"u8): ReadNumber(ref reader, ref f.Score, ref f.ScoreWrong); return true;
            case 4 when name.SequenceEqual("zone"u8): ReadLabel(ref reader, ref f.Zone, ref f.ZoneWrong); error = Unclean(f.Zone, "zone"); return true;
            default: return false;
        }
    }

    private static string? ReadTime(ref Utf8JsonReader reader, out DateTimeOffset? time)
    {
        time = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (!reader.TryGetInt64(out var ms)) return "ts: epoch milliseconds must be a whole number";
                if (ms < s_earliest.ToUnixTimeMilliseconds() || ms >= s_latest.ToUnixTimeMilliseconds())
                {
                    return "ts: epoch milliseconds out of range (years 2000–2099; were seconds sent?)";
                }
                time = DateTimeOffset.FromUnixTimeMilliseconds(ms);
                return null;
            case JsonTokenType.String:
                // Encoders may escape characters ("+" becomes "\u002B" by default in System.Text.Json): check the unescaped text.
                Span<byte> unescaped = stackalloc byte[64];
                scoped ReadOnlySpan<byte> raw = reader.ValueSpan;
                if (reader.ValueIsEscaped)
                {
                    if (raw.Length > unescaped.Length) return "ts: not an RFC 3339 time";
                    raw = unescaped[..reader.CopyString(unescaped)];
                }
                // RFC 3339 requires an offset; without one "07:15" could be any of 24 instants.
                if (raw.Length < 20 || !(raw[^1] == (byte)'Z' || raw[^1] == (byte)'z' || raw[^6] is (byte)'+' or (byte)'-'))
                {
                    return "ts: RFC 3339 time needs an offset (Z or ±hh:mm)";
                }
                if (!reader.TryGetDateTimeOffset(out var parsed)) return "ts: not an RFC 3339 time";
                if (parsed < s_earliest || parsed >= s_latest) return "ts: time out of range (years 2000–2099)";
                time = parsed.ToUniversalTime();
                return null;
            case JsonTokenType.Null:
                return null;
            default:
                reader.Skip();
                return "ts: must be an RFC 3339 string or epoch milliseconds";
        }
    }

    private static void ReadString(ref Utf8JsonReader reader, ref string? value, ref bool wrong)
    {
        if (reader.TokenType != JsonTokenType.String) { wrong = true; reader.Skip(); return; }
        value = KnownWord(reader.ValueSpan) ?? reader.GetString();
    }

    private void ReadLabel(ref Utf8JsonReader reader, ref string? value, ref bool wrong)
    {
        if (reader.TokenType != JsonTokenType.String) { wrong = true; reader.Skip(); return; }
        value = _labels.Intern(ref reader);
    }

    private static string? Unclean(string? text, string field) =>
        text is null ? null
        : text.Length > MaxLabelLength ? $"field '{field}' is longer than {MaxLabelLength} characters"
        : IsCleanText(text) ? null : $"field '{field}' must not contain control characters or end with a backslash";

    /// <summary>
    /// Ids and labels become keys and tags in every store: no control characters (a line break would end an
    /// InfluxDB line) and no trailing backslash (it would escape the separator after it).
    /// </summary>
    public static bool IsCleanText(ReadOnlySpan<char> text) =>
        !text.IsEmpty && text[^1] != '\\' && !text.ContainsAnyInRange('\u0000', '\u001F') && !text.Contains('\u007F');

    private void ReadHousehold(ref Utf8JsonReader reader, ref Fields f)
    {
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.String) { f.HouseholdWrong = f.HouseholdNotText = true; reader.Skip(); return; }
        Span<char> buffer = stackalloc char[128];
        if (!reader.ValueIsEscaped && reader.ValueSpan.Length <= buffer.Length)
        {
            var length = Encoding.UTF8.GetChars(reader.ValueSpan, buffer);
            f.Household = _registry.FindHousehold(buffer[..length])?.Id ?? new string(buffer[..length]);
        }
        else
        {
            f.Household = reader.GetString();
        }
        if (string.IsNullOrEmpty(f.Household)) { f.Household = null; f.HouseholdWrong = true; }
    }

    private static void ReadNumber(ref Utf8JsonReader reader, ref double? value, ref bool wrong)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var number) || !double.IsFinite(number))
        {
            wrong = true;
            reader.Skip();
            return;
        }
        value = number;
    }

    /// <summary>The contract's fixed vocabulary as shared string instances, so common values never allocate.</summary>
    private static string? KnownWord(ReadOnlySpan<byte> utf8) => utf8 switch
    {
        _ when utf8.SequenceEqual("water"u8) => "water",
        _ when utf8.SequenceEqual("electricity"u8) => "electricity",
        _ when utf8.SequenceEqual("pass"u8) => "pass",
        _ when utf8.SequenceEqual("denied"u8) => "denied",
        _ when utf8.SequenceEqual("forced"u8) => "forced",
        _ when utf8.SequenceEqual("held_open"u8) => "held_open",
        _ when utf8.SequenceEqual("in"u8) => "in",
        _ when utf8.SequenceEqual("out"u8) => "out",
        _ when utf8.SequenceEqual("card"u8) => "card",
        _ when utf8.SequenceEqual("face"u8) => "face",
        _ when utf8.SequenceEqual("qr"u8) => "qr",
        _ when utf8.SequenceEqual("plate"u8) => "plate",
        _ when utf8.SequenceEqual("person"u8) => "person",
        _ when utf8.SequenceEqual("vehicle"u8) => "vehicle",
        _ when utf8.SequenceEqual("crowd"u8) => "crowd",
        _ when utf8.SequenceEqual("intrusion"u8) => "intrusion",
        _ when utf8.SequenceEqual("smoke"u8) => "smoke",
        _ when utf8.SequenceEqual("fire"u8) => "fire",
        _ when utf8.SequenceEqual("online"u8) => "online",
        _ when utf8.SequenceEqual("offline"u8) => "offline",
        _ => null,
    };

    /// <summary>Copies an unknown field's raw JSON into the attributes object being built.</summary>
    private void KeepAttribute(scoped ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> payload, ref Utf8JsonReader reader, ref Fields f)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        var end = (int)reader.BytesConsumed;
        BeginAttribute(ref f, rawName);
        // Raw JSON holds line breaks only as whitespace between tokens (inside a string they must be escaped), so
        // dropping them keeps the value's meaning and keeps attributes on one line for line-oriented stores.
        var raw = payload[start..end];
        while (raw.IndexOfAny((byte)'\n', (byte)'\r') is var at and >= 0)
        {
            _attributes.Write(raw[..at]);
            raw = raw[(at + 1)..];
        }
        _attributes.Write(raw);
    }

    private void BeginAttribute(ref Fields f, ReadOnlySpan<byte> name)
    {
        _attributes.Write(f.HasAttributes ? ","u8 : "{"u8);
        _attributes.Write("\""u8);
        _attributes.Write(name);
        _attributes.Write("\":"u8);
        f.HasAttributes = true;
    }

    /// <summary>The attributes object as a string, or null when the payload had nothing extra.</summary>
    private string? Attributes(ref Fields f)
    {
        if (!f.HasAttributes) return null;
        _attributes.Write("}"u8);
        f.HasAttributes = false;
        return Encoding.UTF8.GetString(_attributes.WrittenSpan);
    }
}
