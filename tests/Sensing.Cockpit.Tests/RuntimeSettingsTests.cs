using System.Text.Json;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The runtime settings the service ships with, as the built <c>Sensing.Cockpit.runtimeconfig.json</c> carries them: the
/// memory and CPU figures of benchmarks/README.md were measured with these, and the benchmark's service-host mirrors them.
/// </summary>
public sealed class RuntimeSettingsTests
{
    [Fact]
    public void The_service_runs_workstation_GC_conserving_memory_and_without_thread_pool_spinning()
    {
        var path = Path.ChangeExtension(typeof(CockpitHost).Assembly.Location, ".runtimeconfig.json");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.True(properties.GetProperty("System.GC.Concurrent").GetBoolean());
        Assert.Equal(7, properties.GetProperty("System.GC.ConserveMemory").GetInt32());
        Assert.Equal(0, properties.GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32());
    }
}
