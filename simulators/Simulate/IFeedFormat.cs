using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>
/// A wire format the simulator speaks: where a device publishes and how its payloads look. The generator
/// decides what happens (a reading, a pass, a detection); the format only encodes it: <c>native</c>
/// (<see cref="PayloadWriter"/>), and the vendor formats ingest normalizes (<see cref="VendorFeedFormat"/>), so the
/// simulator never publishes what the service cannot read.
/// Payloads are views of the format's buffer, valid until its next call.
/// </summary>
internal interface IFeedFormat
{
    string Name { get; }

    string Topic(string community, DeviceKind kind, string device);

    ReadOnlyMemory<byte> Meter(DateTimeOffset time, MeterType type, double total, string household);

    ReadOnlyMemory<byte> Gate(DateTimeOffset time, string gateEvent, string direction, string? credential, string? household);

    ReadOnlyMemory<byte> Lot(DateTimeOffset time, string lot, int free, int capacity);

    ReadOnlyMemory<byte> Camera(DateTimeOffset time, string cameraEvent, int? count, string zone);

    /// <summary>A payload this format's normalizer must refuse: a field of the wrong type, or a required field missing.</summary>
    ReadOnlyMemory<byte> Malformed(DeviceKind kind, bool wrongType, DateTimeOffset time, string? household);

    /// <summary>The vendor source id a registry maps this device by (<c>tasmota:c1-em-0042</c>), or null for a native device.</summary>
    string? Source(DeviceKind kind, string device) => null;
}

/// <summary>The formats <c>--format</c> accepts.</summary>
internal static class FeedFormats
{
    public static readonly string[] Names = ["native", .. VendorFeedFormat.Names];

    public static IFeedFormat Create(string name) => name switch
    {
        "native" => new PayloadWriter(),
        _ when VendorFeedFormat.Names.Contains(name) => new VendorFeedFormat(name),
        _ => throw new ArgumentException($"unknown format '{name}' (expected {string.Join(", ", Names)})"),
    };
}
