using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Sensing.Simulators;

public static class DemoFeedServiceCollectionExtensions
{
    /// <summary>
    /// Registers the demo feed publisher (a hosted service) with <see cref="DemoOptions"/> bound from <c>Demo</c>,
    /// publishing to <c>Mqtt:Host</c> (default <c>localhost</c>) : <c>Mqtt:Port</c> (default 1883).
    /// The host must also seed its registry with <see cref="DemoWorld.Create"/>(<c>Demo:Seed</c>) when the demo is enabled.
    /// </summary>
    /// <param name="loadRegisters">
    /// Called once when the feed starts, after the host's store is open: for every meter that has stored readings,
    /// its device id (e.g. <c>c1-wm-001</c>) → the event time and value of its newest stored <c>total</c>
    /// reading. Return an empty map for an empty store: only then is the incident planted and 14 days backfilled.
    /// </param>
    public static IServiceCollection AddSensingDemoFeed(
        this IServiceCollection services,
        IConfiguration configuration,
        Func<IServiceProvider, CancellationToken, Task<IReadOnlyDictionary<string, (DateTimeOffset Time, double Total)>>> loadRegisters)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(loadRegisters);
        services.AddOptions<DemoOptions>()
            .Bind(configuration.GetSection(DemoOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(new DemoFeedSetup(
            configuration["Mqtt:Host"] is { Length: > 0 } host ? host : "localhost",
            configuration.GetValue("Mqtt:Port", 1883),
            loadRegisters));
        services.AddHostedService<DemoFeedPublisher>();
        return services;
    }
}
