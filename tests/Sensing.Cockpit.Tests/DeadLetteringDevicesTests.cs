using Sensing.Cockpit.Tiles;
using Sensing.Ingest.Registry;
using Sensing.Telemetry;

namespace Sensing.Cockpit.Tests;

/// <summary>Which device a dead letter is charged to on the wall screen's device-health tile.</summary>
public sealed class DeadLetteringDevicesTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    private static DeadLetter Letter(string topic, string format) => new(topic, [], 0, At, "bad", format);

    [Fact]
    public void Native_topics_name_the_device_and_a_registered_device_its_community()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Device("wm-7", DeviceKind.Meter, "c2", "g1", "h-1"));

        Assert.Equal(("c1", "gate-9"), DeadLetteringDevices.Attribute(Letter("sensing/c1/gate/gate-9", "native"), registry));
        // The registry knows better than a topic that names the wrong community.
        Assert.Equal(("c2", "wm-7"), DeadLetteringDevices.Attribute(Letter("sensing/c1/meter/wm-7", "native"), registry));
        Assert.Equal(("c3", "lot-1"), DeadLetteringDevices.Attribute(Letter("store/c3/lot-1", "store"), registry));
    }

    [Fact]
    public void Vendor_topics_are_charged_to_the_device_mapped_to_their_source()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Device("c1-meter-17", DeviceKind.Meter, "c1", "g2", "h-2", Source: "tasmota:meter-17"));

        Assert.Equal(("c1", "c1-meter-17"), DeadLetteringDevices.Attribute(Letter("tele/meter-17/SENSOR", "tasmota"), registry));
        // Another format's device of the same name is not this one; an unmapped vendor topic is charged to nobody.
        Assert.Null(DeadLetteringDevices.Attribute(Letter("zigbee2mqtt/meter-17x", "zigbee2mqtt"), registry));
        Assert.Null(DeadLetteringDevices.Attribute(Letter("frigate/events", "frigate"), registry));
        Assert.Null(DeadLetteringDevices.Attribute(Letter("sensing/c1/meter/", "native"), registry));
    }
}
