using System.Globalization;
using System.Text;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Tests.Formats;

/// <summary>
/// The registry the vendor format tests share: community c1 with devices mapped to vendor source ids, and helpers
/// that run a normalizer on a sample file and print readings in one comparable line each.
/// </summary>
internal static class VendorWorld
{
    public static readonly DateTimeOffset ReceivedAt = new(2026, 11, 24, 2, 0, 0, TimeSpan.Zero);

    public static DeviceRegistry NewRegistry()
    {
        var registry = World.Registry();
        foreach (var household in new[] { "h-0043", "h-0044", "h-0045", "h-0046" })
        {
            registry.Upsert(new Household(household, "c1", "g1"));
        }
        Device[] devices =
        [
            new("c1-cam-front", DeviceKind.Camera, "c1", "g2", Source: "frigate:front_door"),
            new("c1-cam-back", DeviceKind.Camera, "c1", "g2", Source: "frigate:back_yard"),
            new("c1-em-0042", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "tasmota:meter-17"),
            new("c1-em-0043", DeviceKind.Meter, "c1", "g1", "h-0043", Source: "shelly:shellypro3em-abc"),
            new("c1-plug-a", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "shelly:shellypro4pm-aa"),
            new("c1-plug-b", DeviceKind.Meter, "c1", "g1", "h-0043", Source: "shelly:shellypro4pm-aa/1"),
            new("c1-park-a017", DeviceKind.Parking, "c1", "g1", Source: "chirpstack:0004a30b001c0530"),
            new("c1-wm-0043", DeviceKind.Meter, "c1", "g1", "h-0043", Source: "chirpstack:70b3d5e75e001234"),
            new("c1-park-a018", DeviceKind.Parking, "c1", "g1", Source: "tts:0004a30b001c0531"),
            new("c1-wm-0044", DeviceKind.Meter, "c1", "g1", "h-0044", Source: "tts:70b3d5e75e005678"),
            new("c1-lot-p2", DeviceKind.Parking, "c1", "g1", Source: "tts:lot-p2-counter"),
            new("c1-em-0046", DeviceKind.Meter, "c1", "g1", "h-0046", Source: "tts:70b3d5e75e009999"),
            new("c1-plug-z1", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "z2m:kitchen_plug"),
            new("c1-leak-0042", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "z2m:bathroom_leak"),
            new("c1-park-b03", DeviceKind.Parking, "c1", "g1", Source: "z2m:space_b03"),
            new("c1-pir-hall", DeviceKind.Camera, "c1", "g1", Source: "z2m:hall_pir"),
            new("c1-wm-0045", DeviceKind.Meter, "c1", "g1", "h-0045", Source: "sparkplug:c1/plant1/meter7"),
            new("c1-gate-north", DeviceKind.Gate, "c1", "g2", Source: "sparkplug:c1/plant1/gate2"),
            new("c1-cam-lobby", DeviceKind.Camera, "c1", "g2", Source: "sparkplug:c1/plant1/cam3"),
            new("c1-park-p9", DeviceKind.Parking, "c1", "g1", Source: "sparkplug:c1/plant1/lot9"),
            new("c1-gate-east", DeviceKind.Gate, "c1", "g2", Source: "hikvision:ds-k1t671-e1"),
            new("c1-gate-east2", DeviceKind.Gate, "c1", "g2", Source: "hikvision:ds-k1t671-e1/2"),
        ];
        foreach (var device in devices) registry.Upsert(device);
        return registry;
    }

    public static byte[] Sample(string path) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Formats", "Samples", path));

    public static (string? Reason, List<Reading> Readings) Run(IPayloadNormalizer normalizer, string topic, byte[] payload, DateTimeOffset? receivedAt = null)
    {
        var readings = new List<Reading>();
        // Readings already in the list must survive a refusal: the port appends nothing on a refusal, it does not clear.
        readings.Add(Sentinel);
        var reason = normalizer.Normalize(new IncomingMessage(topic, payload, receivedAt ?? ReceivedAt), readings);
        Assert.Equal(Sentinel, readings[0]);
        readings.RemoveAt(0);
        if (reason is not null) Assert.Empty(readings);
        return (reason, readings);
    }

    public static (string? Reason, List<Reading> Readings) Run(IPayloadNormalizer normalizer, string topic, string text, DateTimeOffset? receivedAt = null) =>
        Run(normalizer, topic, Encoding.UTF8.GetBytes(text), receivedAt);

    private static readonly Reading Sentinel = new("sentinel", "c0", null, null, "sentinel", DateTimeOffset.UnixEpoch, 0);

    /// <summary>
    /// One reading as one line: <c>device metric time value label household attributes</c>, time in UTC to the
    /// microsecond, "-" for null. Tables compare these lines, so a failure shows both sides readably.
    /// </summary>
    public static string Line(Reading r) => string.Join(' ',
        r.Device, r.Metric, r.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture),
        r.Value.ToString("R", CultureInfo.InvariantCulture), r.Label ?? "-", r.Household ?? "-", r.Attributes ?? "-");

    /// <summary>
    /// Checks a table row: either the expected reading lines, or (when <paramref name="reason"/> is set) a refusal whose
    /// reason contains it. An empty expectation with no reason is a deliberate skip.
    /// </summary>
    public static void Expect((string? Reason, List<Reading> Readings) result, string[] expected, string? reason)
    {
        if (reason is not null)
        {
            Assert.NotNull(result.Reason);
            Assert.Contains(reason, result.Reason, StringComparison.Ordinal);
            return;
        }
        Assert.Null(result.Reason);
        Assert.Equal(expected, result.Readings.Select(Line).ToArray());
    }
}
