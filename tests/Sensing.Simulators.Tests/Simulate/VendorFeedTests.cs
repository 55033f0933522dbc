using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Registry;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;

namespace Sensing.Simulators.Tests.Simulate;

/// <summary>
/// A simulated day in vendor formats, read back by ingest's own normalizers with the registry the simulator writes:
/// every well-formed message is understood (nothing quarantined), every planned malformed one refused.
/// </summary>
public sealed class VendorFeedTests : IDisposable
{
    private readonly string _registryPath = Path.Combine(Path.GetTempPath(), $"sensing-vendor-feed-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_registryPath);

    [Theory]
    [InlineData("vendors")]
    [InlineData("tasmota")]
    [InlineData("chirpstack")]
    [InlineData("hikvision")]
    public void A_vendor_feed_is_read_by_ingest_as_the_native_feed_would_be(string format)
    {
        var plan = SimulatedRun.Plan(duration: TimeSpan.FromHours(12), faults: new FaultRates { Malformed = 0.01 });
        TruthFile.WriteRegistry(_registryPath, plan.World, plan.Away, FeedFormats.Create(format));
        var registry = new DeviceRegistry();
        registry.Load(DeviceRegistry.ReadFile(_registryPath));
        var context = VendorContext.For(registry);
        var router = VendorFormats.Router(new Sensing.Ingest.IngestOptions().Formats, registry, context);

        var generator = new FeedGenerator(plan, FeedFormats.Create(format));
        var readings = new List<Reading>();
        var byFormat = new Dictionary<string, int>(StringComparer.Ordinal);
        int malformed = 0, refused = 0;
        while (generator.TryNext(out var m))
        {
            var normalizer = router.Find(m.Topic);
            Assert.True(normalizer is not null, $"no format reads {m.Topic}");
            var reason = normalizer.Normalize(new IncomingMessage(m.Topic, m.Payload, m.Time), readings);
            if (m.Fault == MessageFault.Malformed)
            {
                malformed++;
                refused += reason is null ? 0 : 1;
                continue;
            }
            Assert.True(reason is null, $"{m.Topic}: {reason}");
            byFormat[normalizer.Format] = byFormat.GetValueOrDefault(normalizer.Format) + 1;
        }

        Assert.Equal(0, context.Quarantine.Count);
        Assert.True(malformed > 10, $"only {malformed} malformed messages planned");
        // A cut payload can still parse (cut right after a complete field), so nearly all, not all, are refused.
        Assert.InRange(refused, malformed * 0.9, malformed);
        if (format is "tasmota" or "vendors") Assert.True(byFormat.GetValueOrDefault("tasmota") > 0);
        if (format is "chirpstack" or "vendors") Assert.True(byFormat.GetValueOrDefault("chirpstack") > 0);
        if (format is "hikvision" or "vendors") Assert.True(byFormat.GetValueOrDefault("hikvision") > 0);
        Assert.True(byFormat.GetValueOrDefault("native") > 0, "cameras stay native");
        foreach (var metric in new[] { Metrics.ElectricityTotal, Metrics.WaterTotal, Metrics.GatePass, Metrics.ParkingFree })
        {
            Assert.Contains(readings, r => r.Metric == metric);
        }
        // Registers keep their units: a simulated water register is tens to hundreds of m³, never litres.
        Assert.All(readings.Where(r => r.Metric == Metrics.WaterTotal), r => Assert.InRange(r.Value, 1, 5_000));
    }

    [Fact]
    public void The_written_registry_maps_vendor_devices_by_source_and_leaves_native_ones_alone()
    {
        var plan = SimulatedRun.Plan(duration: TimeSpan.FromHours(1));
        TruthFile.WriteRegistry(_registryPath, plan.World, plan.Away, FeedFormats.Create("vendors"));

        var devices = DeviceRegistry.ReadFile(_registryPath).Devices;

        Assert.All(devices.Where(d => d.Id.Contains("-em-", StringComparison.Ordinal)), d => Assert.Equal("tasmota:" + d.Id, d.Source));
        Assert.All(devices.Where(d => d.Id.Contains("-wm-", StringComparison.Ordinal)), d => Assert.Equal("chirpstack:" + VendorFeedFormat.DevEui(d.Id), d.Source));
        Assert.All(devices.Where(d => d.Kind == DeviceKind.Gate), d => Assert.Equal("hikvision:" + d.Id, d.Source));
        Assert.All(devices.Where(d => d.Kind == DeviceKind.Camera), d => Assert.Null(d.Source));
        Assert.Equal(devices.Count(d => d.Source is not null), devices.Select(d => d.Source).Where(s => s is not null).Distinct().Count());
    }
}
