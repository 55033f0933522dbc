using System.Text;
using Sensing.Simulators.Simulate;

namespace Sensing.Simulators.Tests.Simulate;

/// <summary>The cadence options thin the periodic traffic exactly as asked, and leave the rest of the feed alone.</summary>
public sealed class FeedCadenceTests
{
    [Fact]
    public void A_thinner_cadence_gives_each_periodic_device_exactly_its_interval()
    {
        var plan = SimulatedRun.Plan(seed: 3);
        var cadence = new FeedCadence
        {
            MeterEvery = TimeSpan.FromHours(1),
            HeartbeatEvery = TimeSpan.FromMinutes(15),
            LotEvery = TimeSpan.FromMinutes(5),
            DetectionFactor = 0,
        };
        var generator = new FeedGenerator(plan, cadence: cadence);
        var perDevice = new Dictionary<string, int>(StringComparer.Ordinal);
        var detections = 0;
        var gatePasses = 0;
        while (generator.TryNext(out var m))
        {
            var device = m.Topic[(m.Topic.LastIndexOf('/') + 1)..];
            perDevice[device] = perDevice.GetValueOrDefault(device) + 1;
            var payload = Encoding.UTF8.GetString(m.Payload.Span);
            if (m.Topic.Contains("/camera/", StringComparison.Ordinal) && !payload.Contains("\"online\"", StringComparison.Ordinal)) detections++;
            if (m.Topic.Contains("/gate/", StringComparison.Ordinal)) gatePasses++;
        }

        // One simulated day, no faults: 24 meter registers, 96 heartbeats, 288 lot counts per device; no detections.
        Assert.All(perDevice.Where(p => p.Key.Contains("-wm-", StringComparison.Ordinal) || p.Key.Contains("-em-", StringComparison.Ordinal)), p => Assert.Equal(24, p.Value));
        Assert.All(perDevice.Where(p => p.Key.Contains("-cam-", StringComparison.Ordinal)), p => Assert.Equal(96, p.Value));
        Assert.All(perDevice.Where(p => p.Key.Contains("-lot-", StringComparison.Ordinal)), p => Assert.Equal(288, p.Value));
        Assert.Equal(0, detections);
        // Gate passes follow the households, not a cadence: the same as at the default cadence.
        var defaultGatePasses = SimulatedRun.Messages(SimulatedRun.Plan(seed: 3)).Count(m => m.Topic.Contains("/gate/", StringComparison.Ordinal));
        Assert.True(gatePasses > 0);
        Assert.InRange(gatePasses, defaultGatePasses * 0.8, defaultGatePasses * 1.2);
    }

    [Theory]
    [InlineData("--meter-every", "0s")]
    [InlineData("--heartbeat-every", "2d")]
    [InlineData("--lot-every", "1.5s")]
    [InlineData("--detection-factor", "-1")]
    public void Parse_refuses_a_cadence_out_of_range(string option, string value)
    {
        Assert.Throws<FormatException>(() => SimulateOptions.Parse([option, value]));
    }
}
