using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sensing.Storage;

namespace Sensing.Benchmarks;

/// <summary>
/// A sustained-load run of the store, as ingest drives it: batches of street-office readings (40 communities,
/// ~200k devices: meters every 15 minutes, gates, lots, cameras) written back to back for a fixed time.
/// Prints sustained readings/s and the median and p99 batch write time. Uses the store the service would use,
/// composed from the same configuration keys:
/// <code>
/// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- store-load --seconds 30 --batch 5000 [--live] [--Store:Kind=influxdb --Store:Url=http://127.0.0.1:8086 --Store:Database=bench]
/// </code>
/// By default the readings' times are a recorded month's (from 2026-11-01, 15 minutes apart per device), as a replay
/// or backfill writes them; <c>--live</c> stamps each batch with the wall clock, as devices reporting now do (each
/// device then comes round every few seconds, the e2e feed's cadence).
/// Without Store settings it writes to a fresh DuckDB file in a temp folder (deleted afterwards).
/// </summary>
public static class StoreLoadCommand
{
    private const int Communities = 40;
    private const int DevicesPerCommunity = 5000;

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = IntOption(args, "--seconds", 30);
        var batchSize = IntOption(args, "--batch", 5000);
        var live = args.Contains("--live");
        var folder = Path.Combine(Path.GetTempPath(), "sensing-store-load-" + Guid.NewGuid().ToString("N")[..8]);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Store:Path"] = Path.Combine(folder, "load.duckdb") });
        builder.Configuration.AddCommandLine(args.Where(a => a.StartsWith("--Store:", StringComparison.Ordinal)).ToArray());
        builder.Services.AddLogging();
        builder.Services.AddSensingStore(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();
        var store = host.Services.GetRequiredService<IReadingStore>();
        var kind = builder.Configuration["Store:Kind"] ?? "duckdb";

        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var batch = new List<Reading>(batchSize);
        var latencies = new List<double>();
        long written = 0;
        var sequence = 0L;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var load0 = ProcessCpu.LoadAverage();
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        while (clock.Elapsed < deadline)
        {
            batch.Clear();
            // A device comes round once per 200,000 readings, so one wall-clock time per batch keeps every key new.
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < batchSize; i++, sequence++)
            {
                var reading = NextReading(sequence, start);
                batch.Add(live ? reading with { Time = now } : reading);
            }
            var began = Stopwatch.GetTimestamp();
            await store.WriteAsync(batch, CancellationToken.None);
            latencies.Add(Stopwatch.GetElapsedTime(began).TotalMilliseconds);
            written += batch.Count;
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        var peakRss = PeakRssBytes();
        await host.StopAsync();
        (store as IDisposable)?.Dispose();
        if (store is IAsyncDisposable asyncStore) await asyncStore.DisposeAsync();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }

        latencies.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"store-load {kind}{(live ? " live" : "")}: {written:N0} readings in {elapsed:F1} s = {written / elapsed:N0} readings/s; batch {batchSize}: median {Percentile(latencies, 0.5):F1} ms, p99 {Percentile(latencies, 0.99):F1} ms, max {latencies[^1]:F1} ms, {latencies.Count(l => l > 250)} over 250 ms ({latencies.Count} batches); {cpuSeconds / written * 1e6:F1} CPU-µs per reading, peak RSS {peakRss / 1e6:F0} MB, load average {load0:F1}→{ProcessCpu.LoadAverage():F1}"));
        return 0;
    }

    /// <summary>
    /// Reading number <paramref name="n"/> of the feed: devices visited round-robin, each device's readings 15 minutes
    /// apart, so every reading is a new key (nothing is deduplicated away) and the time range grows as a real feed's.
    /// </summary>
    private static Reading NextReading(long n, DateTimeOffset start)
    {
        var device = (int)(n % (Communities * DevicesPerCommunity));
        var round = n / (Communities * DevicesPerCommunity);
        var community = device / DevicesPerCommunity;
        var local = device % DevicesPerCommunity;
        var time = start.AddMinutes(15 * round).AddSeconds(local % 900);
        var (metric, value) = (local % 10) switch
        {
            < 4 => (Metrics.WaterConsumption, 0.01 + local % 7 * 0.001),
            < 8 => (Metrics.ElectricityConsumption, 0.2 + local % 5 * 0.05),
            8 => (Metrics.GatePass, 1.0),
            _ => (Metrics.ParkingFree, local % 200),
        };
        return new Reading(DeviceIds[device], CommunityIds[community], GridIds[local % 11], local < 8 * DevicesPerCommunity / 10 ? HouseholdIds[device] : null,
            metric, time, value);
    }

    private static readonly string[] CommunityIds = [.. Enumerable.Range(1, Communities).Select(i => $"c{i}")];
    private static readonly string[] GridIds = [.. Enumerable.Range(1, 11).Select(i => $"g{i}")];
    private static readonly string[] DeviceIds = [.. Enumerable.Range(0, Communities * DevicesPerCommunity).Select(i => $"c{i / DevicesPerCommunity + 1}-d{i % DevicesPerCommunity:D4}")];
    private static readonly string[] HouseholdIds = [.. Enumerable.Range(0, Communities * DevicesPerCommunity).Select(i => $"h-c{i / DevicesPerCommunity + 1}-{i % DevicesPerCommunity / 2:D4}")];

    /// <summary>This process's peak resident set (<c>VmHWM</c>), the figure the e2e command reports for the service.</summary>
    private static long PeakRssBytes() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) is { } line
            ? long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024
            : 0;

    private static int IntOption(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
