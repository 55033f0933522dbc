using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Sensing.Storage.Influx;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

public sealed class InfluxRegistrationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-storage-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings) { ["Store:Path"] = Path.Combine(_folder, "x.duckdb") });
        builder.Services.AddSensingStore(builder.Configuration);
        return builder.Build();
    }

    [Fact]
    public async Task Kind_influxdb_starts_one_influxdb_store_behind_both_ports_and_never_touches_duckdb()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => RecordingServer.Influx(r));
        using var host = BuildHost(new() { ["Store:Kind"] = "InfluxDB", ["Store:Url"] = server.Url.ToString(), ["Store:Database"] = "sensing" });

        await host.StartAsync().Within();
        try
        {
            var readings = host.Services.GetRequiredService<IReadingStore>();
            Assert.IsType<InfluxDbReadingStore>(readings);
            Assert.Same(readings, host.Services.GetRequiredService<IAlertStore>());
            // Starting the host checked the server and created the database.
            Assert.Contains(server.Requests, r => r.Method == "POST" && r.Path == "/query");
            await readings.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 1)], CancellationToken.None).Within();
            Assert.False(Directory.Exists(_folder));
        }
        finally
        {
            await host.StopAsync().Within();
        }
    }

    [Fact]
    public async Task A_server_that_is_not_there_fails_the_start()
    {
        using var host = BuildHost(new() { ["Store:Kind"] = "influxdb", ["Store:Url"] = $"http://127.0.0.1:{InfluxServer.FreePort()}", ["Store:Database"] = "sensing" });

        await Assert.ThrowsAsync<HttpRequestException>(() => host.StartAsync()).Within();
    }

    [Theory]
    [InlineData(null, "sensing", null, null, "ms", "Store:Url")]
    [InlineData("localhost:8086", "sensing", null, null, "ms", "Store:Url")]
    [InlineData("ftp://127.0.0.1:8086", "sensing", null, null, "ms", "Store:Url")]
    [InlineData("http://127.0.0.1:8086", null, null, null, "ms", "Store:Database is required")]
    [InlineData("http://127.0.0.1:8086", null, null, "token", "ms", "Store:Database is required")]
    [InlineData("http://127.0.0.1:8086", "sensing", "bucket", null, "ms", "Store:Bucket")]
    [InlineData("http://127.0.0.1:8086", "sensing", null, null, "us", "Store:Precision")]
    public async Task A_wrong_influxdb_configuration_fails_at_start_naming_the_key(
        string? url, string? database, string? bucket, string? token, string precision, string expected)
    {
        using var host = BuildHost(new()
        {
            ["Store:Kind"] = "influxdb", ["Store:Url"] = url, ["Store:Database"] = database, ["Store:Bucket"] = bucket,
            ["Store:Token"] = token, ["Store:Precision"] = precision,
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_folder));
    }

    [Fact]
    public void A_token_and_a_bucket_need_no_database_and_select_v2_writes()
    {
        using var host = BuildHost(new() { ["Store:Kind"] = "influxdb", ["Store:Url"] = "https://influx.example:8086/prefix", ["Store:Token"] = "t", ["Store:Bucket"] = "sensing" });

        var options = host.Services.GetRequiredService<IOptions<StoreOptions>>().Value.ToInfluxDbOptions();
        Assert.True(options.UsesV2Writes);
        Assert.Equal("sensing", options.QueryDatabase);
        Assert.Equal(InfluxPrecision.Milliseconds, options.Precision);
        Assert.IsType<InfluxDbReadingStore>(host.Services.GetRequiredService<IReadingStore>());
    }
}
