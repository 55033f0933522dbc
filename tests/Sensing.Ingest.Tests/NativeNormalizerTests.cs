using System.Text;
using System.Text.Json;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Tests;

public sealed class NativeNormalizerTests
{
    private const string MeterTopic = "sensing/c1/meter/c1-wm-0042";
    private const string GateTopic = "sensing/c1/gate/c1-gate-01";
    private const string ParkingTopic = "sensing/c1/parking/c1-park-01";
    private const string CameraTopic = "sensing/c1/camera/c1-cam-07";

    private readonly DeviceRegistry _registry = World.Registry();
    private readonly NativeNormalizer _normalizer;

    public NativeNormalizerTests() => _normalizer = new NativeNormalizer(_registry);

    private (string? Reason, List<Reading> Readings) Run(string topic, string json) => Run(World.Message(topic, json));

    private (string? Reason, List<Reading> Readings) Run(IncomingMessage message)
    {
        var readings = new List<Reading>();
        var reason = _normalizer.Normalize(message, readings);
        return (reason, readings);
    }

    private Reading Single(string topic, string json)
    {
        var (reason, readings) = Run(topic, json);
        Assert.Null(reason);
        return Assert.Single(readings);
    }

    // ---------- meters ----------

    [Theory]
    [InlineData("water", Metrics.WaterTotal)]
    [InlineData("electricity", Metrics.ElectricityTotal)]
    public void Meter_with_rfc3339_offset_gives_the_register_reading_in_utc(string type, string metric)
    {
        var reading = Single(MeterTopic, $$"""{"ts":"{{World.LocalTs}}","type":"{{type}}","total":123.456,"household":"h-0042"}""");

        Assert.Equal(new Reading("c1-wm-0042", "c1", "g1", "h-0042", metric, World.Utc, 123.456, null, null), reading);
        Assert.Equal(TimeSpan.Zero, reading.Time.Offset);
    }

    [Fact]
    public void Meter_with_epoch_milliseconds_gives_the_same_instant()
    {
        var reading = Single(MeterTopic, $$"""{"ts":{{World.EpochMs}},"type":"water","total":5,"household":"h-0042"}""");

        Assert.Equal(World.Utc, reading.Time);
        Assert.Equal(TimeSpan.Zero, reading.Time.Offset);
        Assert.Equal(5, reading.Value);
    }

    [Fact]
    public void Missing_ts_means_the_receive_time()
    {
        var reading = Single(MeterTopic, """{"type":"water","total":5,"household":"h-0042"}""");

        Assert.Equal(World.ReceivedAt, reading.Time);
    }

    [Fact]
    public void Meter_takes_the_household_from_the_registry_when_the_payload_has_none()
    {
        var reading = Single(MeterTopic, """{"ts":1795130100000,"type":"water","total":1}""");

        Assert.Equal("h-0042", reading.Household);
    }

    [Fact]
    public void Unknown_fields_are_kept_verbatim_in_attributes_including_nested_objects()
    {
        var reading = Single(MeterTopic,
            """{"ts":"2026-11-20T07:15:00+08:00","type":"water","fw":"1.2.3","battery":87,"diag":{"rssi":-71,"tags":["a","b"],"ok":true},"total":10.5,"household":"h-0042","note":null}""");

        Assert.Equal("""{"fw":"1.2.3","battery":87,"diag":{"rssi":-71,"tags":["a","b"],"ok":true},"note":null}""", reading.Attributes);
        Assert.Equal(10.5, reading.Value);
        // And it is valid JSON that parses back.
        using var doc = JsonDocument.Parse(reading.Attributes!);
        Assert.Equal(-71, doc.RootElement.GetProperty("diag").GetProperty("rssi").GetInt32());
    }

    [Fact]
    public void An_escaped_property_name_counts_as_the_field_it_spells()
    {
        var reading = Single(MeterTopic, """{"ts":1795130100000,"type":"water","tot\u0061l":42.5,"household":"h-0042"}""");

        Assert.Equal(42.5, reading.Value);
        Assert.Null(reading.Attributes);
    }

