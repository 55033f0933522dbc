using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Sensing.Ingest.Registry;

/// <summary>
/// Loads the registry file at start and saves it when the registry changed (devices registered on first
/// sight, admin edits), at most every few seconds and once more on shutdown.
/// </summary>
public sealed class RegistryFileKeeper(DeviceRegistry registry, IOptions<RegistryOptions> options, ILogger<RegistryFileKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan s_saveInterval = TimeSpan.FromSeconds(5);
    private int _savedVersion = -1;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var path = options.Value.Path;
        if (File.Exists(path))
        {
            // A broken registry file must stop the start: running without it would file every device as unassigned.
            registry.Load(DeviceRegistry.ReadFile(path));
            _savedVersion = registry.Version;
            logger.LogInformation("Loaded registry {Path}: {Devices} devices, {Households} households", path, registry.Devices.Count, registry.Households.Count);
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_saveInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                SaveIfChanged();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        SaveIfChanged();
    }

    private void SaveIfChanged()
    {
        var version = registry.Version;
        if (version == _savedVersion) return;
        try
        {
            registry.SaveFile(options.Value.Path);
            _savedVersion = version;
        }
        catch (IOException ex)
        {
            logger.LogError(ex, "Could not save registry to {Path}; will retry", options.Value.Path);
        }
    }
}
