using Sensing.Ingest.Tests.Formats;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>What the fuzzer found, one regression test each: the input it produced (reduced by hand) and the refusal now given.</summary>
public sealed class FuzzFindingsTests
{
    private readonly FuzzRig _world = new();

    /// <summary>
    /// Valid UTF-8 that escapes an unpaired surrogate passed the UTF-8 check, then threw InvalidOperationException out of
    /// the normalizer when the string was read (the pipeline's catch-all turned it into "normalizer native failed").
    /// </summary>
    [Theory]
    [InlineData("sensing/c1/camera/c1-cam-07", """{"event":"crowd","count":3,"zone":"\ud800east"}""", "malformed JSON: Cannot read incomplete UTF-16 JSON text")]
    [InlineData("sensing/c1/meter/c1-wm-0042", """{"type":"water","total":1,"household":"h-\udc00"}""", "malformed JSON: ")]
    [InlineData("v3/parking@ttn/devices/space-new/up", """{"received_at":"\udc00x"}""", "tts: malformed JSON: Cannot read invalid UTF-16 JSON text")]
    [InlineData("frigate/events", """{"type":"new","after":{"camera":"\ud800","label":"person","start_time":1795130100.5}}""", "frigate: malformed JSON: ")]
    [InlineData("hikvision/ds-k1t671-e1/event", """{"dateTime":"\ud83d","eventType":"AccessControllerEvent"}""", "hikvision: malformed JSON: ")]
    public void An_escaped_unpaired_surrogate_is_refused_not_thrown(string topic, string json, string reason) =>
        Expect(_world.Run(topic, json), [], reason);

    /// <summary>A damaged literal spanning lines made the reason quote a line break: a reason is one line.</summary>
    [Fact]
    public void A_malformed_json_reason_is_one_line_and_short()
    {
        var (reason, _) = _world.Run("zigbee2mqtt/kitchen_plug", "{\n  \"contact\": fal.e,\n  \"battery\": 90\n}\n" + new string('x', 5000));

        Assert.StartsWith("zigbee2mqtt: malformed JSON: ", reason);
        Assert.DoesNotContain('\n', reason!);
        Assert.True(reason!.Length < 300, reason);
    }

    /// <summary>Frigate quoted a short bad count as it came, line break and all.</summary>
    [Fact]
    public void A_quoted_frigate_count_stays_on_one_line()
    {
        var (reason, _) = _world.Run("frigate/front_door/car", "{\n  \"");

        Assert.Equal("frigate: an object count must be a non-negative whole number, got '{   \"'", reason);
    }

    /// <summary>
    /// A varint that never ends consumed the rest of the payload; the reader then stood at the end, and the metric loop,
    /// which ignored the failed skip, took the payload for a clean one: skipped without a dead letter.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0x12, 0x00, 0x07 })]         // a metric, then a tag with field 0 and wire type 7 as the last byte
    [InlineData(new byte[] { 0x10, 0x05, 0x10 })]         // field 2 as a varint, then a varint cut off
    public void Protobuf_that_fails_to_read_is_refused_not_skipped(byte[] payload)
    {
        var (reason, readings) = _world.Run("spBv1.0/c1/DDATA/plant1/meter7", payload);

        Assert.Empty(readings);
        Assert.NotNull(reason);
        Assert.StartsWith("sparkplug: payload is not a", reason);
    }

    /// <summary>A canonical metric with a label that is not UTF-8 text was passed over as "not canonical": the reading was lost silently.</summary>
    [Fact]
    public void A_canonical_sparkplug_metric_with_an_unusable_label_is_refused()
    {
        var payload = SparkplugWriter.Payload(SparkplugWriter.Ms(new DateTimeOffset(2026, 11, 19, 23, 15, 0, TimeSpan.Zero)), 6,
            new SparkplugWriter.Metric("parking.free/P\u0001", DataType: SpType.Int32, Value: 5));

        Expect(_world.Run("spBv1.0/c1/DDATA/plant1/lot9", payload), [], "sparkplug: metric parking.free has a label with control characters");
    }