    [Fact]
    public void A_fully_escaped_long_property_name_counts_too()
    {
        // "household" and "credential" spelled entirely in \u escapes: 54 and 60 bytes on the wire.
        var meter = Single("sensing/c1/meter/unregistered-wm-2",
            """{"ts":1795130100000,"type":"water","total":1,"\u0068\u006f\u0075\u0073\u0065\u0068\u006f\u006c\u0064":"h-0099"}""");
        var gate = Single(GateTopic,
            """{"ts":1795130100000,"event":"pass","direction":"in","\u0063\u0072\u0065\u0064\u0065\u006e\u0074\u0069\u0061\u006c":"plate"}""");

        Assert.Equal("h-0099", meter.Household);
        Assert.Null(meter.Attributes);
        Assert.Equal("""{"credential":"plate"}""", gate.Attributes);
    }

    [Fact]
    public void Attributes_do_not_leak_from_one_message_into_the_next()
    {
        var first = Single(MeterTopic, """{"ts":1795130100000,"type":"water","total":1,"household":"h-0042","extra":1}""");
        var second = Single(MeterTopic, """{"ts":1795130160000,"type":"water","total":2,"household":"h-0042"}""");
        var third = Single(MeterTopic, """{"ts":1795130220000,"type":"water","total":3,"household":"h-0042","other":"x"}""");

        Assert.Equal("""{"extra":1}""", first.Attributes);
        Assert.Null(second.Attributes);
        Assert.Equal("""{"other":"x"}""", third.Attributes);
    }

    // ---------- gates ----------

    [Fact]
    public void Gate_pass_with_credential_and_household()
    {
        var reading = Single(GateTopic, $$"""{"ts":{{World.EpochMs}},"event":"pass","direction":"in","credential":"face","household":"h-0042"}""");

        Assert.Equal(new Reading("c1-gate-01", "c1", "g2", "h-0042", Metrics.GatePass, World.Utc, 1, "in", """{"credential":"face"}"""), reading);
    }

    [Theory]
    [InlineData("pass", "out", Metrics.GatePass)]
    [InlineData("denied", "in", Metrics.GateDenied)]
    [InlineData("forced", "in", Metrics.GateForced)]
    [InlineData("held_open", "out", Metrics.GateHeldOpen)]
    public void Gate_events_map_to_their_metrics_with_the_direction_as_label(string gateEvent, string direction, string metric)
    {
        var reading = Single(GateTopic, $$"""{"ts":"{{World.LocalTs}}","event":"{{gateEvent}}","direction":"{{direction}}"}""");

        Assert.Equal(new Reading("c1-gate-01", "c1", "g2", null, metric, World.Utc, 1, direction, null), reading);
    }

    [Fact]
    public void Gate_credential_follows_unknown_fields_in_attributes()
    {
        var reading = Single(GateTopic, """{"ts":1795130100000,"event":"pass","direction":"out","credential":"card","reader":"R2"}""");

        Assert.Equal("""{"reader":"R2","credential":"card"}""", reading.Attributes);
    }

    // ---------- parking ----------

    [Fact]
    public void Parking_lot_gives_free_and_capacity()
    {
        var (reason, readings) = Run(ParkingTopic, $$"""{"ts":{{World.EpochMs}},"lot":"P1","free":12,"capacity":200}""");

        Assert.Null(reason);
        Assert.Equal(
            [
                new Reading("c1-park-01", "c1", "g1", null, Metrics.ParkingFree, World.Utc, 12, "P1", null),
                new Reading("c1-park-01", "c1", "g1", null, Metrics.ParkingCapacity, World.Utc, 200, "P1", null),
            ],
            readings);
    }

    [Fact]
    public void Parking_lot_attributes_ride_on_both_readings()
    {
        var (reason, readings) = Run(ParkingTopic, """{"ts":1795130100000,"lot":"P1","free":0,"capacity":200,"level":-1}""");

        Assert.Null(reason);
        Assert.Equal(2, readings.Count);
        Assert.All(readings, r => Assert.Equal("""{"level":-1}""", r.Attributes));
        Assert.Equal(0, readings[0].Value);
    }

