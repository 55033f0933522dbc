using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using Sensing.Ingest.Tests.Formats;
using static Sensing.Ingest.Tests.Formats.SparkplugWriter;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>One hostile message: the format it aims at, its topic and payload, and the recipe that made it (for the report).</summary>
public sealed record FuzzInput(string Format, string Topic, byte[] Payload, string Recipe)
{
    /// <summary>Readable enough to reproduce a failure by hand: recipe, topic, size and the payload's head (escaped).</summary>
    public override string ToString()
    {
        var head = Payload.AsSpan(0, Math.Min(Payload.Length, 300));
        var text = new StringBuilder();
        foreach (var b in head) text.Append(b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:x2}");
        return $"[{Format}/{Recipe}] {JsonSerializer.Serialize(Topic)} ({Payload.Length} bytes): {text}";
    }
}

/// <summary>
/// FsCheck generators of structured-but-wrong payloads for every wire format ingest reads. They start from real
/// messages (the vendor samples of <c>Formats/Samples</c>, native payloads from the contract, Sparkplug B payloads written
/// from the schema, and the hand-made corpus in <c>Hostile/Corpus</c>) and break them the ways devices, gateways and
/// attackers do: values of the wrong type or range in the right places, byte flips and splices, truncation, nesting
/// thousands deep, strings and arrays of hundreds of kilobytes, invalid UTF-8, random bytes, random protobuf.
/// Topics come from fixed pools (registered devices, unknown ones, malformed topics), so a million inputs name a bounded
/// set of devices: what grows with them would be a leak, not the registry doing its job.
/// </summary>
public static class HostileInputs
{
    /// <summary>Every format of <see cref="Normalization.VendorFormats.Names"/>: each is fuzzed, none is left out.</summary>
    public static readonly string[] Formats = [.. Normalization.VendorFormats.Names];

    /// <summary>A real message to start from.</summary>
    public sealed record Seed(string Format, string Topic, byte[] Payload)
    {
        public bool IsJson { get; } = LooksLikeJson(Payload);
    }

    private static readonly Dictionary<string, string[]> s_topics = new()
    {
        ["native"] =
        [
            "sensing/c1/meter/c1-wm-0042", "sensing/c1/gate/c1-gate-01", "sensing/c1/parking/c1-park-01", "sensing/c1/camera/c1-cam-07",
            // Devices nobody registered: registered on first sight (a fixed pool, so the registry stays bounded here).
            .. Enumerable.Range(0, 16).Select(i => $"sensing/c9/{(i % 4) switch { 0 => "meter", 1 => "gate", 2 => "parking", _ => "camera" }}/fz-{i}"),
            "sensing/c1/meter", "sensing/c1/meter/a/b", "sensing//meter/x", "sensing/c1/toaster/t-1", "sensing/c1/camera/cam\u00077",
            "sensing/c1/camera/cam-7\\", "sensing/中文/camera/摄像头-1", "SENSING/c1/meter/x", "sensing/c1/camera/" + new string('x', 5000),
        ],
        ["frigate"] =
        [
            "frigate/events", "frigate/events", "frigate/stats", "frigate/front_door/person", "frigate/front_door/car", "frigate/available",
            "frigate/garage/person", "frigate/front_door/person/snapshot", "frigate/" + new string('c', 300) + "/person", "frigate/front_door/",
        ],
        ["tasmota"] = ["tele/meter-17/SENSOR", "tele/meter-17/SENSOR", "tele/meter-99/SENSOR", "tele/" + new string('m', 400) + "/SENSOR", "tele/me ter/SENSOR"],
        ["shelly"] =
        [
            "shellypro3em-abc/events/rpc", "shellypro4pm-aa/events/rpc", "shellypro4pm-aa/status/switch:0", "shellypro4pm-aa/status/switch:99999999999",
            "shellypro4pm-aa/status/sys", "shellyplus1pm-zz/events/rpc", "shellypro4pm-aa/status/em1data:1", "shellypro4pm-aa/status/",
        ],
        ["chirpstack"] =
        [
            "application/a1/device/0004a30b001c0530/event/up", "application/a1/device/70b3d5e75e001234/event/up",
            "application/a1/device/0004A30B001C0530/event/up", "application/x/device/ffffffffffffffff/event/up", "application/x/device//event/up",
        ],
        ["tts"] =
        [
            "v3/parking@ttn/devices/space-a018/up", "v3/parking@ttn/devices/wm-0044/up", "v3/parking@ttn/devices/lot-p2-counter/up",
            "v3/parking@ttn/devices/em-0046/up", "v3/parking@ttn/devices/space-new/up", "v3/parking/devices/x/up",
        ],
        ["zigbee2mqtt"] =
        [
            "zigbee2mqtt/kitchen_plug", "zigbee2mqtt/bathroom_leak", "zigbee2mqtt/space_b03", "zigbee2mqtt/hall_pir", "zigbee2mqtt/new_plug",
            "zigbee2mqtt/bridge", "zigbee2mqtt/bridge/devices", "zigbee2mqtt/kitchen_plug/set",
        ],
        ["sparkplug"] =
        [
            "spBv1.0/c1/NBIRTH/plant1", "spBv1.0/c1/DBIRTH/plant1/meter7", "spBv1.0/c1/DDATA/plant1/meter7", "spBv1.0/c1/DBIRTH/plant1/gate2",
            "spBv1.0/c1/DDATA/plant1/gate2", "spBv1.0/c1/DBIRTH/plant1/cam3", "spBv1.0/c1/DDATA/plant1/cam3", "spBv1.0/c1/DDEATH/plant1/cam3",
            "spBv1.0/c1/NDEATH/plant1", "spBv1.0/c1/DDATA/plant1/lot9", "spBv1.0/c1/NCMD/plant1", "spBv1.0/c1/STATE/plant1", "spBv1.0/c1/NDATA/plant1",
            // Edge nodes and devices nobody registered, from a fixed pool.
            .. Enumerable.Range(0, 8).SelectMany(i => new[] { $"spBv1.0/fz/NBIRTH/node{i}", $"spBv1.0/fz/DBIRTH/node{i}/dev{i * 3}", $"spBv1.0/fz/DDATA/node{i}/dev{i * 3}" }),
            "spBv1.0/c1/DDATA/plant1", "spBv1.0/c1/NBIRTH/plant1/extra", "spBv1.0//NBIRTH/plant1",
        ],
        ["hikvision"] = ["hikvision/ds-k1t671-e1/event", "hikvision/ds-k1t671-e1/event", "hikvision/ds-k1t341-x9/event", "hikvision//event"],
    };

