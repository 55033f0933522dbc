using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Analytics;

public static class AnalyticsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the analytics stage: <see cref="AnalyticsOptions"/> from section <c>Analytics</c> (validated at start)
    /// and one <see cref="AnalyticsLoop"/>, registered as hosted service, <see cref="IArrivingReadingsListener"/> and <see cref="IStoredReadingsListener"/>.
    /// The host registers <see cref="IReadingStore"/>, <see cref="IDeviceRegistry"/>, <see cref="IAlertSink"/> and <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddSensingAnalytics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AnalyticsOptions>()
            .Bind(configuration.GetSection(AnalyticsOptions.SectionName))
            // Households live by the one local clock the whole service uses, unless analytics is told otherwise.
            .PostConfigure(options =>
            {
                options.TimeZone ??= configuration["Sensing:TimeZone"] ?? "Asia/Shanghai";
                // Models live with the data they were trained from, as the spool does.
                options.ModelDirectory ??= Path.Combine(
                    Path.GetDirectoryName(configuration["Store:Path"] ?? "data/sensing.duckdb") is { Length: > 0 } folder ? folder : ".", "models");
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AnalyticsOptions>, AnalyticsOptionsValidator>());

        services.AddSingleton<AnalyticsLoop>();
        // The same instance must both receive the batches (on arrival and once stored) and run the loop that drains them.
        services.AddSingleton<IArrivingReadingsListener>(sp => sp.GetRequiredService<AnalyticsLoop>());
        services.AddSingleton<IStoredReadingsListener>(sp => sp.GetRequiredService<AnalyticsLoop>());
        services.AddHostedService(sp => sp.GetRequiredService<AnalyticsLoop>());
        return services;
    }
}