    /// <summary>
    /// Only an NBIRTH cleared an edge node's aliases and born devices, so DBIRTHs with ever new aliases or device names grew
    /// them without bound (found reading the normalizers' state). Now each node holds a bounded number.
    /// </summary>
    [Fact]
    public void An_edge_node_cannot_grow_its_aliases_or_devices_without_bound()
    {
        var t = SparkplugWriter.Ms(new DateTimeOffset(2026, 11, 19, 23, 15, 0, TimeSpan.Zero));
        Assert.Null(_world.Run("spBv1.0/fz/NBIRTH/flood", SparkplugWriter.Payload(t, 0)).Reason);
        string? reason = null;
        for (var birth = 0; birth < 11 && reason is null; birth++)
        {
            var metrics = Enumerable.Range(birth * 1000, 1000)
                .Select(alias => new SparkplugWriter.Metric("gate.pass/in", Alias: (ulong)alias, DataType: SpType.UInt32)).ToArray();
            reason = _world.Run("spBv1.0/fz/DBIRTH/flood/gate", SparkplugWriter.Payload(t, (ulong)(birth + 1), metrics)).Reason;
        }
        Assert.Equal("sparkplug: edge node fz/flood defines more than 10000 metric aliases; refusing more (an NBIRTH starts afresh)", reason);

        Assert.Null(_world.Run("spBv1.0/fz/NBIRTH/flood", SparkplugWriter.Payload(t, 0)).Reason);
        reason = null;
        for (var device = 0; device <= 1000 && reason is null; device++)
        {
            reason = _world.Run($"spBv1.0/fz/DBIRTH/flood/d{device}", SparkplugWriter.Payload(t, (ulong)(device % 256))).Reason;
        }
        Assert.Equal("sparkplug: edge node fz/flood has more than 1000 devices born; refusing a new one (an NBIRTH starts afresh)", reason);
    }

    [Theory]
    // 200,000 characters of "zone": a series key that every store and screen would carry.
    [InlineData("sensing/c1/camera/c1-cam-07", "{\"event\":\"crowd\",\"count\":3,\"zone\":\"ZONE\"}", "field 'zone' is longer than 128 characters")]
    [InlineData("sensing/c1/parking/c1-park-01", "{\"lot\":\"ZONE\",\"free\":1,\"capacity\":2}", "field 'lot' is longer than 128 characters")]
    [InlineData("sensing/c1/meter/c1-wm-0042", "{\"type\":\"water\",\"total\":1,\"household\":\"ZONE\"}", "field 'household' is longer than 128 characters")]
    // 200 KB of unknown fields: every reading would carry them into the store as attributes.
    [InlineData("sensing/c1/camera/c1-cam-07", "{\"event\":\"person\",\"extra\":\"ZONE\"}", "unknown fields take 200")]
    public void Huge_labels_and_attributes_are_refused(string topic, string template, string reason) =>
        Expect(_world.Run(topic, template.Replace("ZONE", new string('z', 200_000), StringComparison.Ordinal)), [], reason);

    [Fact]
    public void Attributes_up_to_the_limit_are_still_kept()
    {
        var (reason, readings) = _world.Run("sensing/c1/camera/c1-cam-07", "{\"event\":\"person\",\"extra\":\"" + new string('z', 4000) + "\"}");

        Assert.Null(reason);
        Assert.Contains(new string('z', 4000), Assert.Single(readings).Attributes);
    }

    /// <summary>A household sent as an object (here with a resident's name in it) was ignored in favour of the registry's.</summary>
    [Fact]
    public void A_meter_household_of_the_wrong_type_is_refused_even_when_the_registry_knows_the_household() =>
        Expect(_world.Run("sensing/c1/meter/c1-wm-0042", """{"type":"water","total":1,"household":{"name":"张三"}}"""), [], "meter: field 'household' must be a string");

    [Fact]
    public void A_camera_count_must_be_whole() =>
        Expect(_world.Run("sensing/c1/camera/c1-cam-07", """{"event":"crowd","count":2.5}"""), [], "camera: field 'count' must be a whole number");

    [Theory]
    [InlineData("\"doorNo\":0,\"cardReaderNo\":1", "hikvision: AccessControllerEvent.doorNo must be 1 or more")]
    [InlineData("\"doorNo\":1,\"cardReaderNo\":0", "hikvision: AccessControllerEvent.cardReaderNo must be 1 or more")]
    public void Hikvision_doors_and_readers_count_from_one(string numbers, string reason) =>
        Expect(_world.Run("hikvision/ds-k1t671-e1/event",
            "{\"dateTime\":\"2026-11-20T07:15:00+08:00\",\"eventType\":\"AccessControllerEvent\",\"AccessControllerEvent\":{\"majorEventType\":5,\"subEventType\":75," + numbers + "}}"),
            [], reason);
}
