using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

public sealed class FacilityOptionsTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings) =>
        new ServiceCollection()
            .AddLogging()
            .AddSingleton<IReadingStore>(new InMemoryReadingStore())
            .AddSingleton<IDeviceRegistry>(new InMemoryDeviceRegistry([], []))
            .AddSingleton<IAlertSink>(new RecordingAlertSink())
            .AddSingleton(TimeProvider.System)
            .AddSensingAnalytics(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .BuildServiceProvider();

    [Fact]
    public void Facility_settings_bind_from_configuration_with_their_defaults_kept()
    {
        using var services = Build(new()
        {
            ["Analytics:Facilities:Parking:Overstays:0:Spaces"] = "fire*",
            ["Analytics:Facilities:Parking:Overstays:0:Limit"] = "00:15:00",
            ["Analytics:Facilities:Parking:Overstays:0:Severity"] = "critical",
            ["Analytics:Facilities:Parking:Overstays:1:Spaces"] = "V-*",
            ["Analytics:Facilities:Parking:Overstays:1:Limit"] = "1.00:00:00",
            ["Analytics:Facilities:Camera:CrowdThresholds:square"] = "80",
            ["Analytics:Facilities:WaterLeak:NightStart"] = "00:30:00",
        });

        var facilities = services.GetRequiredService<IOptions<AnalyticsOptions>>().Value.Facilities;
        Assert.Equal(2, facilities.Parking.Overstays.Count);
        Assert.Equal(("fire*", TimeSpan.FromMinutes(15), AlertSeverity.Critical), (facilities.Parking.Overstays[0].Spaces, facilities.Parking.Overstays[0].Limit, facilities.Parking.Overstays[0].Severity));
        Assert.Equal(AlertSeverity.Warning, facilities.Parking.Overstays[1].Severity);
        Assert.Equal(80, facilities.Camera.CrowdThresholds["square"]);
        Assert.Equal(30, facilities.Camera.CrowdThreshold);
        Assert.Equal(TimeSpan.FromMinutes(30), facilities.WaterLeak.NightStart);
        Assert.Equal(TimeSpan.FromHours(5), facilities.WaterLeak.NightEnd);
    }

    [Fact]
    public void Meaningless_facility_settings_are_refused_naming_their_key()
    {
        using var services = Build(new()
        {
            ["Analytics:Facilities:WaterLeak:NightEnd"] = "01:00:00",
            ["Analytics:Facilities:Parking:Overstays:0:Spaces"] = "fire*",
            ["Analytics:Facilities:Camera:CrowdThresholds:lobby"] = "0",
            ["Analytics:Facilities:Gate:NightsToLearn"] = "30",
        });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<AnalyticsOptions>>().Value);
        Assert.Contains(error.Failures, f => f.StartsWith("Analytics:Facilities:WaterLeak:NightStart and NightEnd", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Analytics:Facilities:Parking:Overstays:0 ", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("CrowdThresholds", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Analytics:Facilities:Gate:NightsToLearn", StringComparison.Ordinal));
    }
}
