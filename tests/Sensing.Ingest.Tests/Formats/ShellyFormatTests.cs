using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class ShellyFormatTests
{
    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly ShellyNormalizer _normalizer;

    public ShellyFormatTests() => _normalizer = new ShellyNormalizer(_context);

    public static TheoryData<string, string, string[], string?> Table => new()
    {
        // Wh on the wire, kWh in the store; params.ts is the time.
        { "notify-status-emdata.json", "shellypro3em-abc/events/rpc", ["c1-em-0043 electricity.total 2026-11-19T23:15:00.120000Z 123.4567 - h-0043 -"], null },
        // Only power changed: NotifyStatus carries no register, nothing to store.
        { "notify-status-power-only.json", "shellypro3em-abc/events/rpc", [], null },
        // Channels 0 and 1 are registered meters; channel 2 is not (listed in quarantine, the others still stored).
        { "notify-full-status-4pm.json", "shellypro4pm-aa/events/rpc",
            ["c1-plug-a electricity.total 2026-11-19T23:15:00.000000Z 1.0005 - h-0042 {\"power\":12.5}",
             "c1-plug-b electricity.total 2026-11-19T23:15:00.000000Z 2 - h-0043 {\"power\":0}"], null },
        { "notify-event.json", "shellypro4pm-aa/events/rpc", [], null },
        // Generic status notification: the component's status object, no time of its own.
        { "status-switch0.json", "shellypro4pm-aa/status/switch:0", ["c1-plug-a electricity.total 2026-11-24T02:00:00.000000Z 1.00125 - h-0042 {\"power\":12}"], null },
        { "status-sys.json", "shellypro4pm-aa/status/sys", [], null },
        { "notify-status-total-string.json", "shellyplus1pm-x/events/rpc", [], "shelly: switch:0.aenergy.total must be a number (Wh)" },
        { "notify-status-unknown.json", "shellyplus1pm-zz/events/rpc", [], "quarantined: unknown device shelly:shellyplus1pm-zz " },
        // Milliseconds where seconds belong: refused rather than stored in the year 58853.
        { "notify-status-ts-seconds-wrong.json", "shellypro3em-abc/events/rpc", [], "shelly: params.ts must be Unix seconds" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string topic, string[] expected, string? reason) =>
        Expect(Run(_normalizer, topic, Sample("shelly/" + sample)), expected, reason);

    [Fact]
    public void An_unregistered_channel_beside_registered_ones_is_listed_without_counting_a_quarantined_message()
    {
        Run(_normalizer, "shellypro4pm-aa/events/rpc", Sample("shelly/notify-full-status-4pm.json"));

        Assert.Equal("shelly:shellypro4pm-aa/2", Assert.Single(_context.Quarantine.Sources).Source);
        Assert.Equal(0, _context.Quarantine.Quarantined("shelly"));
    }

    [Fact]
    public void A_message_with_no_registered_channel_counts_as_one_quarantined_message()
    {
        Run(_normalizer, "shellyplus1pm-zz/events/rpc", Sample("shelly/notify-status-unknown.json"));

        Assert.Equal(1, _context.Quarantine.Quarantined("shelly"));
    }

    [Theory]
    [InlineData("esphome-kitchen/status", "online")]                    // ESPHome's availability under the same filter
    [InlineData("homeassistant/status", "online")]
    [InlineData("shellypro4pm-aa/status/input:0", "{\"id\":0,\"state\":false}")]
    public void Other_status_topics_under_the_wide_filter_are_skipped_not_refused(string topic, string payload)
    {
        Expect(Run(_normalizer, topic, payload), [], null);
        Assert.Equal(0, _context.Quarantine.Count);
    }
}
