using System.Text;
using Microsoft.Extensions.Logging;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Eclipse Sparkplug B (industrial gateways, PLC edge nodes): topic <c>spBv1.0/&lt;group&gt;/&lt;type&gt;/&lt;edge node&gt;[/&lt;device&gt;]</c>,
/// payload a Sparkplug B protobuf (timestamp, metrics with name/alias/timestamp/datatype/value, seq), read in place by
/// <see cref="ProtobufReader"/>. The edge node's session is followed as the specification describes:
/// <list type="bullet">
/// <item><c>NBIRTH</c>/<c>DBIRTH</c> name every metric and give it an alias; later <c>NDATA</c>/<c>DDATA</c> may send
/// aliases only. A birth starts the node's (or device's) alias table afresh; a <c>DBIRTH</c> of a camera is
/// <c>camera.online</c>.</item>
/// <item><c>NDEATH</c> (the node's MQTT will, matched by its <c>bdSeq</c> so a stale will from an earlier session is
/// ignored) and <c>DDEATH</c> take the node's or device's cameras <c>camera.offline</c>.</item>
/// <item><c>seq</c> runs 0–255 over every message of a node after its NBIRTH; a jump is a lost or reordered message:
/// counted in <c>sensing_sparkplug_sequence_gaps_total</c> and logged, and the message is still read. A redelivered
/// message (same seq as the last) is no gap.</item>
/// <item>Data whose alias no birth defined (a restart of ingest between the birth and now) is refused with that
/// reason: the node must rebirth (NCMD <c>Node Control/Rebirth</c>), which this read-only ingest does not send.</item>
/// </list>
/// Metrics map by name onto the canonical schema: a metric named like a canonical metric, optionally with a label
/// after a slash (<c>water.total</c>, <c>electricity.total</c>, <c>gate.pass/in</c>, <c>parking.occupied/A-017</c>,
/// <c>parking.free/P1</c>, <c>camera.crowd/east-gate</c>…), is a reading of the device with its value (numbers and
/// booleans) at its own timestamp, else the payload's, else the receive time; all other metrics (<c>bdSeq</c>,
/// <c>Node Control/…</c>, <c>Properties/…</c>, a PLC's own tags) are not stored. The device is
/// <c>sparkplug:&lt;group&gt;/&lt;edge node&gt;/&lt;device&gt;</c> (<c>sparkplug:&lt;group&gt;/&lt;edge node&gt;</c> for node metrics).
/// State only moves forward in receive time, so replayed quarantined messages are read against the current session
/// without rewinding it. <c>NCMD</c>/<c>DCMD</c> (commands to nodes) and <c>STATE</c> (host applications) are skipped.
/// </summary>
public sealed class SparkplugNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "sparkplug";
    public const string Namespace = "spBv1.0";
    private const int MaxNodes = 10_000;

    /// <summary>
    /// Aliases and born devices one edge node may hold. Only an NBIRTH clears them, so an edge node that keeps sending
    /// DBIRTHs with new aliases or device names grew them without bound. Real edge nodes have hundreds of metrics.
    /// </summary>
    public const int MaxAliasesPerNode = 10_000, MaxDevicesPerNode = 1_000;

    private static readonly (byte[] Utf8, string Metric, DeviceKind Kind)[] s_vocabulary =
    [
        .. new[]
        {
            (Metrics.WaterTotal, DeviceKind.Meter), (Metrics.ElectricityTotal, DeviceKind.Meter), (Metrics.WaterLeak, DeviceKind.Meter),
            (Metrics.GatePass, DeviceKind.Gate), (Metrics.GateDenied, DeviceKind.Gate), (Metrics.GateForced, DeviceKind.Gate), (Metrics.GateHeldOpen, DeviceKind.Gate),
            (Metrics.ParkingOccupied, DeviceKind.Parking), (Metrics.ParkingFree, DeviceKind.Parking), (Metrics.ParkingCapacity, DeviceKind.Parking),
            ("camera.person", DeviceKind.Camera), ("camera.vehicle", DeviceKind.Camera), ("camera.crowd", DeviceKind.Camera), ("camera.intrusion", DeviceKind.Camera),
            ("camera.smoke", DeviceKind.Camera), ("camera.fire", DeviceKind.Camera), (Metrics.CameraOnline, DeviceKind.Camera), (Metrics.CameraOffline, DeviceKind.Camera),
        }.Select(v => (Encoding.UTF8.GetBytes(v.Item1), v.Item1, v.Item2)),
    ];

    private readonly Dictionary<string, EdgeNode> _nodes = new(StringComparer.Ordinal);
    private readonly StringInterner _labels = new(capacity: 4096);
    private readonly List<Pending> _pending = [];

    public override string Format => Name;

    private enum MessageType { NBirth, NData, NDeath, DBirth, DData, DDeath }

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[6];
        var segments = topic.Split(parts, '/');
        if (segments >= 2 && topic[parts[1]].SequenceEqual("STATE")) return null;   // host application state, not a device
        if (segments is not (4 or 5) || !topic[parts[0]].SequenceEqual(Namespace))
        {
            return "sparkplug: topic must be spBv1.0/<group>/<type>/<edge node>[/<device>]";
        }
        MessageType type;
        switch (topic[parts[2]])
        {
            case "NBIRTH": type = MessageType.NBirth; break;
            case "NDATA": type = MessageType.NData; break;
            case "NDEATH": type = MessageType.NDeath; break;
            case "DBIRTH": type = MessageType.DBirth; break;
            case "DDATA": type = MessageType.DData; break;
            case "DDEATH": type = MessageType.DDeath; break;
            case "NCMD" or "DCMD": return null;   // commands to the node, not readings from it
            default: return $"sparkplug: unknown message type '{topic[parts[2]].ToString()}'";
        }
        var deviceLevel = type is MessageType.DBirth or MessageType.DData or MessageType.DDeath;
        if (deviceLevel != (segments == 5)) return $"sparkplug: {topic[parts[2]].ToString()} topics {(deviceLevel ? "need" : "take no")} a device segment";
        var group = topic[parts[1]];
        var edge = topic[parts[3]];
        var deviceName = deviceLevel ? topic[parts[4]] : default;
        if (group.IsEmpty || edge.IsEmpty || (deviceLevel && deviceName.IsEmpty)) return "sparkplug: topic has an empty group, edge node or device";

        var payload = message.Payload.Span;
        if (!TryReadHeader(payload, out var header, out var error)) return error;
        if (header.Seq is > 255) return $"sparkplug: seq {header.Seq} is out of range (0–255)";

        // The node's session state. A message with an older receive time than the node's newest (a quarantined message
        // released later) is read against the current state but does not change it.
        Span<char> key = stackalloc char[group.Length + 1 + edge.Length];
        group.CopyTo(key);
        key[group.Length] = '/';
        edge.CopyTo(key[(group.Length + 1)..]);
        var node = Node(key);
        if (node is null) return $"sparkplug: more than {MaxNodes} edge nodes; refusing a new one";
        var current = message.ReceivedAt >= node.LastReceivedAt;
        if (current) node.LastReceivedAt = message.ReceivedAt;

        if (type == MessageType.NDeath)
        {
            return Death(message, node, header, payload, key, deviceName: default, readings);
        }
        if (current) CheckSequence(node, key, type, header.Seq);
        if (type == MessageType.NBirth && current) node.Begin();
        // Birth and death bookkeeping needs the device name as a string; data messages stay allocation-free.
        var deviceKey = type is MessageType.DBirth or MessageType.DDeath ? deviceName.ToString() : null;
        if (type == MessageType.DBirth && current && !node.Devices.Contains(deviceKey!))
        {
            if (node.Devices.Count >= MaxDevicesPerNode) return $"sparkplug: edge node {key.ToString()} has more than {MaxDevicesPerNode} devices born; refusing a new one (an NBIRTH starts afresh)";
            node.Devices.Add(deviceKey!);
        }

        // Read the metrics: births define aliases, then every canonical metric with a value becomes a pending reading.
        _pending.Clear();
        var reader = new ProtobufReader(payload);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field != 2 || wire != WireType.LengthDelimited)
            {
                reader.TrySkip(wire);
                continue;
            }
            reader.TryReadBytes(out var metricBytes);
            if (!SparkplugMetric.TryRead(metricBytes, out var metric)) return $"sparkplug: a metric is not valid protobuf (payload byte {reader.Position})";
            if (metric.NameIs("bdSeq"u8))
            {
                // The session number the node's will (NDEATH) will carry: remembered to tell its own death from a stale one.
                if (type == MessageType.NBirth && current && metric.TryValue(metric.HasDataType ? metric.DataType : 8, out var bdSeq)) node.BdSeq = (ulong)bdSeq;
                continue;
            }
            (string Metric, DeviceKind Kind, string? Label, uint DataType)? known;
            if (metric.HasName)
            {
                known = Canonical(metric.Name, metric.DataType, out var labelProblem);
                if (labelProblem is not null) return $"sparkplug: {labelProblem}";
                if (metric.HasAlias && (type is MessageType.NBirth or MessageType.DBirth) && current)
                {
                    if (node.Aliases.Count >= MaxAliasesPerNode && !node.Aliases.ContainsKey(metric.Alias))
                    {
                        return $"sparkplug: edge node {key.ToString()} defines more than {MaxAliasesPerNode} metric aliases; refusing more (an NBIRTH starts afresh)";
                    }
                    node.Aliases[metric.Alias] = known;
                }
            }
            else if (metric.HasAlias)
            {
                if (!node.Aliases.TryGetValue(metric.Alias, out known))
                {
                    return $"sparkplug: metric alias {metric.Alias} is unknown: no birth defined it since ingest started (the edge node must rebirth: NCMD Node Control/Rebirth)";
                }
            }
            else
            {
                return "sparkplug: a metric has neither name nor alias";
            }
            if (known is not { } canonical || metric.IsNull || !metric.HasValue) continue;
            var dataType = metric.HasDataType ? metric.DataType : canonical.DataType;
            if (!metric.TryValue(dataType, out var value))
            {
                return $"sparkplug: metric {canonical.Metric} has datatype {dataType}; canonical metrics need a number or a boolean";
            }
            DateTimeOffset time;
            if (metric.HasTimestamp)
            {
                if (!VendorTime.TryFromUnixMilliseconds(metric.Timestamp, out time)) return $"sparkplug: timestamp of metric {canonical.Metric} is out of range (ms since 1970, years 2000–2099)";
            }
            else if (header.Timestamp is { } ms)
            {
                if (!VendorTime.TryFromUnixMilliseconds(ms, out time)) return "sparkplug: payload timestamp is out of range (ms since 1970, years 2000–2099)";
            }
            else
            {
                time = message.ReceivedAt;
            }
            _pending.Add(new Pending(canonical.Metric, canonical.Kind, canonical.Label, time, value));
        }
        if (!reader.End) return $"sparkplug: payload is not valid protobuf (stopped at byte {reader.Position})";

        if (type == MessageType.DDeath)
        {
            if (current) node.Devices.Remove(deviceKey!);
            return Death(message, node, header, payload, key, deviceName, readings);
        }
        var birthTime = header.Timestamp is { } t && VendorTime.TryFromUnixMilliseconds(t, out var bt) ? bt : message.ReceivedAt;
        if (_pending.Count == 0 && type != MessageType.DBirth) return null;

        if (!TryDevice(message, key, deviceName, out var device, out var reason, listOnly: _pending.Count == 0)) return _pending.Count == 0 ? null : reason;
        if (type == MessageType.DBirth && device.Kind == DeviceKind.Camera)
        {
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.CameraOnline, birthTime, 1));
        }
        foreach (var p in _pending)
        {
            if (VendorContext.KindMismatch(Name, device, p.Kind) is { } refused) return refused;
            if (Check(p, device) is { } invalid) return invalid;
            var label = p.Label ?? p.Kind switch { DeviceKind.Parking => device.Id, _ => null };
            var household = p.Kind == DeviceKind.Meter ? device.Household : null;
            readings.Add(new Reading(device.Id, device.Community, device.Grid, household, p.Metric, p.Time, p.Value, label));
        }
        return null;
    }

    /// <summary>NDEATH or DDEATH: the node's (or one device's) registered cameras go offline at the death's time.</summary>
    private string? Death(in IncomingMessage message, EdgeNode node, Header header, ReadOnlySpan<byte> payload, ReadOnlySpan<char> key,
        ReadOnlySpan<char> deviceName, List<Reading> readings)
    {
        var time = header.Timestamp is { } ms && VendorTime.TryFromUnixMilliseconds(ms, out var at) ? at : message.ReceivedAt;
        if (deviceName.IsEmpty)
        {
            // The will message was registered at connect time with that session's bdSeq: a late will of an earlier
            // session must not take down the session that replaced it.
            if (ReadBdSeq(payload) is { } bdSeq && node.BdSeq is { } session && bdSeq != session) return null;
            var devices = node.Devices.ToArray();
            // A death read out of order (older than the node's newest message) must not end the session that followed it.
            if (message.ReceivedAt >= node.LastReceivedAt) node.End();
            Span<char> source = stackalloc char[VendorContext.MaxSourceLength];
            foreach (var name in new string?[] { null }.Concat(devices))
            {
                if (!TrySource(key, name, source, out var length)) continue;
                if (Context.Registry.FindBySource(source[..length]) is { Kind: DeviceKind.Camera } camera)
                {
                    readings.Add(new Reading(camera.Id, camera.Community, camera.Grid, null, Metrics.CameraOffline, time, 1));
                }
            }
            return null;
        }
        // A death of a device nobody registered says nothing worth keeping: it is not quarantined.
        if (TryDevice(message, key, deviceName, out var device, out _, listOnly: true) && device.Kind == DeviceKind.Camera)
        {
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.CameraOffline, time, 1));
        }
        return null;
    }

    private bool TryDevice(in IncomingMessage message, ReadOnlySpan<char> key, ReadOnlySpan<char> deviceName, out Device device, out string? reason, bool listOnly)
    {
        Span<char> id = stackalloc char[VendorContext.MaxSourceLength];
        if (!TryId(key, deviceName, id, out var length))
        {
            device = null!;
            reason = "sparkplug: group, edge node and device names are too long for a source id";
            return false;
        }
        return Context.TryFind(Name, Name, id[..length], message, out device, out reason, listOnly: listOnly);
    }

    private static bool TryId(ReadOnlySpan<char> key, ReadOnlySpan<char> deviceName, Span<char> id, out int length)
    {
        length = key.Length + (deviceName.IsEmpty ? 0 : 1 + deviceName.Length);
        if (length > id.Length - Name.Length - 1) return false;
        key.CopyTo(id);
        if (!deviceName.IsEmpty)
        {
            id[key.Length] = '/';
            deviceName.CopyTo(id[(key.Length + 1)..]);
        }
        return true;
    }

    private static bool TrySource(ReadOnlySpan<char> key, string? deviceName, Span<char> source, out int length)
    {
        length = 0;
        var prefix = Name.Length + 1;
        if (!TryId(key, deviceName, source[prefix..], out var idLength)) return false;
        Name.CopyTo(source);
        source[Name.Length] = ':';
        length = prefix + idLength;
        return true;
    }

    private static string? Check(in Pending p, Device device)
    {
        switch (p.Kind)
        {
            case DeviceKind.Meter:
                if (p.Label is not null) return $"sparkplug: meter metric {p.Metric} takes no label";
                if (p.Value < 0 && p.Metric != Metrics.WaterLeak) return $"sparkplug: {p.Metric} must not be negative (it is a cumulative register)";
                return VendorContext.MissingHousehold(Name, device);
            case DeviceKind.Gate:
                return p.Label is "in" or "out" ? null : $"sparkplug: gate metric {p.Metric} needs its direction: name it {p.Metric}/in or {p.Metric}/out";
            case DeviceKind.Parking:
                if (p.Metric == Metrics.ParkingOccupied && p.Value is not (0 or 1)) return "sparkplug: parking.occupied must be 0/1 or a boolean";
                return p.Value < 0 ? $"sparkplug: {p.Metric} must not be negative" : null;
            default:
                return p.Value < 0 ? $"sparkplug: {p.Metric} must not be negative" : null;
        }
    }

    /// <summary>A metric name's canonical meaning: <c>parking.free/P1</c> → (parking.free, Parking, "P1"); null for other names.</summary>
    /// <remarks>
    /// A canonical metric with a label that is no usable text (invalid UTF-8, control characters, empty, too long) is
    /// refused with <paramref name="problem"/> rather than passed over as a non-canonical name: passing over it lost
    /// the reading without a dead letter (found by fuzzing).
    /// </remarks>
    private (string Metric, DeviceKind Kind, string? Label, uint DataType)? Canonical(ReadOnlySpan<byte> name, uint dataType, out string? problem)
    {
        problem = null;
        var slash = name.IndexOf((byte)'/');
        var metricPart = slash < 0 ? name : name[..slash];
        foreach (var (utf8, metric, kind) in s_vocabulary)
        {
            if (!metricPart.SequenceEqual(utf8)) continue;
            string? label = null;
            if (slash >= 0)
            {
                var labelPart = name[(slash + 1)..];
                if (labelPart.IsEmpty || labelPart.Length > NativeNormalizer.MaxLabelLength || !System.Text.Unicode.Utf8.IsValid(labelPart))
                {
                    problem = $"metric {metric} has a label after '/' that is empty, longer than {NativeNormalizer.MaxLabelLength} bytes or not UTF-8";
                    return null;
                }
                label = _labels.Intern(labelPart);
                if (!NativeNormalizer.IsCleanText(label))
                {
                    problem = $"metric {metric} has a label with control characters or a trailing backslash";
                    return null;
                }
            }
            return (metric, kind, label, dataType);
        }
        return null;
    }

    private void CheckSequence(EdgeNode node, ReadOnlySpan<char> key, MessageType type, ulong? seq)
    {
        if (seq is not { } s) return;
        if (type != MessageType.NBirth && node.Seq is { } last && s != last && s != (last + 1) % 256)
        {
            Context.Counters.SequenceGap();
            node.Gaps++;
            // The first gap of a node, then every hundredth: a flapping link must not flood the log.
            if (node.Gaps % 100 == 1)
            {
                Context.Logger.LogWarning("Sparkplug edge node {Node}: seq jumped from {Last} to {Seq} ({Gaps} gaps so far): messages were lost or reordered; a rebirth would resynchronise it",
                    key.ToString(), last, s, node.Gaps);
            }
        }
        node.Seq = s;
    }

    private EdgeNode? Node(ReadOnlySpan<char> key)
    {
        if (_nodes.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(key, out var node)) return node;
        if (_nodes.Count >= MaxNodes) return null;
        node = new EdgeNode();
        _nodes[key.ToString()] = node;
        return node;
    }

    private readonly record struct Pending(string Metric, DeviceKind Kind, string? Label, DateTimeOffset Time, double Value);

    private readonly record struct Header(ulong? Timestamp, ulong? Seq);

    private static bool TryReadHeader(ReadOnlySpan<byte> payload, out Header header, out string? error)
    {
        header = default;
        error = null;
        ulong? timestamp = null, seq = null;
        var reader = new ProtobufReader(payload);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.Varint && reader.TryReadVarint(out var ts)) timestamp = ts;
            else if (field == 3 && wire == WireType.Varint && reader.TryReadVarint(out var s)) seq = s;
            else if ((field is 1 or 3 && wire != WireType.Varint) || (field == 2 && wire != WireType.LengthDelimited) || !reader.TrySkip(wire)) break;
        }
        if (!reader.End)
        {
            error = $"sparkplug: payload is not a valid Sparkplug B protobuf (stopped at byte {reader.Position} of {payload.Length})";
            return false;
        }
        header = new Header(timestamp, seq);
        return true;
    }

    private static ulong? ReadBdSeq(ReadOnlySpan<byte> payload)
    {
        var reader = new ProtobufReader(payload);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field != 2 || wire != WireType.LengthDelimited) { if (!reader.TrySkip(wire)) return null; continue; }
            if (!reader.TryReadBytes(out var bytes) || !SparkplugMetric.TryRead(bytes, out var metric)) return null;
            if (metric.NameIs("bdSeq"u8) && metric.TryValue(metric.HasDataType ? metric.DataType : 8, out var value)) return (ulong)value;
        }
        return null;
    }

    /// <summary>One edge node's session: its aliases, the devices born under it, its sequence and bdSeq.</summary>
    private sealed class EdgeNode
    {
        public Dictionary<ulong, (string Metric, DeviceKind Kind, string? Label, uint DataType)?> Aliases { get; } = [];
        public HashSet<string> Devices { get; } = new(StringComparer.Ordinal);
        public DateTimeOffset LastReceivedAt { get; set; } = DateTimeOffset.MinValue;
        public ulong? Seq { get; set; }
        public ulong? BdSeq { get; set; }
        public long Gaps { get; set; }

        public void Begin()
        {
            Aliases.Clear();
            Devices.Clear();
        }

        public void End()
        {
            Aliases.Clear();
            Devices.Clear();
            Seq = null;
        }
    }
}
