using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class HikvisionFormatTests
{
    private const string Topic = "hikvision/ds-k1t671-e1/event";

    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly HikvisionNormalizer _normalizer;

    public HikvisionFormatTests() => _normalizer = new HikvisionNormalizer(_context);

    public static TheoryData<string, string[], string?> Table => new()
    {
        // Face passed (0x4b) on reader 1 (entry); serial 1842 puts it 842 ms into its second.
        { "face-pass.json", ["c1-gate-east gate.pass 2026-11-19T23:15:00.842000Z 1 in - {\"credential\":\"face\",\"event_code\":75,\"serial\":1842}"], null },
        { "card-denied-exit.json", ["c1-gate-east gate.denied 2026-11-19T23:15:00.843000Z 1 out - {\"credential\":\"card\",\"event_code\":6,\"serial\":1843}"], null },
        // Door 2 of the controller is its own registry gate; a door event has no reader, so it is filed under "in".
        { "door2-forced.json", ["c1-gate-east2 gate.forced 2026-11-19T23:15:00.850000Z 1 in - {\"event_code\":27,\"serial\":1850}"], null },
        { "door-held-open.json", ["c1-gate-east gate.held_open 2026-11-19T23:15:00.851000Z 1 in - {\"event_code\":28,\"serial\":1851}"], null },
        { "wrapped-qr-pass.json", ["c1-gate-east gate.pass 2026-11-19T23:15:00.860000Z 1 in - {\"credential\":\"qr\",\"event_code\":156,\"serial\":1860}"], null },
        { "local-time.json", ["c1-gate-east gate.pass 2026-11-19T23:15:00.000000Z 1 in - {\"credential\":\"face\",\"event_code\":75,\"serial\":2000}"], null },
        { "lock-open.json", [], null },
        { "heartbeat.json", [], null },
        { "operation-event.json", [], null },
        { "sub-event-string.json", [], "hikvision: AccessControllerEvent.subEventType must be a non-negative whole number" },
        { "no-access-object.json", [], "hikvision: AccessControllerEvent notification without its 'AccessControllerEvent' object" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string[] expected, string? reason) =>
        Expect(Run(_normalizer, Topic, Sample("hikvision/" + sample)), expected, reason);

    [Fact]
    public void Personal_data_of_the_event_never_reaches_a_reading()
    {
        var reading = Assert.Single(Run(_normalizer, Topic, Sample("hikvision/face-pass.json")).Readings);

        Assert.DoesNotContain("张三", reading.Attributes, StringComparison.Ordinal);
        Assert.DoesNotContain("1953862610", reading.Attributes, StringComparison.Ordinal);
        Assert.Null(reading.Household);
    }

    [Fact]
    public void Two_passes_in_one_second_are_two_readings_and_a_redelivery_is_the_same_one()
    {
        var first = Run(_normalizer, Topic, Sample("hikvision/face-pass.json")).Readings[0];
        var redelivered = Run(_normalizer, Topic, Sample("hikvision/face-pass.json"), ReceivedAt.AddSeconds(9)).Readings[0];
        var next = Run(_normalizer, Topic, System.Text.Encoding.UTF8.GetString(Sample("hikvision/face-pass.json")).Replace("1842", "1844", StringComparison.Ordinal)).Readings[0];

        Assert.Equal(first, redelivered);
        Assert.NotEqual(first.Time, next.Time);
    }

    [Fact]
    public void An_unknown_controller_is_quarantined() =>
        Expect(Run(_normalizer, "hikvision/ds-k1t341-x9/event", Sample("hikvision/face-pass.json")), [], "quarantined: unknown device hikvision:ds-k1t341-x9 ");

    [Theory]
    [InlineData(0x01, "gate.pass")]
    [InlineData(0x4b, "gate.pass")]
    [InlineData(0x9c, "gate.pass")]
    [InlineData(0x09, "gate.denied")]
    [InlineData(0x4c, "gate.denied")]
    [InlineData(0x1b, "gate.forced")]
    [InlineData(0x1c, "gate.held_open")]
    [InlineData(0x15, null)]
    [InlineData(0x19, null)]
    public void Minor_types_map_to_gate_metrics(int minor, string? metric) => Assert.Equal(metric, HikvisionNormalizer.Classify(minor));
}
