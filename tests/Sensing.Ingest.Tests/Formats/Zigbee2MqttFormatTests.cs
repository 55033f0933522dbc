using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class Zigbee2MqttFormatTests
{
    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly Zigbee2MqttNormalizer _normalizer;

    public Zigbee2MqttFormatTests() => _normalizer = new Zigbee2MqttNormalizer(_context);

    public static TheoryData<string, string, string[], string?> Table => new()
    {
        { "kitchen-plug.json", "zigbee2mqtt/kitchen_plug", ["c1-plug-z1 electricity.total 2026-11-19T23:15:00.000000Z 12.34 - h-0042 {\"power\":45.1,\"voltage\":229,\"current\":0.2}"], null },
        // last_seen as epoch milliseconds.
        { "bathroom-leak.json", "zigbee2mqtt/bathroom_leak", ["c1-leak-0042 water.leak 2026-11-19T23:15:00.000000Z 1 - h-0042 -"], null },
        { "space-occupancy.json", "zigbee2mqtt/space_b03", ["c1-park-b03 parking.occupied 2026-11-24T02:00:00.000000Z 1 c1-park-b03 - -"], null },
        // A door contact has no canonical metric: skipped, and not even looked up.
        { "door-contact.json", "zigbee2mqtt/front_door_contact", [], null },
        { "energy-string.json", "zigbee2mqtt/kitchen_plug", [], "zigbee2mqtt: 'energy' must be a number" },
        { "space-occupancy.json", "zigbee2mqtt/hall_pir", [], "zigbee2mqtt: device c1-pir-hall (source z2m:hall_pir) is registered as a camera; zigbee2mqtt messages map to meters" },
        { "new-plug.json", "zigbee2mqtt/new_plug", [], "quarantined: unknown device z2m:new_plug " },
        // The bridge's own topics describe the coordinator and the network: skipped on purpose.
        { "bridge-devices.json", "zigbee2mqtt/bridge/devices", [], null },
        { "door-contact.json", "zigbee2mqtt/bridge", [], null },
        { "kitchen-plug.json", "zigbee2mqtt/kitchen_plug/set", [], null },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string topic, string[] expected, string? reason) =>
        Expect(Run(_normalizer, topic, Sample("zigbee2mqtt/" + sample)), expected, reason);

    [Fact]
    public void Availability_payloads_are_skipped_even_when_not_json() =>
        Expect(Run(_normalizer, "zigbee2mqtt/kitchen_plug/availability", "online"), [], null);

    [Fact]
    public void A_plain_text_state_on_a_device_topic_is_refused() =>
        Expect(Run(_normalizer, "zigbee2mqtt/kitchen_plug", "ON"), [], "zigbee2mqtt: malformed JSON");
}
