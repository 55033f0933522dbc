using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class ChirpStackFormatTests
{
    private const string Parking = "application/a1b2c3d4-0000-4000-8000-000000000001/device/0004a30b001c0530/event/up";
    private const string Water = "application/a1b2c3d4-0000-4000-8000-000000000001/device/70b3d5e75e001234/event/up";

    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly ChirpStackNormalizer _normalizer;

    public ChirpStackFormatTests() => _normalizer = new ChirpStackNormalizer(_context);

    public static TheoryData<string, string, string[], string?> Table => new()
    {
        { "up-parking-occupied.json", Parking, ["c1-park-a017 parking.occupied 2026-11-19T23:15:00.123456Z 1 c1-park-a017 - {\"battery\":3.6,\"f_cnt\":42}"], null },
        { "up-parking-free.json", Parking, ["c1-park-a017 parking.occupied 2026-11-20T07:30:00.000000Z 0 c1-park-a017 - {\"f_cnt\":43}"], null },
        // Litres in, m³ stored: the register water.total is always m³.
        { "up-water-litres.json", Water, ["c1-wm-0043 water.total 2026-11-19T23:15:00.123456Z 123.456 - h-0043 {\"battery\":3.1,\"f_cnt\":7}"], null },
        { "up-water-m3-unit.json", Water, ["c1-wm-0043 water.total 2026-11-19T23:15:00.123456Z 99999.5 - h-0043 {\"f_cnt\":8}"], null },
        // The counter rolled over at 100 000 m³: passed on, the consumption stage wraps it.
        { "up-water-rolled-over.json", Water, ["c1-wm-0043 water.total 2026-11-20T00:15:00.000000Z 1.2 - h-0043 {\"f_cnt\":9}"], null },
        { "up-water-no-unit.json", Water, [], "chirpstack: object.volume has no unit: send volume_m3 or volume_l, or add \"unit\":\"m3\" or \"unit\":\"L\"" },
        { "up-water-bad-unit.json", Water, [], "chirpstack: object.unit must be m3 or L (volume), kWh or Wh (energy)" },
        { "up-no-codec.json", Parking, [], "chirpstack: uplink has data but no decoded 'object': configure a codec" },
        { "up-mac-only.json", Parking, [], null },
        { "up-status-only.json", Parking, [], null },
        { "up-unknown-device.json", "application/x/device/ffffffffffffffff/event/up", [], "quarantined: unknown device chirpstack:ffffffffffffffff " },
        { "up-occupied-string.json", Parking, [], "chirpstack: object.occupied must be true/false or 1/0" },
        { "up-no-time.json", Parking, ["c1-park-a017 parking.occupied 2026-11-24T02:00:00.000000Z 1 c1-park-a017 - {\"f_cnt\":42}"], null },
        { "up-local-time.json", Parking, [], "chirpstack: 'time' must be an RFC 3339 time with an offset" },
        { "up-meter-as-parking.json", Parking, [], "chirpstack: device c1-park-a017 (source chirpstack:0004a30b001c0530) is registered as a parking, but this message carries meter readings" },
        { "up-parking-occupied.json", Water, [], "chirpstack: deviceInfo.devEui 0004a30b001c0530 differs from the topic's 70b3d5e75e001234" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string topic, string[] expected, string? reason) =>
        Expect(Run(_normalizer, topic, Sample("chirpstack/" + sample)), expected, reason);

    [Fact]
    public void An_upper_case_dev_eui_finds_the_lower_case_source()
    {
        var json = System.Text.Encoding.UTF8.GetString(Sample("chirpstack/up-parking-occupied.json")).Replace("0004a30b001c0530", "0004A30B001C0530", StringComparison.Ordinal);

        var reading = Assert.Single(Run(_normalizer, Parking.ToUpperInvariant().Replace("APPLICATION", "application", StringComparison.Ordinal)
            .Replace("/DEVICE/", "/device/", StringComparison.Ordinal).Replace("/EVENT/UP", "/event/up", StringComparison.Ordinal), json).Readings);

        Assert.Equal("c1-park-a017", reading.Device);
    }

    [Fact]
    public void A_duplicate_uplink_gives_the_same_reading_and_a_late_one_keeps_its_own_time()
    {
        var first = Run(_normalizer, Parking, Sample("chirpstack/up-parking-free.json"));
        var duplicate = Run(_normalizer, Parking, Sample("chirpstack/up-parking-free.json"), ReceivedAt.AddSeconds(30));
        var late = Run(_normalizer, Parking, Sample("chirpstack/up-parking-occupied.json"), ReceivedAt.AddMinutes(1));

        Assert.Equal(first.Readings, duplicate.Readings);
        Assert.True(late.Readings[0].Time < first.Readings[0].Time);
    }
}

public sealed class TheThingsStackFormatTests
{
    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly TheThingsStackNormalizer _normalizer;

    public TheThingsStackFormatTests() => _normalizer = new TheThingsStackNormalizer(_context);

    public static TheoryData<string, string, string[], string?> Table => new()
    {
        // Upper-case DevEUI and nanoseconds, as The Things Stack sends them.
        { "up-parking.json", "v3/parking@ttn/devices/space-a018/up", ["c1-park-a018 parking.occupied 2026-11-19T23:15:00.123456Z 0 c1-park-a018 - {\"f_cnt\":42}"], null },
        { "up-water.json", "v3/parking@ttn/devices/wm-0044/up", ["c1-wm-0044 water.total 2026-11-19T23:15:00.123456Z 12.345 - h-0044 {\"battery\":3,\"f_cnt\":42}"], null },
        // No DevEUI (an ABP counter): the device id names it.
        { "up-lot-no-eui.json", "v3/parking@ttn/devices/lot-p2-counter/up",
            ["c1-lot-p2 parking.free 2026-11-19T23:15:00.123456Z 12 P2 - {\"f_cnt\":42}", "c1-lot-p2 parking.capacity 2026-11-19T23:15:00.123456Z 200 P2 - {\"f_cnt\":42}"], null },
        { "up-energy-wh.json", "v3/parking@ttn/devices/em-0046/up", ["c1-em-0046 electricity.total 2026-11-19T23:15:00.123456Z 5 - h-0046 {\"f_cnt\":42}"], null },
        { "up-free-exceeds-capacity.json", "v3/parking@ttn/devices/lot-p2-counter/up", [], "tts: decoded_payload.free must not exceed .capacity" },
        { "up-no-formatter.json", "v3/parking@ttn/devices/space-a018/up", [], "tts: uplink has frm_payload but no decoded_payload" },
        { "up-without-uplink.json", "v3/parking@ttn/devices/space-a018/up", [], "tts: message has no 'uplink_message'" },
        { "up-bad-time.json", "v3/parking@ttn/devices/space-a018/up", [], "tts: uplink_message.received_at must be an RFC 3339 time with an offset" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string topic, string[] expected, string? reason) =>
        Expect(Run(_normalizer, topic, Sample("tts/" + sample)), expected, reason);

    [Fact]
    public void An_unknown_device_is_quarantined_under_its_lower_case_dev_eui()
    {
        var json = System.Text.Encoding.UTF8.GetString(Sample("tts/up-parking.json")).Replace("0004A30B001C0531", "0004A30B001C0FFF", StringComparison.Ordinal);

        var (reason, _) = Run(_normalizer, "v3/parking@ttn/devices/space-new/up", json);

        Assert.StartsWith("quarantined: unknown device tts:0004a30b001c0fff ", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_topics_are_refused() =>
        Expect(Run(_normalizer, "v3/parking@ttn/devices/space-a018/join", Sample("tts/up-parking.json")), [], "tts: topic must be v3/<application>@<tenant>/devices/<device>/up");
}