    /// <summary>The topics the generator draws from for a format (registered, unknown and malformed ones).</summary>
    public static IReadOnlyList<string> TopicsOf(string format) => s_topics[format];

    /// <summary>Every property name the normalizers look for (their u8 literals), plus the native fields: retyped values land where they are read.</summary>
    private static readonly string[] s_vocabulary =
    [
        "ts", "type", "total", "household", "event", "direction", "credential", "space", "occupied", "lot", "free", "capacity", "count", "zone", "score",
        "AccessControllerEvent", "Current", "ENERGY", "EventNotificationAlert", "NotifyFullStatus", "NotifyStatus", "Power", "Time", "Total", "Voltage",
        "aenergy", "after", "before", "apower", "battery", "bdSeq", "camera", "camera_fps", "cameras", "cardReaderNo", "current", "current_zones",
        "data", "dateTime", "decoded_payload", "devEui", "dev_eui", "deviceInfo", "device_time", "doorNo", "end_device_ids", "energy", "energy_kwh",
        "energy_wh", "eventType", "event_code", "fCnt", "f_cnt", "false_positive", "frigate_id", "frm_payload", "id", "label", "last_seen",
        "last_updated", "majorEventType", "method", "object", "occupancy", "params", "received_at", "serial", "serialNo", "service", "start_time",
        "end_time", "subEventType", "time", "top_score", "total_act", "total_act_energy", "unit", "uplink_message", "volume", "volume_l", "volume_m3",
        "water_leak", "switch:0", "switch:1", "em1data:0", "emdata:0", "pm1:0", "cover:0", "light:0", "sys", "src", "dst", "device_ids", "device_id",
        "ipAddress", "macAddress", "channelID", "activePostCount", "name", "zones", "entered_zones", "stationary", "", "\u0000", "ts\u0000",
    ];