    [Theory]
    [InlineData("true", 1)]
    [InlineData("false", 0)]
    public void Parking_space_gives_occupied_as_one_or_zero(string occupied, double value)
    {
        var reading = Single(ParkingTopic, $$"""{"ts":"{{World.LocalTs}}","space":"B-017","occupied":{{occupied}}}""");

        Assert.Equal(new Reading("c1-park-01", "c1", "g1", null, Metrics.ParkingOccupied, World.Utc, value, "B-017", null), reading);
    }

    // ---------- cameras ----------

    [Fact]
    public void Camera_crowd_counts_heads_with_zone_as_label_and_score_in_attributes()
    {
        var reading = Single(CameraTopic, $$"""{"ts":{{World.EpochMs}},"event":"crowd","count":37,"zone":"east-gate","score":0.87}""");

        Assert.Equal(new Reading("c1-cam-07", "c1", "g3", null, "camera.crowd", World.Utc, 37, "east-gate", """{"score":0.87}"""), reading);
    }

    [Theory]
    [InlineData("person", "camera.person")]
    [InlineData("vehicle", "camera.vehicle")]
    [InlineData("crowd", "camera.crowd")]
    [InlineData("intrusion", "camera.intrusion")]
    [InlineData("smoke", "camera.smoke")]
    [InlineData("fire", "camera.fire")]
    [InlineData("online", Metrics.CameraOnline)]
    [InlineData("offline", Metrics.CameraOffline)]
    public void Camera_events_without_count_count_one(string cameraEvent, string metric)
    {
        var reading = Single(CameraTopic, $$"""{"ts":"{{World.LocalTs}}","event":"{{cameraEvent}}"}""");

        Assert.Equal(new Reading("c1-cam-07", "c1", "g3", null, metric, World.Utc, 1, null, null), reading);
    }

    [Fact]
    public void Camera_score_joins_unknown_fields_in_attributes()
    {
        var reading = Single(CameraTopic, """{"ts":1795130100000,"event":"person","model":{"name":"yolo","v":8},"score":0.5}""");

        Assert.Equal("""{"model":{"name":"yolo","v":8},"score":0.5}""", reading.Attributes);
        using var _ = JsonDocument.Parse(reading.Attributes!);
    }

    // ---------- registry ----------

    [Fact]
    public void An_unregistered_native_device_is_registered_unassigned_and_its_reading_kept()
    {
        var reading = Single("sensing/c9/camera/c9-cam-new", """{"ts":1795130100000,"event":"online"}""");

        Assert.Equal(new Reading("c9-cam-new", "c9", null, null, Metrics.CameraOnline, World.Utc, 1, null, null), reading);
        var device = _registry.FindDevice("c9-cam-new");
        Assert.Equal(new Device("c9-cam-new", DeviceKind.Camera, "c9", null), device);
        Assert.Contains(_registry.Communities, c => c.Id == "c9");
    }

    [Fact]
    public void A_registered_device_keeps_its_registry_community_and_grid_whatever_the_topic_says()
    {
        var reading = Single("sensing/other/meter/c1-wm-0042", """{"ts":1795130100000,"type":"water","total":1,"household":"h-0042"}""");

        Assert.Equal("c1", reading.Community);
        Assert.Equal("g1", reading.Grid);
    }

    // ---------- refusals with their specific reasons ----------

