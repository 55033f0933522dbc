using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Storage;

public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the time-series and alert store chosen by the <c>Store</c> section as one singleton
    /// behind <see cref="IReadingStore"/> and <see cref="IAlertStore"/>. The store opens itself on first use;
    /// a hosted service also opens it at start so a bad path fails the host instead of the first write.
    /// </summary>
    public static IServiceCollection AddSensingStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<StoreOptions>()
            .Bind(configuration.GetSection(StoreOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<StoreOptions>, StoreOptionsValidator>();

        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StoreOptions>>().Value;
            return new DuckDbReadingStore(
                new DuckDbStoreOptions(System.IO.Path.GetFullPath(options.Path)),
                sp.GetService<ILogger<DuckDbReadingStore>>());
        });
        services.AddSingleton<IReadingStore>(sp => sp.GetRequiredService<DuckDbReadingStore>());
        services.AddSingleton<IAlertStore>(sp => sp.GetRequiredService<DuckDbReadingStore>());
        services.AddHostedService<StoreInitializer>();
        return services;
    }
}

/// <summary>Opens the store when the host starts, so schema errors surface at start and the first write pays nothing.</summary>
internal sealed class StoreInitializer(DuckDbReadingStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