    private static readonly string[] s_scalars =
    [
        "null", "true", "false", "0", "-0", "-1", "1", "0.5", "1e308", "-1e308", "1e400", "-1e400", "1e-400", "4.9e-324", "18446744073709551616",
        "-9223372036854775809", "9223372036854775807", "9007199254740993", "123456789012345678901234567890.5", "0.000000000000000000001", "255", "256",
        "65535", "65536", "2147483648", "4294967296", "-2147483649", "1763593200", "1763593200000", "1763593200000000", "-1763593200000",
        "17635932000000000000", "99999999999999999999999999999999999", "1.7976931348623157e308", "2.5e-7",
        "\"\"", "\" \"", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"-1\"", "\"12.5\"", "\"1e400\"", "\"true\"", "\"null\"", "\"\\u0000\"",
        "\"\\ud800\"", "\"\\udc00x\"", "\"a\\nb\"", "\"end\\\\\"", "\"\\u007f\"", "\"中文\"", "\"😀\"", "\"2026-11-20T07:15:00+08:00\"",
        "\"2026-11-20T07:15:00\"", "\"9999-12-31T23:59:59Z\"", "\"0001-01-01T00:00:00Z\"", "\"1970-01-01T00:00:00Z\"", "\"2026-13-45T99:99:99Z\"",
        "\"2026-11-20T07:15:00+99:00\"", "\"2026-11-20T07:15:00.1234567890123Z\"", "\"1763593200000\"", "\"water\"", "\"electricity\"", "\"pass\"",
        "\"new\"", "\"update\"", "\"end\"", "\"in\"", "\"out\"", "\"m3\"", "\"L\"", "\"Wh\"", "\"kWh\"", "\"person\"", "\"crowd\"", "\"offline\"",
        "\"NotifyStatus\"", "\"NotifyFullStatus\"", "\"h-0042\"", "\"front_door\"", "\"0004a30b001c0530\"", "[]", "{}", "[null]", "{\"\":null}",
        "[1,2,3]", "[\"a\",1,null,true]", "{\"Total\":\"x\"}",
    ];

    // ---- seeds -----------------------------------------------------------------------------------------------------

    private static readonly Lazy<Seed[]> s_seeds = new(LoadSeeds);

    /// <summary>Every real message the mutations start from.</summary>
    public static IReadOnlyList<Seed> Seeds => s_seeds.Value;

