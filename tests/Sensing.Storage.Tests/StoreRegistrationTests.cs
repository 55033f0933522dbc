using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class StoreRegistrationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-storage-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSensingStore(builder.Configuration);
        return builder.Build();
    }

    [Fact]
    public async Task The_host_opens_one_duckdb_store_behind_both_ports()
    {
        var path = Path.Combine(_folder, "data", "sensing.duckdb");
        using var host = BuildHost(new() { ["Store:Kind"] = "duckdb", ["Store:Path"] = path });

        await host.StartAsync().Within();
        try
        {
            Assert.True(File.Exists(path));
            var readings = host.Services.GetRequiredService<IReadingStore>();
            Assert.Same(readings, host.Services.GetRequiredService<IAlertStore>());
            await readings.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 1)], CancellationToken.None).Within();
        }
        finally
        {
            await host.StopAsync().Within();
        }
    }

    [Fact]
    public void Defaults_follow_the_contract_and_a_relative_path_is_relative_to_the_current_directory()
    {
        using var host = BuildHost([]);

        var options = host.Services.GetRequiredService<IOptions<StoreOptions>>().Value;
        Assert.Equal("duckdb", options.Kind);
        Assert.Equal("data/sensing.duckdb", options.Path);
        // Resolving does not touch the disk; only starting the host (or first use) opens the file.
        var store = host.Services.GetRequiredService<DuckDbReadingStore>();
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "data", "sensing.duckdb"), store.FilePath);
    }

    [Fact]
    public async Task The_duckdb_store_is_capped_by_default_and_takes_a_configured_memory_limit_threads_and_checkpoint_threshold()
    {
        using (var host = BuildHost(new() { ["Store:Path"] = Path.Combine(_folder, "default.duckdb") }))
        {
            await host.StartAsync().Within();
            var store = host.Services.GetRequiredService<DuckDbReadingStore>();
            // DuckDB reports the limit in its own units (128MB = 128,000,000 bytes → "122.0 MiB"); not 80 % of the machine's RAM.
            Assert.Equal("122.0 MiB", await store.SettingAsync("memory_limit").Within());
            Assert.Equal("1", await store.SettingAsync("threads").Within());
            Assert.Equal("30.5 MiB", await store.SettingAsync("checkpoint_threshold").Within());
            await host.StopAsync().Within();
        }

        using (var host = BuildHost(new() { ["Store:Path"] = Path.Combine(_folder, "configured.duckdb"), ["Store:MemoryLimit"] = "1GB", ["Store:Threads"] = "2", ["Store:CheckpointThreshold"] = "16MB" }))
        {
            await host.StartAsync().Within();
            var store = host.Services.GetRequiredService<DuckDbReadingStore>();
            Assert.Equal("953.6 MiB", await store.SettingAsync("memory_limit").Within());
            Assert.Equal("2", await store.SettingAsync("threads").Within());
            Assert.Equal("15.2 MiB", await store.SettingAsync("checkpoint_threshold").Within());
            await store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 1)], CancellationToken.None).Within();
            await host.StopAsync().Within();
        }
    }

    [Theory]
    [InlineData("Store:MemoryLimit", "lots", "Store:MemoryLimit must be a size such as '256MB'")]
    [InlineData("Store:MemoryLimit", "80", "Store:MemoryLimit must be a size such as '256MB'")]
    [InlineData("Store:Threads", "-1", "Store:Threads must be between 1 and 256")]
    [InlineData("Store:CheckpointThreshold", "often", "Store:CheckpointThreshold must be a size such as '64MB'")]
    public async Task A_bad_duckdb_memory_limit_or_thread_count_fails_at_start(string key, string value, string message)
    {
        using var host = BuildHost(new() { ["Store:Path"] = Path.Combine(_folder, "x.duckdb"), [key] = value });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_folder));
    }

    [Fact]
    public async Task Influxdb_without_a_database_fails_at_start_with_a_clear_message()
    {
        // The InfluxDB store's own registration tests are in Influx/InfluxRegistrationTests.cs.
        using var host = BuildHost(new() { ["Store:Kind"] = "influxdb", ["Store:Url"] = "http://localhost:8086", ["Store:Path"] = Path.Combine(_folder, "x.duckdb") });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();
        Assert.Contains("Store:Database is required", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_folder));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("")]
    public async Task An_unknown_kind_fails_at_start(string kind)
    {
        using var host = BuildHost(new() { ["Store:Kind"] = kind });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();
        Assert.Contains("must be 'duckdb' or 'influxdb'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_MemoryLimit_bounds_duckdb_and_its_memory_is_reported_by_component()
    {
        var path = Path.Combine(_folder, "data", "sensing.duckdb");
        using var host = BuildHost(new() { ["Store:Path"] = path, ["Store:MemoryLimit"] = "300MB" });

        await host.StartAsync().Within();
        try
        {
            var store = host.Services.GetRequiredService<DuckDbReadingStore>();
            await store.WriteAsync([.. Enumerable.Range(0, 1000).Select(i => Sample.Point($"m{i}", Metrics.WaterTotal, Sample.Day, i))], CancellationToken.None).Within();
            var (tags, limit) = store.MemoryUsage();
            // DuckDB reports its limit in binary units, rounded: 300 MB = 286.1 MiB.
            Assert.InRange(limit, 299_000_000, 301_000_000);
            Assert.NotEmpty(tags);
            Assert.All(tags, t => Assert.True(t.Bytes > 0));
        }
        finally
        {
            await host.StopAsync().Within();
        }
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("512")]
    [InlineData("1GB'; DROP TABLE readings; --")]
    public async Task A_memory_limit_that_is_not_a_size_fails_at_start(string limit)
    {
        using var host = BuildHost(new() { ["Store:Path"] = Path.Combine(_folder, "x.duckdb"), ["Store:MemoryLimit"] = limit });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();
        Assert.Contains("Store:MemoryLimit must be a size", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_folder));
    }
}
