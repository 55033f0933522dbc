using Microsoft.AspNetCore.SignalR.StackExchangeRedis;
using Sensing.Cockpit.Alerts;

namespace Sensing.Cockpit.ScaleOut;

/// <summary>Scale-out wiring: the Redis backplane under SignalR and the alert book's replication, when <c>SignalR:Redis</c> is set.</summary>
public static class ScaleOutExtensions
{
    /// <summary>
    /// Always registers <see cref="BackplaneOptions"/> (validated at start) and <see cref="RedisBackplane"/> (for /healthz);
    /// with <c>SignalR:Redis</c> set, also the Redis backplane and the replication of alert-book changes.
    /// Call after the alert book is registered, so replication starts after the book has loaded.
    /// </summary>
    public static IServiceCollection AddSensingBackplane(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BackplaneOptions>().Bind(configuration.GetSection(BackplaneOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<RedisBackplane>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<RedisBackplane>());

        var options = configuration.GetSection(BackplaneOptions.Section).Get<BackplaneOptions>() ?? new BackplaneOptions();
        if (!options.Enabled) return services;

        // One connection for the backplane and the replication, opened by RedisBackplane (which /healthz reads).
        // The channel prefix is the connection's own (BackplaneOptions.RedisConfiguration), applied to every channel on it.
        services.AddSignalR().AddStackExchangeRedis();
        services.AddOptions<RedisOptions>().Configure<RedisBackplane>((redis, backplane) => redis.ConnectionFactory = _ => backplane.ConnectAsync());
        services.AddSingleton<IAlertReplica, AlertReplica>();
        services.AddHostedService<AlertReplication>();
        return services;
    }
}
