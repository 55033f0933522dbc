using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Mqtt;
using Microsoft.Extensions.Logging;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Quarantine;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest;

public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Registers the embedded broker (when <c>Mqtt:Embedded</c>), the MQTT intake (the embedded broker's hand-over, or a
    /// client of the broker), the pipeline, the device
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
        services.AddSingleton<IValidateOptions<IngestOptions>, FormatsValidation>();
        // Ingest reads what it has a format for: every enabled Ingest:Formats filter is subscribed besides Mqtt:Topics.
        services.AddOptions<MqttOptions>().PostConfigure<IOptions<IngestOptions>>((mqtt, ingest) =>
            mqtt.FormatTopics = [.. VendorFormats.Enabled(ingest.Value.Formats)
                .Where(r => r.Format != VendorFormats.NativeName)
                .Select(r => r.Filter).Except(mqtt.Topics, StringComparer.Ordinal).Distinct(StringComparer.Ordinal)]);
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
        services.AddSingleton<QuarantineBook>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<QuarantineBook>());
        services.AddSingleton<FormatCounters>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<FormatCounters>());
        services.AddSingleton(sp => new VendorContext(
            sp.GetRequiredService<DeviceRegistry>(),
            sp.GetRequiredService<QuarantineBook>(),
            VendorTimeZone(configuration),
            sp.GetRequiredService<FormatCounters>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sensing.Ingest.Normalization.Vendor")));
        services.AddSingleton(sp => VendorFormats.Router(
            sp.GetRequiredService<IOptions<IngestOptions>>().Value.Formats, sp.GetRequiredService<DeviceRegistry>(), sp.GetRequiredService<VendorContext>()));

        services.AddSingleton<StoreWriter>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<StoreWriter>());

        services.AddHostedService<RegistryFileKeeper>();
        // The writer opens the spool before the pipeline takes its first batch.
        services.AddHostedService(sp => sp.GetRequiredService<StoreWriter>());
        // Order matters: the broker must listen before the intake connects (the intake retries anyway).
        var embedded = configuration.GetValue(MqttOptions.Section + ":" + nameof(MqttOptions.Embedded), true);
        var inProcess = embedded && configuration.GetValue(MqttOptions.Section + ":" + nameof(MqttOptions.EmbeddedIntake), EmbeddedIntake.InProcess) == EmbeddedIntake.InProcess;
        if (embedded)
        {
            AddEmbeddedBrokerAccess(services, configuration);
            if (inProcess) services.AddSingleton<InProcessIntake>();
            services.AddSingleton<EmbeddedBroker>();
            services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<EmbeddedBroker>());
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        }
        services.AddHostedService<IngestPipeline>();
        services.AddHostedService<QuarantineRelease>();
        if (!inProcess) services.AddHostedService<MqttIntake>();
        return services;
    }

    /// <summary>
    /// The embedded broker's limits and access (<c>Broker</c> section), and the service credential ingest's own client
    /// uses with it: a random password made at start, so the broker can refuse anonymous clients outside the demo while
    /// ingest still gets in (an explicit <c>Mqtt:Username</c> wins, for a <c>Broker:Users</c> entry of one's own).
    /// </summary>
    private static void AddEmbeddedBrokerAccess(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BrokerOptions>().Bind(configuration.GetSection(BrokerOptions.Section))
            // Unset, the demo allows anonymous clients; a real installation decides per connection (BrokerAccess).
            .PostConfigure(broker => { if (configuration.GetValue("Demo:Enabled", true)) broker.AllowAnonymous ??= true; })
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<BrokerOptions>>(new BrokerOptionsValidator(configuration));
        services.AddSingleton(new ServiceCredential(configuration[MqttOptions.Section + ":" + nameof(MqttOptions.ClientId)] is { Length: > 0 } id ? id : new MqttOptions().ClientId));
        services.AddOptions<MqttOptions>().PostConfigure<ServiceCredential>((mqtt, service) =>
        {
            if (mqtt.Embedded && string.IsNullOrEmpty(mqtt.Username))
            {
                mqtt.Username = service.Username;
                mqtt.Password = service.Password;
            }
        });
        services.AddSingleton(sp => new BrokerAccess(
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value, sp.GetRequiredService<DeviceRegistry>(), sp.GetRequiredService<ServiceCredential>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<BrokerAccess>()));
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<BrokerAccess>());
    }

    /// <summary>
    /// The zone vendor devices' local times (Tasmota's <c>Time</c>) are read in: the contract's <c>Sensing:TimeZone</c>,
    /// which also says what "today" means on the tiles, so a plug and the wall screen agree on the hour.
    /// </summary>
    private static TimeZoneInfo VendorTimeZone(IConfiguration configuration)
    {
        var id = configuration["Sensing:TimeZone"] is { Length: > 0 } configured ? configured : "Asia/Shanghai";
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new OptionsValidationException("Sensing", typeof(IngestOptions), [$"Sensing:TimeZone '{id}' is not a time zone this machine knows (IANA name, e.g. Asia/Shanghai)"]);
        }
    }

    /// <summary>Refuses to start with an unknown format name or a malformed topic filter in <c>Ingest:Formats</c>.</summary>
    private sealed class FormatsValidation : IValidateOptions<IngestOptions>
    {
        public ValidateOptionsResult Validate(string? name, IngestOptions options)
        {
            var problems = VendorFormats.Problems(options.Formats);
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
