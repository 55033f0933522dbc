using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Storage.Influx;
using Sensing.Telemetry;

namespace Sensing.Storage;

public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the time-series and alert store chosen by the <c>Store</c> section (<c>Store:Kind</c>: DuckDB by
    /// default, or an InfluxDB server) as one singleton behind <see cref="IReadingStore"/> and <see cref="IAlertStore"/>.
    /// The store opens itself on first use; a hosted service also opens it at start so a bad path, URL or database
    /// fails the host instead of the first write.
    /// </summary>
    public static IServiceCollection AddSensingStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<StoreOptions>()
            .Bind(configuration.GetSection(StoreOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<StoreOptions>, StoreOptionsValidator>();

        // Both stores are registered; the kind picks one when the ports are first resolved, after validation, so an
        // InfluxDB configuration never touches (or creates) the DuckDB file and vice versa.
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StoreOptions>>().Value;
            return new DuckDbReadingStore(
                options.ToDuckDbOptions(),
                sp.GetService<ILogger<DuckDbReadingStore>>(),
                sp.GetService<TimeProvider>());
        });
        services.AddDuckDbRetention(configuration);
        InfluxHttpClientRegistration.Add(services);
        services.AddSingleton(sp => new InfluxDbReadingStore(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(InfluxDbReadingStore.HttpClientName),
            sp.GetRequiredService<IOptions<StoreOptions>>().Value.ToInfluxDbOptions(),
            sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<InfluxDbReadingStore>>()));
        services.AddSingleton<IReadingStore>(sp => IsInfluxDb(sp)
            ? sp.GetRequiredService<InfluxDbReadingStore>()
            : sp.GetRequiredService<DuckDbReadingStore>());
        services.AddSingleton<IAlertStore>(sp => IsInfluxDb(sp)
            ? sp.GetRequiredService<InfluxDbReadingStore>()
            : sp.GetRequiredService<DuckDbReadingStore>());
        services.AddSingleton<IHouseholdDataStore>(sp => IsInfluxDb(sp)
            ? sp.GetRequiredService<InfluxDbReadingStore>()
            : sp.GetRequiredService<DuckDbReadingStore>());
        services.AddHostedService<StoreInitializer>();
        return services;
    }

    internal static bool IsInfluxDb(IServiceProvider services) =>
        services.GetRequiredService<IOptions<StoreOptions>>().Value.IsInfluxDb;
}

/// <summary>Opens the chosen store when the host starts, so schema, path or server errors surface at start and the first write pays nothing.</summary>
internal sealed class StoreInitializer(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        StoreServiceCollectionExtensions.IsInfluxDb(services)
            ? services.GetRequiredService<InfluxDbReadingStore>().InitializeAsync(cancellationToken)
            : services.GetRequiredService<DuckDbReadingStore>().InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