    private static Seed[] LoadSeeds()
    {
        var seeds = new List<Seed>();
        var samples = Path.Combine(AppContext.BaseDirectory, "Formats", "Samples");
        foreach (var file in Directory.EnumerateFiles(samples, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var folder = Path.GetFileName(Path.GetDirectoryName(file)!);
            var name = Path.GetFileName(file);
            var (format, topic) = folder switch
            {
                "frigate" => ("frigate", name.StartsWith("stats", StringComparison.Ordinal) ? "frigate/stats" : "frigate/events"),
                "tasmota" => ("tasmota", "tele/meter-17/SENSOR"),
                "shelly" => ("shelly", name switch
                {
                    "status-switch0.json" => "shellypro4pm-aa/status/switch:0",
                    "status-sys.json" => "shellypro4pm-aa/status/sys",
                    _ when name.Contains("4pm", StringComparison.Ordinal) || name.Contains("event", StringComparison.Ordinal) => "shellypro4pm-aa/events/rpc",
                    _ => "shellypro3em-abc/events/rpc",
                }),
                "chirpstack" => ("chirpstack", name.Contains("water", StringComparison.Ordinal)
                    ? "application/a1/device/70b3d5e75e001234/event/up" : "application/a1/device/0004a30b001c0530/event/up"),
                "tts" => ("tts", name switch
                {
                    "up-water.json" => "v3/parking@ttn/devices/wm-0044/up",
                    "up-energy-wh.json" => "v3/parking@ttn/devices/em-0046/up",
                    _ when name.Contains("lot", StringComparison.Ordinal) || name.Contains("capacity", StringComparison.Ordinal) => "v3/parking@ttn/devices/lot-p2-counter/up",
                    _ => "v3/parking@ttn/devices/space-a018/up",
                }),
                "zigbee2mqtt" => ("zigbee2mqtt", name switch
                {
                    "bathroom-leak.json" => "zigbee2mqtt/bathroom_leak",
                    "space-occupancy.json" => "zigbee2mqtt/space_b03",
                    "bridge-devices.json" => "zigbee2mqtt/bridge/devices",
                    _ => "zigbee2mqtt/kitchen_plug",
                }),
                "hikvision" => ("hikvision", "hikvision/ds-k1t671-e1/event"),
                _ => (null, null),
            };
            if (format is not null) seeds.Add(new Seed(format, topic!, File.ReadAllBytes(file)));
        }

        // The contract's native examples, one per kind and shape.
        foreach (var (topic, json) in new[]
        {
            ("sensing/c1/meter/c1-wm-0042", """{"ts":"2026-11-20T07:15:00+08:00","type":"water","total":123.456,"household":"h-0042"}"""),
            ("sensing/c1/meter/c1-wm-0042", """{"ts":1763593200000,"type":"electricity","total":5.5,"household":"h-0042","rssi":-71,"fw":"1.2"}"""),
            ("sensing/c1/gate/c1-gate-01", """{"ts":1763593200000,"event":"pass","direction":"in","credential":"face","household":"h-0042"}"""),
            ("sensing/c1/parking/c1-park-01", """{"ts":1763593200000,"space":"A-017","occupied":true}"""),
            ("sensing/c1/parking/c1-park-01", """{"ts":1763593200000,"lot":"P1","free":12,"capacity":200}"""),
            ("sensing/c1/camera/c1-cam-07", """{"ts":1763593200000,"event":"crowd","count":37,"zone":"east-gate","score":0.91}"""),
            ("sensing/c9/camera/fz-3", """{"event":"online"}"""),
        })
        {
            seeds.Add(new Seed("native", topic, Encoding.UTF8.GetBytes(json)));
        }

        // Sparkplug B, written field by field from the schema: a session's births, data by alias and name, deaths.
        var t = new DateTimeOffset(2026, 11, 19, 23, 15, 0, TimeSpan.Zero);
        seeds.AddRange(
        [
            new("sparkplug", "spBv1.0/c1/NBIRTH/plant1", Payload(Ms(t), 0, new Metric("bdSeq", DataType: SpType.UInt64, Value: 3UL),
                new Metric("Node Control/Rebirth", Alias: 100, DataType: SpType.Boolean, Value: false))),
            new("sparkplug", "spBv1.0/c1/DBIRTH/plant1/meter7", Payload(Ms(t), 1, new Metric("water.total", Alias: 1, Timestamp: Ms(t), DataType: SpType.Double, Value: 12.5),
                new Metric("Properties/Firmware", Alias: 2, DataType: SpType.String, Value: "2.1.0"))),
            new("sparkplug", "spBv1.0/c1/DDATA/plant1/meter7", Payload(Ms(t.AddMinutes(15)), 2, new Metric(Alias: 1, Timestamp: Ms(t.AddMinutes(15)), Value: 12.75))),
            new("sparkplug", "spBv1.0/c1/DBIRTH/plant1/gate2", Payload(Ms(t), 3, new Metric("gate.pass/in", Alias: 10, DataType: SpType.UInt32))),
            new("sparkplug", "spBv1.0/c1/DDATA/plant1/gate2", Payload(Ms(t.AddMinutes(16)), 4, new Metric(Alias: 10, Value: 1u))),
            new("sparkplug", "spBv1.0/c1/DBIRTH/plant1/cam3", Payload(Ms(t.AddMinutes(17)), 5, new Metric("camera.crowd/east-gate", Alias: 20, DataType: SpType.Int32, Value: 37))),
            new("sparkplug", "spBv1.0/c1/DDATA/plant1/lot9", Payload(Ms(t.AddMinutes(18)), 6, new Metric("parking.free/P9", DataType: SpType.Int64, Value: 12L),
                new Metric("parking.capacity/P9", DataType: SpType.Float, Value: 40f))),
            new("sparkplug", "spBv1.0/c1/DDEATH/plant1/cam3", Payload(Ms(t.AddMinutes(19)), 7)),
            new("sparkplug", "spBv1.0/c1/NDEATH/plant1", Payload(Ms(t.AddMinutes(20)), null, new Metric("bdSeq", DataType: SpType.UInt64, Value: 3UL))),
        ]);

        foreach (var (format, topic, payload) in Corpus.Load())
        {
            seeds.Add(new Seed(format, topic, payload));
        }
        return [.. seeds];
    }

    private static bool LooksLikeJson(byte[] payload)
    {
        try
        {
            JsonNode.Parse(payload, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    // ---- generators ------------------------------------------------------------------------------------------------

    /// <summary>Hostile inputs of any format, evenly.</summary>
    public static Gen<FuzzInput> Any() => Gen.OneOf(Formats.Select(For));

    /// <summary>Hostile inputs aimed at one format: its topics, its seeds, and the recipes that fit its encoding.</summary>
    public static Gen<FuzzInput> For(string format)
    {
        var own = Seeds.Where(s => s.Format == format).ToArray();
        var json = own.Where(s => s.IsJson).ToArray();
        var topics = s_topics[format];
        var recipes = new List<(int, Gen<FuzzInput>)>
        {
            (8, Gen.Elements(own).Select(s => new FuzzInput(format, s.Topic, s.Payload, "sample"))),
            (12, Mutated(format, own)),
            (8, Truncated(format, own)),
            (6, Utf8Broken(format, own)),
            (4, Deep(format, own, topics)),
            (3, Huge(format, own, topics)),
            (3, RandomBytes(format, topics)),
        };
        if (json.Length > 0)
        {
            recipes.Add((24, Retyped(format, json)));
            recipes.Add((10, Vocabulary(format, topics)));
        }
        if (format == "sparkplug")
        {
            recipes.Add((30, RandomProtobuf(format, topics)));
        }
        // Any recipe's payload on any of the format's topics (a registered device's payload under an unknown or malformed topic).
        var input = Gen.Frequency(recipes);
        return Gen.Frequency(
            (4, input),
            (1, input.SelectMany(i => Gen.Elements(topics.ToArray()), (i, topic) => i with { Topic = topic })));
    }

    /// <summary>A JSON value of the wrong type or range: a fixed hostile scalar, a random number or string, or a small array or object of them.</summary>
    public static Gen<string> HostileValue(int depth)
    {
        var scalar = Gen.Frequency(
            (6, Gen.Elements(s_scalars)),
            (2, Gen.Choose(int.MinValue, int.MaxValue).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (2, Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(-330, 330))
                .Select(p => $"{p.Item1}e{p.Item2}")),
            (2, HostileString()));
        if (depth <= 0) return scalar;
        return Gen.Frequency(
            (8, scalar),
            (1, Gen.Choose(0, 4).SelectMany(n => Gen.ArrayOf(HostileValue(depth - 1), n)).Select(items => "[" + string.Join(",", items) + "]")),
            (1, Gen.Choose(0, 4).SelectMany(n => Gen.ArrayOf(Gen.Zip(Gen.Elements(s_vocabulary), HostileValue(depth - 1)), n))
                .Select(props => "{" + string.Join(",", props.Select(p => JsonSerializer.Serialize(p.Item1) + ":" + p.Item2)) + "}")));
    }

    /// <summary>A string of any UTF-16 code units (controls, lone surrogates, quotes, backslashes, CJK), serialized as JSON escapes.</summary>
    private static Gen<string> HostileString() =>
        Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(Gen.Frequency(
                (6, Gen.Choose('a', 'z')),
                (2, Gen.Choose(0, 0x1F)),
                (1, Gen.Elements<int>('"', '\\', '/', ' ', 0x7F, 0xFFFD, 0xFEFF)),
                (1, Gen.Choose(0xD800, 0xDFFF)),
                (2, Gen.Choose(0x4E00, 0x9FFF))), n))
            .Select(chars => JsonSerializer.Serialize(new string([.. chars.Select(c => (char)c)])));

    /// <summary>A real JSON message with one to three values replaced by hostile ones, a property removed, or one added.</summary>
    private static Gen<FuzzInput> Retyped(string format, Seed[] seeds) =>
        from seed in Gen.Elements(seeds)
        from n in Gen.Choose(1, 3)
        from edits in Gen.ArrayOf(Gen.Zip(Gen.Choose(0, 1 << 20), Gen.Zip(Gen.Choose(0, 9), HostileValue(2))), n)
        from key in Gen.Elements(s_vocabulary)
        select new FuzzInput(format, seed.Topic, Retype(seed.Payload, edits.Select(e => (e.Item1, e.Item2.Item1, e.Item2.Item2)).ToArray(), key), "retyped");

    private static byte[] Retype(byte[] payload, (int Pick, int Operation, string Value)[] edits, string key)
    {
        try
        {
            return RetypeCore(payload, edits, key);
        }
        catch (InvalidOperationException)
        {
            // A seed that escapes an unpaired surrogate cannot be written back by JsonNode: it goes as it is.
            return payload;
        }
    }

    private static byte[] RetypeCore(byte[] payload, (int Pick, int Operation, string Value)[] edits, string key)
    {
        var root = JsonNode.Parse(payload)!;
        var replacements = new List<string>();
        foreach (var (pick, operation, value) in edits)
        {
            var nodes = new List<(JsonNode? Parent, string? Name, int Index, JsonNode? Node)>();
            Walk(root, null, null, -1, nodes);
            var (parent, name, index, node) = nodes[pick % nodes.Count];
            var placeholder = JsonValue.Create($"@@HOSTILE{replacements.Count}@@");
            replacements.Add(value);
            switch (operation)
            {
                case 0 when parent is JsonObject o && name is not null:
                    o.Remove(name);                                 // a required field missing
                    break;
                case 1 when node is JsonObject target && !target.ContainsKey(key):
                    target[key] = placeholder;                      // an unexpected (or expected) field with a hostile value
                    break;
                case 2 when parent is JsonObject o && name is not null:
                    o.Remove(name);                                 // the same value under another name
                    if (!o.ContainsKey(key)) o[key] = placeholder;
                    break;
                default:
                    if (parent is JsonObject po && name is not null) po[name] = placeholder;
                    else if (parent is JsonArray pa) pa[index] = placeholder;
                    else root = placeholder;
                    break;
            }
        }
        var text = root.ToJsonString();
        for (var i = 0; i < replacements.Count; i++)
        {
            text = text.Replace($"\"@@HOSTILE{i}@@\"", replacements[i], StringComparison.Ordinal);
        }
        return Encoding.UTF8.GetBytes(text);
    }

    private static void Walk(JsonNode? node, JsonNode? parent, string? name, int index, List<(JsonNode?, string?, int, JsonNode?)> nodes)
    {
        nodes.Add((parent, name, index, node));
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o.ToArray()) Walk(v, o, k, -1, nodes);
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) Walk(a[i], a, null, i, nodes);
                break;
        }
    }

