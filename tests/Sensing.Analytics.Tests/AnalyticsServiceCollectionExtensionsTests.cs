using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

public sealed class AnalyticsServiceCollectionExtensionsTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var registry = new InMemoryDeviceRegistry([], []);
        return new ServiceCollection()
            .AddLogging()
            .AddSingleton<IReadingStore>(new InMemoryReadingStore())
            .AddSingleton<IDeviceRegistry>(registry)
            .AddSingleton<IAlertSink>(new RecordingAlertSink())
            .AddSingleton(TimeProvider.System)
            .AddSensingAnalytics(configuration)
            .BuildServiceProvider();
    }

    [Fact]
    public void The_loop_is_one_instance_as_listener_and_hosted_service()
    {
        using var services = Build(new() { ["Analytics:LivingAlone:MinLowHours"] = "5", ["Sensing:TimeZone"] = "Asia/Urumqi" });

        var loop = services.GetRequiredService<AnalyticsLoop>();
        Assert.Same(loop, services.GetRequiredService<IStoredReadingsListener>());
        Assert.Same(loop, Assert.Single(services.GetServices<IHostedService>()));

        var options = services.GetRequiredService<IOptions<AnalyticsOptions>>().Value;
        Assert.Equal(5, options.LivingAlone.MinLowHours);
        Assert.Equal(0.25, options.LivingAlone.DropRatio);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Silence.MinSilence);
        // Without its own zone, analytics follows the service's.
        Assert.Equal("Asia/Urumqi", options.TimeZone);
    }

    [Fact]
    public void Models_live_beside_the_store_unless_told_otherwise()
    {
        using (var services = Build(new() { ["Store:Path"] = "/srv/sensing/sensing.duckdb" }))
            Assert.Equal(Path.Combine("/srv/sensing", "models"), services.GetRequiredService<IOptions<AnalyticsOptions>>().Value.ModelDirectory);
        using (var services = Build(new() { ["Store:Path"] = "/srv/sensing/sensing.duckdb", ["Analytics:ModelDirectory"] = "/var/lib/models" }))
            Assert.Equal("/var/lib/models", services.GetRequiredService<IOptions<AnalyticsOptions>>().Value.ModelDirectory);
        using (var services = Build([]))
            Assert.Equal(Path.Combine("data", "models"), services.GetRequiredService<IOptions<AnalyticsOptions>>().Value.ModelDirectory);
    }

    [Fact]
    public void Meaningless_settings_are_refused()
    {
        using var services = Build(new()
        {
            ["Analytics:LivingAlone:DropRatio"] = "0.5",
            ["Analytics:MinHistoryDays"] = "30",
            ["Analytics:TimeZone"] = "Mars/Olympus",
            ["Analytics:Workers"] = "2",
            ["Analytics:Worker"] = "2",
        });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<AnalyticsOptions>>().Value);
        Assert.Contains(error.Failures, f => f.Contains("ElderlyDropRatio", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MinHistoryDays", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Mars/Olympus", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Analytics:Worker ", StringComparison.Ordinal));
    }
}
