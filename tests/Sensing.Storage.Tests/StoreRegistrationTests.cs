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