    /// <summary>An object of the normalizers' own property names with hostile values, nested a little: the right words, the wrong shapes.</summary>
    private static Gen<FuzzInput> Vocabulary(string format, string[] topics) =>
        from topic in Gen.Elements(topics)
        from n in Gen.Choose(0, 8)
        from props in Gen.ArrayOf(Gen.Zip(Gen.Elements(s_vocabulary), HostileValue(3)), n)
        select new FuzzInput(format, topic, Encoding.UTF8.GetBytes("{" + string.Join(",", props.Select(p => JsonSerializer.Serialize(p.Item1) + ":" + p.Item2)) + "}"), "vocabulary");

    /// <summary>Byte-level damage to a real message: flips, inserted and deleted runs, a splice from another message, a duplicated run.</summary>
    private static Gen<FuzzInput> Mutated(string format, Seed[] seeds) =>
        from seed in Gen.Elements(seeds)
        from other in Gen.Elements(Seeds.ToArray())
        from random in Gen.Choose(int.MinValue, int.MaxValue)
        select new FuzzInput(format, seed.Topic, Mutate(seed.Payload, other.Payload, new Random(random)), "mutated");

    private static byte[] Mutate(byte[] payload, byte[] other, Random random)
    {
        var bytes = new List<byte>(payload);
        var operations = random.Next(1, 6);
        for (var i = 0; i < operations; i++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(7))
            {
                case 0 when bytes.Count > 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1 when bytes.Count > 0: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.Insert(at, "{}[]\",:\\0-.eE"u8[random.Next(13)]); break;
                case 3 when bytes.Count > 0: bytes.RemoveRange(at, Math.Min(random.Next(1, 16), bytes.Count - at)); break;
                case 4:
                    var from = random.Next(other.Length + 1);
                    bytes.InsertRange(at, other.AsSpan(from, Math.Min(random.Next(0, 64), other.Length - from)).ToArray());
                    break;
                case 5 when bytes.Count > 0:
                    var run = bytes.GetRange(at, Math.Min(random.Next(1, 32), bytes.Count - at));
                    for (var r = random.Next(1, 8); r > 0; r--) bytes.InsertRange(at, run);
                    break;
                default:
                    // A protobuf varint or length that lies: 0x80 continuation bytes or a huge length.
                    bytes.InsertRange(at, random.Next(2) == 0 ? [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] : [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
                    break;
            }
        }
        return [.. bytes];
    }

    /// <summary>A real message cut short anywhere, as a dropped connection or a full buffer leaves it.</summary>
    private static Gen<FuzzInput> Truncated(string format, Seed[] seeds) =>
        from seed in Gen.Elements(seeds)
        from cut in Gen.Choose(0, Math.Max(0, seed.Payload.Length - 1))
        select new FuzzInput(format, seed.Topic, seed.Payload[..cut], "truncated");

    /// <summary>Invalid UTF-8 put into a real message: lone continuation bytes, overlong forms, encoded surrogates, 0xFF, a cut multibyte character.</summary>
    private static Gen<FuzzInput> Utf8Broken(string format, Seed[] seeds) =>
        from seed in Gen.Elements(seeds)
        from bad in Gen.Elements<byte[]>([0x80], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xFE, 0xFF], [0xF4, 0x90, 0x80, 0x80], [0xE4, 0xB8], [0xF0, 0x9F, 0x98])
        from at in Gen.Choose(0, seed.Payload.Length)
        select new FuzzInput(format, seed.Topic, [.. seed.Payload[..at], .. bad, .. seed.Payload[at..]], "utf8");