    public static TheoryData<string, string, string> Refusals => new()
    {
        // meters
        { MeterTopic, """{"ts":1795130100000,"total":1,"household":"h-0042"}""", "meter: field 'type' is missing" },
        { MeterTopic, """{"ts":1795130100000,"type":7,"total":1,"household":"h-0042"}""", "meter: field 'type' must be a string" },
        { MeterTopic, """{"ts":1795130100000,"type":"gas","total":1,"household":"h-0042"}""", "meter: field 'type' must be 'water' or 'electricity'" },
        { MeterTopic, """{"ts":1795130100000,"type":"water","household":"h-0042"}""", "meter: field 'total' is missing" },
        { MeterTopic, """{"ts":1795130100000,"type":"water","total":"12.5","household":"h-0042"}""", "meter: field 'total' must be a number" },
        { MeterTopic, """{"ts":1795130100000,"type":"water","total":-0.5,"household":"h-0042"}""", "meter: field 'total' must not be negative (it is a cumulative register)" },
        { "sensing/c1/meter/unregistered-wm", """{"ts":1795130100000,"type":"water","total":1}""", "meter: field 'household' is missing" },
        { "sensing/c1/meter/unregistered-wm", """{"ts":1795130100000,"type":"water","total":1,"household":17}""", "meter: field 'household' must be a string" },
        // gates
        { GateTopic, """{"ts":1795130100000,"direction":"in"}""", "gate: field 'event' is missing" },
        { GateTopic, """{"ts":1795130100000,"event":1,"direction":"in"}""", "gate: field 'event' must be a string" },
        { GateTopic, """{"ts":1795130100000,"event":"tailgate","direction":"in"}""", "gate: field 'event' must be pass, denied, forced or held_open" },
        { GateTopic, """{"ts":1795130100000,"event":"pass"}""", "gate: field 'direction' is missing" },
        { GateTopic, """{"ts":1795130100000,"event":"pass","direction":"up"}""", "gate: field 'direction' must be 'in' or 'out'" },
        { GateTopic, """{"ts":1795130100000,"event":"pass","direction":"in","credential":"pin"}""", "gate: field 'credential' must be card, face, qr or plate" },
        { GateTopic, """{"ts":1795130100000,"event":"pass","direction":"in","credential":3}""", "gate: field 'credential' must be a string" },
        { GateTopic, """{"ts":1795130100000,"event":"pass","direction":"in","household":[]}""", "gate: field 'household' must be a string" },
        // parking
        { ParkingTopic, """{"ts":1795130100000,"space":"B-017","occupied":"yes"}""", "parking: field 'occupied' must be true or false" },
        { ParkingTopic, """{"ts":1795130100000,"space":"B-017"}""", "parking: field 'occupied' is missing" },
        { ParkingTopic, """{"ts":1795130100000,"occupied":true}""", "parking: field 'space' is missing" },
        { ParkingTopic, """{"ts":1795130100000,"lot":"P1","free":201,"capacity":200}""", "parking: 'free' must not exceed 'capacity'" },
        { ParkingTopic, """{"ts":1795130100000,"lot":"P1","free":-1,"capacity":200}""", "parking: 'free' and 'capacity' must not be negative" },
        { ParkingTopic, """{"ts":1795130100000,"lot":"P1","capacity":200}""", "parking: field 'free' is missing" },
        { ParkingTopic, """{"ts":1795130100000,"lot":"P1","free":"12","capacity":200}""", "parking: field 'free' must be a number" },
        { ParkingTopic, """{"ts":1795130100000,"lot":"P1","free":12}""", "parking: field 'capacity' is missing" },
        { ParkingTopic, """{"ts":1795130100000,"lot":5,"free":12,"capacity":200}""", "parking: field 'lot' must be a string" },
        { ParkingTopic, """{"ts":1795130100000,"free":12,"capacity":200}""", "parking: needs either 'space' and 'occupied', or 'lot', 'free' and 'capacity'" },
        // cameras
        { CameraTopic, """{"ts":1795130100000,"zone":"east-gate"}""", "camera: field 'event' is missing" },
        { CameraTopic, """{"ts":1795130100000,"event":true}""", "camera: field 'event' must be a string" },
        { CameraTopic, """{"ts":1795130100000,"event":"ufo"}""", "camera: field 'event' must be person, vehicle, crowd, intrusion, smoke, fire, online or offline" },
        { CameraTopic, """{"ts":1795130100000,"event":"crowd","count":"many"}""", "camera: field 'count' must be a number" },
        { CameraTopic, """{"ts":1795130100000,"event":"crowd","count":-3}""", "camera: field 'count' must not be negative" },
        { CameraTopic, """{"ts":1795130100000,"event":"person","score":"high"}""", "camera: field 'score' must be a number" },
        { CameraTopic, """{"ts":1795130100000,"event":"person","zone":4}""", "camera: field 'zone' must be a string" },
        // time
        { MeterTopic, """{"ts":"2026-11-20T07:15:00","type":"water","total":1,"household":"h-0042"}""", "ts: RFC 3339 time needs an offset (Z or ±hh:mm)" },
        { MeterTopic, """{"ts":"2026-11-20T07:15:00.000","type":"water","total":1,"household":"h-0042"}""", "ts: RFC 3339 time needs an offset (Z or ±hh:mm)" },
        { MeterTopic, """{"ts":1795130100,"type":"water","total":1,"household":"h-0042"}""", "ts: epoch milliseconds out of range (years 2000–2099; were seconds sent?)" },
        { MeterTopic, """{"ts":1795130100000.5,"type":"water","total":1,"household":"h-0042"}""", "ts: epoch milliseconds must be a whole number" },
        { MeterTopic, """{"ts":"1999-12-31T23:59:59+00:00","type":"water","total":1,"household":"h-0042"}""", "ts: time out of range (years 2000–2099)" },
        { MeterTopic, """{"ts":"2026-13-45T07:15:00+08:00","type":"water","total":1,"household":"h-0042"}""", "ts: not an RFC 3339 time" },
        { MeterTopic, """{"ts":true,"type":"water","total":1,"household":"h-0042"}""", "ts: must be an RFC 3339 string or epoch milliseconds" },
        // payload shape
        { MeterTopic, """[{"type":"water","total":1,"household":"h-0042"}]""", "payload must be a JSON object" },
        { MeterTopic, "42", "payload must be a JSON object" },
        { MeterTopic, "\"water\"", "payload must be a JSON object" },
        // topics
        { "sensing/c1/lamp/l-1", """{"ts":1795130100000}""", "unknown device kind 'lamp' (expected meter, gate, parking or camera)" },
        { "sensing/c1//l-1", """{"ts":1795130100000}""", "unknown device kind '' (expected meter, gate, parking or camera)" },
        { "sensing/c1/meter", """{"ts":1795130100000}""", "topic must be sensing/{community}/{kind}/{device}" },
        { "sensing/c1/meter/a/b", """{"ts":1795130100000}""", "topic must be sensing/{community}/{kind}/{device}" },
        { "sensing/c1/meter/a/b/c/d", """{"ts":1795130100000}""", "topic must be sensing/{community}/{kind}/{device}" },
        { "other/c1/meter/c1-wm-0042", """{"ts":1795130100000}""", "topic must be sensing/{community}/{kind}/{device}" },
        { "Sensing/c1/meter/c1-wm-0042", """{"ts":1795130100000}""", "topic must be sensing/{community}/{kind}/{device}" },
        { "/sensing/c1/meter/c1-wm-0042", """{"ts":1795130100000}""", "topic must be sensing/{community}/{kind}/{device}" },
        { "sensing//meter/c1-wm-0042", """{"ts":1795130100000}""", "topic has an empty community or device segment" },
        { "sensing/c1/meter/", """{"ts":1795130100000}""", "topic has an empty community or device segment" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Refused_messages_give_no_readings_and_the_specific_reason(string topic, string json, string expectedReason)
    {
        var (reason, readings) = Run(topic, json);

        Assert.Equal(expectedReason, reason);
        Assert.Empty(readings);
    }

    [Theory]
    [InlineData("""{"type":"water","total":1""")]                                  // truncated mid-object
    [InlineData("""{"type":"water","total":""")]                                   // truncated mid-value
    [InlineData("""{"type":"water" "total":1}""")]                                 // missing comma
    [InlineData("""{"type":'water'}""")]                                           // not JSON quotes
    [InlineData("""{"type":"water","total":1,"household":"h-0042"} trailing""")]  // trailing garbage
    [InlineData("""{"type":"water","total":1,"household":"h-0042"}{}""")]         // a second document
    [InlineData("")]                                                               // empty payload
    [InlineData("   ")]                                                            // only whitespace
    [InlineData("{")]                                                              // only the opening brace
    public void Malformed_json_is_refused_as_malformed(string json)
    {
        var (reason, readings) = Run(MeterTopic, json);

        Assert.NotNull(reason);
        Assert.StartsWith("malformed JSON: ", reason);
        Assert.Empty(readings);
    }

    [Fact]
    public void Trailing_whitespace_after_the_object_is_fine()
    {
        var reading = Single(MeterTopic, "{\"ts\":1795130100000,\"type\":\"water\",\"total\":1,\"household\":\"h-0042\"}\r\n  ");

        Assert.Equal(1, reading.Value);
    }

    [Fact]
    public void Nesting_deeper_than_sixteen_levels_is_refused()
    {
        // The payload object is level 1; an attribute nested 16 more levels deep passes the reader's limit of 16.
        var deep = new string('[', 16) + new string(']', 16);
        var (reason, readings) = Run(MeterTopic, $$"""{"ts":1795130100000,"type":"water","total":1,"household":"h-0042","deep":{{deep}}}""");

        Assert.NotNull(reason);
        Assert.StartsWith("malformed JSON: ", reason);
        Assert.Empty(readings);
    }

    [Fact]
    public void Nesting_within_the_limit_is_kept_as_an_attribute()
    {
        var nested = new string('[', 14) + new string(']', 14);
        var reading = Single(MeterTopic, $$"""{"ts":1795130100000,"type":"water","total":1,"household":"h-0042","deep":{{nested}}}""");

        Assert.Equal($$"""{"deep":{{nested}}}""", reading.Attributes);
    }

    public static TheoryData<string, byte[]> NonUtf8Payloads => new()
    {
        // 0xFF never occurs in UTF-8; 0xC3 0x28 is a broken two-byte sequence.
        { "in a known string field", Bytes("""{"ts":1795130100000,"type":"wat""", [0xFF], """er","total":1,"household":"h-0042"}""") },
        { "in the gate event", Bytes("""{"ts":1795130100000,"event":"pa""", [0xC3, 0x28], """ss","direction":"in"}""") },
        { "in a property name", Bytes("""{"ts":1795130100000,"ty""", [0xFF], """pe":"water","total":1,"household":"h-0042"}""") },
        { "in the household", Bytes("""{"ts":1795130100000,"type":"water","total":1,"household":"h-""", [0xFF], "\"}") },
        { "in an unknown field", Bytes("""{"ts":1795130100000,"type":"water","total":1,"household":"h-0042","note":"a""", [0xC3, 0x28], "\"}") },
        { "outside any string", Bytes("""{"ts":1795130100000,""", [0xFF], "\"type\":\"water\",\"total\":1,\"household\":\"h-0042\"}") },
    };

    [Theory]
    [MemberData(nameof(NonUtf8Payloads))]
    public void Non_utf8_bytes_are_refused_without_throwing(string where, byte[] payload)
    {
        var topic = where == "in the gate event" ? GateTopic : MeterTopic;
        var (reason, readings) = Run(new IncomingMessage(topic, payload, World.ReceivedAt));

        Assert.Equal("payload is not valid UTF-8", reason);
        Assert.Empty(readings);
    }

    [Fact]
    public void A_refused_message_leaves_no_attribute_state_for_the_next()
    {
        var (reason, _) = Run(MeterTopic, """{"ts":1795130100000,"junk":{"a":1},"type":"gas","total":1,"household":"h-0042"}""");
        Assert.NotNull(reason);

        var reading = Single(MeterTopic, """{"ts":1795130100000,"type":"water","total":1,"household":"h-0042"}""");
        Assert.Null(reading.Attributes);
    }

    private static byte[] Bytes(string head, byte[] middle, string tail) =>
        [.. Encoding.UTF8.GetBytes(head), .. middle, .. Encoding.UTF8.GetBytes(tail)];
}
