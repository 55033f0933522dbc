using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class TasmotaFormatTests
{
    private const string Topic = "tele/meter-17/SENSOR";
    private const string Diagnostics = "{\"power\":45,\"voltage\":229,\"current\":0.227}";

    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly TasmotaNormalizer _normalizer;

    public TasmotaFormatTests() => _normalizer = new TasmotaNormalizer(_context);

    public static TheoryData<string, string[], string?> Table => new()
    {
        // Local wall-clock time without an offset, read in Asia/Shanghai: 07:15 there is 23:15 UTC the day before.
        { "sensor-energy.json", ["c1-em-0042 electricity.total 2026-11-19T23:15:00.000000Z 123.456 - h-0042 " + Diagnostics], null },
        { "sensor-energy-offset.json", ["c1-em-0042 electricity.total 2026-11-19T23:15:00.000000Z 123.456 - h-0042 " + Diagnostics], null },
        // NTP has not answered: Tasmota says 1970. The receive time stands in, the device's own time is kept.
        { "sensor-unsynced-clock.json", ["c1-em-0042 electricity.total 2026-11-24T02:00:00.000000Z 123.456 - h-0042 {\"power\":45,\"voltage\":229,\"current\":0.227,\"device_time\":\"1970-01-01T00:00:15\"}"], null },
        // Three phases (SetOption129): the device's register is their sum; per-phase power stays out of the attributes.
        { "sensor-three-phase.json", ["c1-em-0042 electricity.total 2026-11-19T23:15:00.000000Z 6.75 - h-0042 {\"voltage\":229,\"current\":0.227}"], null },
        // A reset register is passed on as it is: the consumption stage counts it as a reset.
        { "sensor-after-reset.json", ["c1-em-0042 electricity.total 2026-11-20T00:15:00.000000Z 0.012 - h-0042 " + Diagnostics], null },
        { "sensor-no-energy.json", [], null },
        { "sensor-total-string.json", [], "tasmota: ENERGY.Total must be a number (kWh)" },
        { "sensor-total-negative.json", [], "tasmota: ENERGY.Total must not be negative" },
        { "sensor-no-total.json", [], "tasmota: ENERGY has no 'Total' (kWh register)" },
        { "sensor-bad-time.json", [], "tasmota: 'Time' must be an ISO 8601 time" },
        { "sensor-two-documents.json", [], "tasmota: malformed JSON: '{' is invalid after a single JSON value" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string[] expected, string? reason) =>
        Expect(Run(_normalizer, Topic, Sample("tasmota/" + sample)), expected, reason);

    [Fact]
    public void Local_time_follows_the_configured_zone()
    {
        var berlin = new TasmotaNormalizer(VendorContext.For(NewRegistry(), TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")));

        var reading = Assert.Single(Run(berlin, Topic, Sample("tasmota/sensor-energy.json")).Readings);

        Assert.Equal(new DateTimeOffset(2026, 11, 20, 6, 15, 0, TimeSpan.Zero), reading.Time);
    }

    [Fact]
    public void An_unregistered_topic_is_quarantined_with_the_source_to_register()
    {
        var (reason, _) = Run(_normalizer, "tele/meter-99/SENSOR", Sample("tasmota/sensor-energy.json"));

        Assert.Equal("quarantined: unknown device tasmota:meter-99 (register it with POST /api/devices and source=tasmota:meter-99; its quarantined messages are then ingested)", reason);
        Assert.Equal("tele/meter-99/SENSOR", Assert.Single(_context.Quarantine.Sources).Topic);
    }

    [Fact]
    public void A_temperature_sensor_of_an_unknown_topic_is_skipped_not_quarantined()
    {
        Expect(Run(_normalizer, "tele/thermo-3/SENSOR", Sample("tasmota/sensor-no-energy.json")), [], null);
        Assert.Equal(0, _context.Quarantine.Count);
    }

    [Fact]
    public void A_meter_without_a_household_in_the_registry_is_refused()
    {
        var registry = NewRegistry();
        registry.Upsert(new Device("c1-em-0042", DeviceKind.Meter, "c1", "g1", Household: null, Source: "tasmota:meter-17"));

        Expect(Run(new TasmotaNormalizer(VendorContext.For(registry)), Topic, Sample("tasmota/sensor-energy.json")), [],
            "tasmota: meter c1-em-0042 (source tasmota:meter-17) has no household in the registry");
    }

    [Theory]
    [InlineData("tele/meter-17/STATE")]
    [InlineData("stat/meter-17/SENSOR")]
    [InlineData("tele/a/b/SENSOR")]
    public void Other_topics_are_refused(string topic) =>
        Expect(Run(_normalizer, topic, Sample("tasmota/sensor-energy.json")), [], "tasmota: topic must be tele/<topic>/SENSOR");
}
