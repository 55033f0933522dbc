using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Storage.Influx;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

/// <summary>
/// An InfluxDB store built the way the host builds it (<c>AddSensingStore</c> with <c>Store:Kind=influxdb</c>, so
/// the resilience pipeline is the production one) on a fresh database of its own, dropped afterwards.
/// </summary>
internal sealed class InfluxTestStore : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly HttpClient _raw;

    private InfluxTestStore(ServiceProvider services, Uri url, string database)
    {
        _services = services;
        Url = url;
        Database = database;
        Store = services.GetRequiredService<InfluxDbReadingStore>();
        _raw = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Url { get; }
    public string Database { get; }
    public InfluxDbReadingStore Store { get; }

    public static async Task<InfluxTestStore> CreateAsync(Uri url, Dictionary<string, string?>? settings = null)
    {
        var database = "t" + Guid.NewGuid().ToString("N")[..12];
        var all = new Dictionary<string, string?>
        {
            ["Store:Kind"] = "influxdb",
            ["Store:Url"] = url.ToString(),
            ["Store:Database"] = database,
        };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var services = new ServiceCollection().AddSensingStore(configuration).BuildServiceProvider();
        var store = new InfluxTestStore(services, url, all["Store:Database"]!);
        // The database does not exist yet: initializing must create it.
        await store.Store.InitializeAsync().Within();
        return store;
    }

    /// <summary>Runs test-only InfluxQL against this store's database; returns the first series' rows.</summary>
    public async Task<List<JsonElement[]>> QueryAsync(string influxQl)
    {
        var uri = $"query?db={Uri.EscapeDataString(Database)}&epoch=ms&q={Uri.EscapeDataString(influxQl)}";
        using var response = await _raw.GetAsync(new Uri(uri, UriKind.Relative)).Within();
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync().Within());
        var result = document.RootElement.GetProperty("results")[0];
        if (result.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException(error.GetString());
        }

        var rows = new List<JsonElement[]>();
        if (result.TryGetProperty("series", out var series))
        {
            foreach (var one in series.EnumerateArray())
            {
                var columns = one.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray();
                foreach (var row in one.GetProperty("values").EnumerateArray())
                {
                    rows.Add(row.EnumerateArray().Select(v => v.Clone()).ToArray());
                }

                Columns = columns;
            }
        }

        return rows;
    }

    /// <summary>The column names of the last series <see cref="QueryAsync"/> read.</summary>
    public string[] Columns { get; private set; } = [];

    public async Task<long> CountAsync(string measurement) =>
        (await QueryAsync($"SELECT count(\"value\") FROM \"{measurement}\"")) is [var row] ? row[1].GetInt64() : 0;

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var drop = new FormUrlEncodedContent([new("q", $"DROP DATABASE \"{Database}\"")]);
            using var response = await _raw.PostAsync(new Uri("query", UriKind.Relative), drop).Within();
        }
        catch (HttpRequestException)
        {
            // The server may be gone already (a test that stops it); its folder goes with it.
        }

        _raw.Dispose();
        await _services.DisposeAsync();
    }
}