    /// <summary>Nesting from a few to thousands of levels, alone or as the value of a field the normalizer reads.</summary>
    private static Gen<FuzzInput> Deep(string format, Seed[] seeds, string[] topics) =>
        from topic in Gen.Elements(topics)
        from depth in Gen.Frequency((3, Gen.Choose(1, 70)), (1, Gen.Choose(70, 20_000)))
        from kind in Gen.Choose(0, 3)
        from key in Gen.Elements(s_vocabulary)
        from closed in Gen.Elements(true, true, false)
        select new FuzzInput(format, topic, Encoding.UTF8.GetBytes(Nest(depth, kind, key, closed)), "deep");

    private static string Nest(int depth, int kind, string key, bool closed)
    {
        var (open, close) = kind switch
        {
            0 => ("[", "]"),
            1 => ("{\"a\":", "}"),
            2 => ("{" + JsonSerializer.Serialize(key) + ":", "}"),
            _ => ("{\"after\":{\"camera\":[", "]}}"),
        };
        var text = new StringBuilder(depth * (open.Length + close.Length) + 8);
        text.Append('{').Append(JsonSerializer.Serialize(key)).Append(':');
        for (var i = 0; i < depth; i++) text.Append(open);
        text.Append('1');
        if (closed) for (var i = 0; i < depth; i++) text.Append(close);
        text.Append('}');
        return text.ToString();
    }

