using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest;

public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Registers the embedded broker (when <c>Mqtt:Embedded</c>), the MQTT intake, the pipeline, the device
    /// registry and its file, and the store writer with its local spool (<c>Spool</c> section). The host must register
    /// an <see cref="IReadingStore"/>; any number of <see cref="IStoredReadingsListener"/>s are told about stored batches.
    /// </summary>
    public static IServiceCollection AddSensingIngest(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MqttOptions>().Bind(configuration.GetSection(MqttOptions.Section))
            .PostConfigure(mqtt => mqtt.Topics = mqtt.Topics is { Length: > 0 } topics ? topics : [.. MqttOptions.DefaultTopics])
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MqttOptions>, MqttOptionsValidator>());
        services.AddOptions<IngestOptions>().Bind(configuration.GetSection(IngestOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RegistryOptions>().Bind(configuration.GetSection(RegistryOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SpoolOptions>().Bind(configuration.GetSection(SpoolOptions.Section))
            .PostConfigure(spool =>
            {
                // Beside the store's file by default, so one data folder holds everything of one instance.
                spool.Directory ??= Path.Combine(Path.GetDirectoryName(configuration["Store:Path"] ?? "data/sensing.duckdb") is { Length: > 0 } folder ? folder : ".", "spool");
            })
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton<DeviceRegistry>();
        services.AddSingleton<IDeviceRegistry>(sp => sp.GetRequiredService<DeviceRegistry>());
        services.AddSingleton(sp => new IngestQueue(sp.GetRequiredService<IOptions<IngestOptions>>().Value.QueueCapacity));
        services.AddSingleton<IngestMetrics>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<IngestMetrics>());
        services.AddSingleton<BrokerConnection>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<BrokerConnection>());
        services.AddSingleton(sp => new FormatRouter(
        [
            ("sensing/#", new NativeNormalizer(sp.GetRequiredService<DeviceRegistry>())),
        ]));

        services.AddSingleton<StoreWriter>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<StoreWriter>());

        services.AddHostedService<RegistryFileKeeper>();
        // The writer opens the spool before the pipeline takes its first batch.
        services.AddHostedService(sp => sp.GetRequiredService<StoreWriter>());
        // Order matters: the broker must listen before the intake connects (the intake retries anyway).
        if (configuration.GetValue(MqttOptions.Section + ":" + nameof(MqttOptions.Embedded), true))
        {
            services.AddSingleton<EmbeddedBroker>();
            services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<EmbeddedBroker>());
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        }
        services.AddHostedService<IngestPipeline>();
        services.AddHostedService<MqttIntake>();
        return services;
    }
}
