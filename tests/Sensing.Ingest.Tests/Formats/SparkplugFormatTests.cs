using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.SparkplugWriter;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class SparkplugFormatTests
{
    private const string Node = "spBv1.0/c1/{0}/plant1";
    private static readonly DateTimeOffset T = new(2026, 11, 19, 23, 15, 0, TimeSpan.Zero);

    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private SparkplugNormalizer _normalizer;
    private int _message;

    public SparkplugFormatTests() => _normalizer = new SparkplugNormalizer(_context);

    private static string NodeTopic(string type) => string.Format(System.Globalization.CultureInfo.InvariantCulture, Node, type);
    private static string DeviceTopic(string type, string device) => NodeTopic(type) + "/" + device;

    /// <summary>Each message arrives a second after the previous one, as a live session does.</summary>
    private (string? Reason, List<Reading> Readings) Send(string topic, byte[] payload) => Run(_normalizer, topic, payload, ReceivedAt.AddSeconds(++_message));

    private static byte[] NBirth(ulong seq = 0, ulong bdSeq = 3) => Payload(Ms(T), seq,
        new Metric("bdSeq", DataType: SpType.UInt64, Value: bdSeq),
        new Metric("Node Control/Rebirth", Alias: 100, DataType: SpType.Boolean, Value: false));

    private static byte[] MeterBirth(ulong seq) => Payload(Ms(T), seq,
        new Metric("water.total", Alias: 1, Timestamp: Ms(T), DataType: SpType.Double, Value: 12.5),
        new Metric("Properties/Firmware", Alias: 2, DataType: SpType.String, Value: "2.1.0"));

    /// <summary>A whole session read in order: births, data by alias, deaths. Sample → canonical readings, step by step.</summary>
    [Fact]
    public void A_session_read_in_order_gives_these_readings()
    {
        (string Topic, byte[] Payload, string[] Expected)[] steps =
        [
            (NodeTopic("NBIRTH"), NBirth(), []),
            (DeviceTopic("DBIRTH", "meter7"), MeterBirth(seq: 1), ["c1-wm-0045 water.total 2026-11-19T23:15:00.000000Z 12.5 - h-0045 -"]),
            // Data by alias only, datatype from the birth; the metric's own timestamp is the reading time.
            (DeviceTopic("DDATA", "meter7"), Payload(Ms(T.AddMinutes(15)), 2, new Metric(Alias: 1, Timestamp: Ms(T.AddMinutes(15)), Value: 12.75)),
                ["c1-wm-0045 water.total 2026-11-19T23:30:00.000000Z 12.75 - h-0045 -"]),
            (DeviceTopic("DBIRTH", "gate2"), Payload(Ms(T), 3, new Metric("gate.pass/in", Alias: 10, DataType: SpType.UInt32)), []),
            (DeviceTopic("DDATA", "gate2"), Payload(Ms(T.AddMinutes(16)), 4, new Metric(Alias: 10, Value: 1u)),
                ["c1-gate-north gate.pass 2026-11-19T23:31:00.000000Z 1 in - -"]),
            // A camera born is a camera online; its Int32 crowd count is sign-aware.
            (DeviceTopic("DBIRTH", "cam3"), Payload(Ms(T.AddMinutes(17)), 5, new Metric("camera.crowd/east-gate", Alias: 20, DataType: SpType.Int32, Value: 37)),
                ["c1-cam-lobby camera.online 2026-11-19T23:32:00.000000Z 1 - - -", "c1-cam-lobby camera.crowd 2026-11-19T23:32:00.000000Z 37 east-gate - -"]),
            // A lot counter: labels per lot, Float and Int64 values.
            (DeviceTopic("DBIRTH", "lot9"), Payload(Ms(T.AddMinutes(18)), 6,
                new Metric("parking.free/P9", Alias: 30, DataType: SpType.Float, Value: 12f), new Metric("parking.capacity/P9", Alias: 31, DataType: SpType.Int64, Value: 200L)),
                ["c1-park-p9 parking.free 2026-11-19T23:33:00.000000Z 12 P9 - -", "c1-park-p9 parking.capacity 2026-11-19T23:33:00.000000Z 200 P9 - -"]),
            // A will from an earlier session (bdSeq 2) must not take this one down.
            (NodeTopic("NDEATH"), Payload(null, null, new Metric("bdSeq", DataType: SpType.UInt64, Value: 2UL)), []),
            (NodeTopic("NDEATH"), Payload(Ms(T.AddMinutes(20)), null, new Metric("bdSeq", DataType: SpType.UInt64, Value: 3UL)),
                ["c1-cam-lobby camera.offline 2026-11-19T23:35:00.000000Z 1 - - -"]),
        ];
        foreach (var (topic, payload, expected) in steps)
        {
            var result = Send(topic, payload);
            Assert.True(result.Reason is null, $"{topic}: {result.Reason}");
            Assert.Equal(expected, result.Readings.Select(Line).ToArray());
        }
        Assert.Equal(0, _context.Counters.SequenceGaps);
    }

    [Fact]
    public void A_device_death_takes_a_camera_offline()
    {
        Send(NodeTopic("NBIRTH"), NBirth());
        Send(DeviceTopic("DBIRTH", "cam3"), Payload(Ms(T), 1, new Metric("camera.person", Alias: 5, DataType: SpType.UInt32, Value: 0u)));

        var death = Send(DeviceTopic("DDEATH", "cam3"), Payload(Ms(T.AddMinutes(1)), 2));

        Assert.Equal(["c1-cam-lobby camera.offline 2026-11-19T23:16:00.000000Z 1 - - -"], death.Readings.Select(Line));
    }

    [Fact]
    public void A_sequence_gap_is_counted_and_the_message_still_read_while_a_redelivery_is_no_gap()
    {
        Send(NodeTopic("NBIRTH"), NBirth());
        Send(DeviceTopic("DBIRTH", "meter7"), MeterBirth(seq: 1));
        var data = Payload(Ms(T.AddMinutes(15)), 2, new Metric(Alias: 1, Value: 13.0));
        Send(DeviceTopic("DDATA", "meter7"), data);
        Send(DeviceTopic("DDATA", "meter7"), data);                                      // QoS 1 redelivery: same seq
        Assert.Equal(0, _context.Counters.SequenceGaps);

        var afterGap = Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T.AddMinutes(45)), 5, new Metric(Alias: 1, Value: 14.0)));   // 3 and 4 lost

        Assert.Equal(1, _context.Counters.SequenceGaps);
        Assert.Equal(14.0, Assert.Single(afterGap.Readings).Value);
        // 255 wraps to 0 without a gap.
        Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T.AddMinutes(46)), 255, new Metric(Alias: 1, Value: 14.1)));
        Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T.AddMinutes(47)), 0, new Metric(Alias: 1, Value: 14.2)));
        Assert.Equal(2, _context.Counters.SequenceGaps);   // 5 → 255 was one more gap; 255 → 0 was not
    }

    [Fact]
    public void Data_by_an_alias_no_birth_defined_is_refused_with_the_way_out()
    {
        var (reason, _) = Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T), 7, new Metric(Alias: 1, Value: 13.0)));

        Assert.Equal("sparkplug: metric alias 1 is unknown: no birth defined it since ingest started (the edge node must rebirth: NCMD Node Control/Rebirth)", reason);
    }

    [Fact]
    public void Data_with_names_needs_no_birth() =>
        Expect(Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T), 7, new Metric("water.total", DataType: SpType.Double, Value: 13.0))),
            ["c1-wm-0045 water.total 2026-11-19T23:15:00.000000Z 13 - h-0045 -"], null);

    [Fact]
    public void A_replayed_old_birth_does_not_rewind_the_session()
    {
        Send(NodeTopic("NBIRTH"), NBirth());
        Send(DeviceTopic("DBIRTH", "meter7"), MeterBirth(seq: 1));
        // A quarantined birth released later carries its old receive time and different aliases.
        Run(_normalizer, DeviceTopic("DBIRTH", "meter7"), Payload(Ms(T.AddDays(-1)), 1, new Metric("water.total", Alias: 9, DataType: SpType.Double, Value: 1.0)), ReceivedAt.AddDays(-1));

        var data = Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T.AddMinutes(15)), 2, new Metric(Alias: 1, Value: 13.0)));

        Assert.Null(data.Reason);
        Assert.Equal(0, _context.Counters.SequenceGaps);
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "garbage", DeviceTopic("DDATA", "meter7"), "sparkplug: payload is not a valid Sparkplug B protobuf" },
        { "no-device-segment", NodeTopic("DDATA"), "sparkplug: DDATA topics need a device segment" },
        { "gate-without-direction", DeviceTopic("DDATA", "gate2"), "sparkplug: gate metric gate.pass needs its direction: name it gate.pass/in or gate.pass/out" },
        { "negative-count", DeviceTopic("DDATA", "cam3"), "sparkplug: camera.crowd must not be negative" },
        { "string-register", DeviceTopic("DDATA", "meter7"), "sparkplug: metric water.total has datatype 12; canonical metrics need a number or a boolean" },
        { "seq-300", DeviceTopic("DDATA", "meter7"), "sparkplug: seq 300 is out of range (0–255)" },
        { "meter-on-gate", DeviceTopic("DDATA", "gate2"), "sparkplug: device c1-gate-north (source sparkplug:c1/plant1/gate2) is registered as a gate, but this message carries meter readings" },
        { "unknown-device", DeviceTopic("DBIRTH", "meter99"), "quarantined: unknown device sparkplug:c1/plant1/meter99 " },
        { "bad-type", NodeTopic("NHELLO"), "sparkplug: unknown message type 'NHELLO'" },
        { "timestamp-seconds", DeviceTopic("DDATA", "meter7"), "sparkplug: timestamp of metric water.total is out of range" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Malformed_messages_are_refused_with_a_specific_reason(string sample, string topic, string reason)
    {
        var payload = sample switch
        {
            "garbage" => [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01],
            "gate-without-direction" => Payload(Ms(T), 1, new Metric("gate.pass", DataType: SpType.UInt32, Value: 1u)),
            "negative-count" => Payload(Ms(T), 1, new Metric("camera.crowd", DataType: SpType.Int8, Value: -3)),
            "string-register" => Payload(Ms(T), 1, new Metric("water.total", DataType: SpType.String, Value: "12.5")),
            "seq-300" => Payload(Ms(T), 300, new Metric("water.total", DataType: SpType.Double, Value: 1.0)),
            "meter-on-gate" => Payload(Ms(T), 1, new Metric("water.total", DataType: SpType.Double, Value: 1.0)),
            "unknown-device" => MeterBirth(seq: 1),
            "timestamp-seconds" => Payload(null, 1, new Metric("water.total", Timestamp: (ulong)T.ToUnixTimeSeconds(), DataType: SpType.Double, Value: 1.0)),
            _ => Payload(Ms(T), 1, new Metric("water.total", DataType: SpType.Double, Value: 1.0)),
        };

        Expect(Send(topic, payload), [], reason);
    }

    [Theory]
    [InlineData("spBv1.0/c1/NCMD/plant1")]
    [InlineData("spBv1.0/c1/DCMD/plant1/meter7")]
    [InlineData("spBv1.0/STATE/scada-host")]
    public void Commands_and_host_state_are_skipped(string topic) =>
        Expect(Send(topic, Payload(Ms(T), null, new Metric("Node Control/Rebirth", DataType: SpType.Boolean, Value: true))), [], null);

    [Fact]
    public void A_birth_of_an_unknown_device_without_canonical_metrics_is_listed_not_dead_lettered()
    {
        var (reason, readings) = Send(DeviceTopic("DBIRTH", "plc-tags"), Payload(Ms(T), 1, new Metric("Motor/Speed", Alias: 40, DataType: SpType.Float, Value: 3.5f)));

        Assert.Null(reason);
        Assert.Empty(readings);
        Assert.Equal("sparkplug:c1/plant1/plc-tags", Assert.Single(_context.Quarantine.Sources).Source);
        Assert.Equal(0, _context.Quarantine.Quarantined("sparkplug"));
    }

    [Fact]
    public void Null_metrics_and_non_canonical_metrics_are_not_stored() =>
        Expect(Send(DeviceTopic("DDATA", "meter7"), Payload(Ms(T), 1,
            new Metric("water.total", DataType: SpType.Double, IsNull: true),
            new Metric("Inputs/Pressure", DataType: SpType.Double, Value: 2.5))), [], null);
}