    /// <summary>Hundreds of kilobytes in one string, number or array, under a field the normalizer reads or as the whole payload.</summary>
    private static Gen<FuzzInput> Huge(string format, Seed[] seeds, string[] topics) =>
        from topic in Gen.Elements(topics)
        from key in Gen.Elements(s_vocabulary)
        from size in Gen.Frequency((3, Gen.Choose(1_000, 20_000)), (1, Gen.Choose(20_000, 250_000)))
        from kind in Gen.Choose(0, 4)
        select new FuzzInput(format, topic, Encoding.UTF8.GetBytes(Big(key, size, kind)), "huge");

    private static string Big(string key, int size, int kind) => kind switch
    {
        0 => "{" + JsonSerializer.Serialize(key) + ":\"" + new string('x', size) + "\"}",
        1 => "{" + JsonSerializer.Serialize(key) + ":[" + string.Join(",", Enumerable.Repeat("1", size / 2)) + "]}",
        2 => "{" + JsonSerializer.Serialize(key) + ":" + new string('9', size) + "}",
        3 => "{" + string.Join(",", Enumerable.Range(0, size / 12).Select(i => $"\"k{i}\":{i}")) + "}",
        _ => "{" + JsonSerializer.Serialize(new string('k', size)) + ":1}",
    };

    /// <summary>Bytes with no structure at all, from nothing to a few kilobytes.</summary>
    private static Gen<FuzzInput> RandomBytes(string format, string[] topics) =>
        from topic in Gen.Elements(topics)
        from length in Gen.Frequency((4, Gen.Choose(0, 64)), (1, Gen.Choose(64, 4096)))
        from random in Gen.Choose(int.MinValue, int.MaxValue)
        select new FuzzInput(format, topic, RandomArray(length, new Random(random)), "random");

    private static byte[] RandomArray(int length, Random random)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Protobuf that parses as protobuf but not as sense: random field numbers and wire types, metrics (field 2) with
    /// random names, aliases, datatypes and values of any field, lengths that lie, varints that never end.
    /// </summary>
    private static Gen<FuzzInput> RandomProtobuf(string format, string[] topics) =>
        from topic in Gen.Elements(topics)
        from random in Gen.Choose(int.MinValue, int.MaxValue)
        select new FuzzInput(format, topic, Protobuf(new Random(random), depth: 0), "protobuf");

