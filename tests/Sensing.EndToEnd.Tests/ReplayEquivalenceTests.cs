using DuckDB.NET.Data;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Spool;
using Sensing.Simulators.Replay;
using Sensing.Simulators.Simulate;
using Sensing.Testing;
using Sensing.Telemetry;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests;

/// <summary>
/// Record and replay, as an engineer reproduces a day that went wrong: a simulated feed goes into service A while
/// <c>record</c> captures it off A's broker; <c>replay --speed max</c> sends the recording into a fresh service B.
/// Both must end with the same stored readings, the same dead letters and the same alerts, although B got the day
/// in a fraction of the time and in different batches.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ReplayEquivalenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = SensingTestHost.NewDataDirectory();

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_replayed_day_gives_the_same_readings_dead_letters_and_alerts()
    {
        var registry = Path.Combine(_folder, "world.json");
        var recording = Path.Combine(_folder, "day.rec");
        string[] world =
        [
            "--communities", "1", "--households", "40", "--cameras", "20", "--gates", "2", "--lots", "1", "--grids", "3",
            "--start", "2026-11-16T06:00:00+08:00", "--duration", "6h", "--seed", "7", "--scenario", "facilities",
            "--silent-rate", "0.1", "--flapping-rate", "0.05", "--skew-rate", "0", "--reset-rate", "0.05", "--malformed-rate", "0.01",
        ];

        // How many messages the day has (the same seed and options give the same feed).
        var dryRun = Path.Combine(_folder, "day.jsonl");
        Assert.Equal(0, await SimulateCommand.RunAsync([.. world, "--dry-run", "--out", dryRun, "--registry-out", registry], TextWriter.Null, TextWriter.Null, false, TimeProvider.System, CancellationToken.None));
        var total = File.ReadLines(dryRun).Count();
        output.WriteLine($"the simulated day has {total} messages");

        // Service A gets the day from the simulator while record captures it.
        Snapshot original;
        await using (var a = await StartAsync("a", registry))
        {
            var recorder = Task.Run(() => RecordCommand.RunAsync(["--host", "127.0.0.1", "--port", $"{a.MqttPort}", "--topic", "sensing/#", "--out", recording, "--max-messages", $"{total}"]));
            await SensingTestHost.EventuallyAsync(() => Task.FromResult(File.Exists(recording) ? "" : null), TimeSpan.FromSeconds(30), "the recorder to subscribe");
            Assert.Equal(0, await SimulateCommand.RunAsync([.. world, "--host", "127.0.0.1", "--port", $"{a.MqttPort}", "--speed", "max", "--client-id", "sim-a"],
                TextWriter.Null, TextWriter.Null, false, TimeProvider.System, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3)));
            Assert.Equal(0, await recorder.WaitAsync(TimeSpan.FromMinutes(1)));
            original = await SettleAndSnapshotAsync(a, total);
        }

        // Service B, fresh, gets the recording at full speed.
        Snapshot replayed;
        await using (var b = await StartAsync("b", registry))
        {
            Assert.Equal(0, await ReplayCommand.RunAsync(["--in", recording, "--host", "127.0.0.1", "--port", $"{b.MqttPort}", "--speed", "max", "--qos", "1", "--client-id", "replay-b"])
                .WaitAsync(TimeSpan.FromMinutes(3)));
            replayed = await SettleAndSnapshotAsync(b, total);
        }

        output.WriteLine($"A: {original.Readings} readings, {original.DeadLetters.Count} dead letters, {original.Alerts.Count} alerts; " +
                         $"B: {replayed.Readings} readings, {replayed.DeadLetters.Count} dead letters, {replayed.Alerts.Count} alerts");
        Assert.True(original.Readings > total / 2, "the day must have produced readings");
        Assert.NotEmpty(original.DeadLetters);
        Assert.NotEmpty(original.Alerts);
        Assert.Equal(original.Readings, replayed.Readings);
        Assert.Equal(original.ReadingsHash, replayed.ReadingsHash);
        Assert.Equal(original.DeadLetters, replayed.DeadLetters);
        Assert.Equal(original.Alerts, replayed.Alerts);
    }

    private async Task<SensingTestHost> StartAsync(string name, string registry)
    {
        var folder = Path.Combine(_folder, name);
        Directory.CreateDirectory(folder);
        File.Copy(registry, Path.Combine(folder, "registry.json"));
        return await SensingTestHost.StartAsync(dataDirectory: folder, failOnLoggedErrors: false);
    }

    private sealed record Snapshot(long Readings, long ReadingsHash, IReadOnlyList<string> DeadLetters, IReadOnlyList<string> Alerts);

    /// <summary>Waits until everything received is stored and analytics has had its say, then reads what the service holds.</summary>
    private static async Task<Snapshot> SettleAndSnapshotAsync(SensingTestHost host, int total)
    {
        var ingest = host.App.Services.GetRequiredService<IngestMetrics>();
        var writer = host.App.Services.GetRequiredService<StoreWriter>();
        await SensingTestHost.EventuallyAsync(() => Task.FromResult(ingest.MessagesReceived >= total && ingest.QueueDepth == 0 && writer.SpoolDepth == 0 ? "" : null),
            TimeSpan.FromMinutes(2), $"{total} messages to be received and stored");
        await Task.Delay(TimeSpan.FromSeconds(2)); // the analytics loop works through its queue of stored batches

        // Event-time alerts only: once the feed stops, a quiet-feed check may add silences whose time depends on the
        // wall clock; the feed's own span is what must match.
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var lastEventTime = (await store.LatestPerDeviceAsync(Metrics.CameraOnline, CancellationToken.None)).Max(r => r.Time);
        var everyone = new CallerScope("test", Roles.Admin, null, new HashSet<string>());
        var alerts = host.App.Services.GetRequiredService<AlertBook>().Query(everyone, null, null, null, null)
            .Where(a => a.RaisedAt <= lastEventTime)
            .Select(a => $"{a.Id} {a.Kind} {a.Device}{a.Household} {a.StartedAt:O} {a.RaisedAt:O} {a.Evidence.Summary}")
            .Order(StringComparer.Ordinal)
            .ToList();
        var deadLetters = (await store.DeadLettersAsync(null, 100_000, CancellationToken.None))
            .Select(d => $"{d.Topic} {d.Reason} {Convert.ToBase64String(d.Payload)}")
            .Order(StringComparer.Ordinal)
            .ToList();

        await host.App.StopAsync();
        await using var duck = new DuckDBConnection($"Data Source={Path.Combine(host.DataDirectory, "sensing.duckdb")};ACCESS_MODE=READ_ONLY");
        await duck.OpenAsync();
        using var command = duck.CreateCommand();
        command.CommandText = "SELECT count(*), coalesce(bit_xor(hash(device, metric, label, ts, value, community, grid, household, attributes)), 0) FROM readings";
        using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Snapshot(reader.GetInt64(0), unchecked((long)Convert.ToUInt64(reader.GetValue(1))), deadLetters, alerts);
    }
}