    private static readonly string[] s_metricNames =
        ["water.total", "electricity.total", "gate.pass/in", "gate.pass/", "camera.person", "camera.crowd/east\ngate", "parking.free/P1", "parking.capacity/P1",
         "parking.occupied/A-1", "bdSeq", "Node Control/Rebirth", "", "water.total/", "camera.", "x"];

    private static byte[] Protobuf(Random random, int depth)
    {
        var output = new List<byte>();
        for (var fields = random.Next(0, 12); fields > 0; fields--)
        {
            var field = random.Next(10) switch { < 4 => 2, < 6 => random.Next(1, 4), < 8 => random.Next(1, 20), _ => random.Next(1, 1 << 20) };
            var wire = random.Next(10) switch { < 6 => field == 2 ? 2 : 0, _ => random.Next(8) };
            Varint(output, ((ulong)field << 3) | (uint)wire);
            switch (wire)
            {
                case 0: Varint(output, random.Next(4) == 0 ? (ulong)random.NextInt64() * 3 : (ulong)random.Next(0, 300)); break;
                case 1: for (var i = 0; i < 8; i++) output.Add((byte)random.Next(256)); break;
                case 5: for (var i = 0; i < 4; i++) output.Add((byte)random.Next(256)); break;
                case 2:
                    var body = field == 2 && depth < 2 ? MetricBody(random, depth) : RandomArray(random.Next(0, 24), random);
                    // Sometimes the length lies: longer than what follows, or absurd.
                    var length = random.Next(12) switch { 0 => (ulong)body.Length + (ulong)random.Next(1, 100), 1 => ulong.MaxValue >> random.Next(1, 40), _ => (ulong)body.Length };
                    Varint(output, length);
                    output.AddRange(body);
                    break;
                default:
                    // Wire types 3, 4, 6, 7: groups and invalid types.
                    break;
            }
        }
        if (random.Next(20) == 0) output.AddRange(new byte[] { 0x80, 0x80, 0x80 });
        return [.. output];
    }

    private static byte[] MetricBody(Random random, int depth)
    {
        var output = new List<byte>();
        if (random.Next(3) > 0)
        {
            var name = Encoding.UTF8.GetBytes(s_metricNames[random.Next(s_metricNames.Length)]);
            Varint(output, (1 << 3) | 2);
            Varint(output, (ulong)name.Length);
            output.AddRange(name);
        }
        if (random.Next(2) == 0) { Varint(output, 2 << 3); Varint(output, (ulong)random.Next(0, 40)); }                       // alias
        if (random.Next(2) == 0) { Varint(output, 3 << 3); Varint(output, random.Next(3) == 0 ? (ulong)random.NextInt64() : 1_795_130_100_000UL); } // timestamp
        if (random.Next(2) == 0) { Varint(output, 4 << 3); Varint(output, (ulong)random.Next(0, 40)); }                       // datatype
        if (random.Next(8) == 0) { Varint(output, 7 << 3); Varint(output, 1); }                                               // is_null
        switch (random.Next(8))
        {
            case 0: Varint(output, 10 << 3); Varint(output, (ulong)random.NextInt64()); break;
            case 1: Varint(output, 11 << 3); Varint(output, (ulong)random.NextInt64()); break;
            case 2: Varint(output, (12 << 3) | 5); output.AddRange(BitConverter.GetBytes(random.Next(4) == 0 ? float.NaN : (float)random.NextDouble() * 1e6f)); break;
            case 3: Varint(output, (13 << 3) | 1); output.AddRange(BitConverter.GetBytes(random.Next(4) == 0 ? double.PositiveInfinity : random.NextDouble() * 1e12 - 5e11)); break;
            case 4: Varint(output, 14 << 3); Varint(output, (ulong)random.Next(0, 3)); break;
            case 5: Varint(output, (15 << 3) | 2); var s = RandomArray(random.Next(0, 20), random); Varint(output, (ulong)s.Length); output.AddRange(s); break;
            case 6: output.AddRange(Protobuf(random, depth + 1)); break;
            default: break;
        }
        return [.. output];
    }

    private static void Varint(List<byte> output, ulong value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }
        output.Add((byte)value);
    }
}
