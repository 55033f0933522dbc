using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;
using Sensing.Storage;

namespace Sensing.Ingest.Tests;

internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static Task Within(this Task task) => task.WaitAsync(Default);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Default);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test when it has not within the timeout.</summary>
    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Default);
        while (!await condition().Within())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for {what}");
            }
            await Task.Delay(25);
        }
    }
}

/// <summary>Embedded brokers for tests, built as the host builds them.</summary>
internal static class TestBrokers
{
    /// <summary>
    /// An embedded broker with its access policy. Without <paramref name="broker"/> it admits anonymous clients, as the
    /// demo does (the tests that predate broker access publish anonymously).
    /// </summary>
    public static Sensing.Ingest.Mqtt.EmbeddedBroker Create(MqttOptions mqtt, Sensing.Ingest.Mqtt.BrokerOptions? broker = null,
        DeviceRegistry? registry = null, Sensing.Ingest.Mqtt.ServiceCredential? service = null)
    {
        broker ??= new Sensing.Ingest.Mqtt.BrokerOptions { AllowAnonymous = true };
        var access = new Sensing.Ingest.Mqtt.BrokerAccess(broker, registry ?? new DeviceRegistry(), service ?? new Sensing.Ingest.Mqtt.ServiceCredential(mqtt.ClientId));
        return new Sensing.Ingest.Mqtt.EmbeddedBroker(Microsoft.Extensions.Options.Options.Create(mqtt), Microsoft.Extensions.Options.Options.Create(broker), access,
            NullLogger<Sensing.Ingest.Mqtt.EmbeddedBroker>.Instance);
    }
}

internal static class LoopbackPorts
{
    /// <summary>A port free on 127.0.0.1 right now, outside the ephemeral range (<see cref="Sensing.Testing.SensingTestHost.FreePort"/>).</summary>
    public static int Free() => Sensing.Testing.SensingTestHost.FreePort();
}

/// <summary>The little world the normalizer and pipeline tests share: one community, registered devices of each kind.</summary>
internal static class World
{
    // 2026-11-20T07:15:00+08:00 is 2026-11-19T23:15:00Z, which is 1 795 130 100 000 ms after the epoch.
    public const string LocalTs = "2026-11-20T07:15:00+08:00";
    public const long EpochMs = 1_795_130_100_000;
    public static readonly DateTimeOffset Utc = new(2026, 11, 19, 23, 15, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset ReceivedAt = new(2026, 11, 24, 2, 0, 0, TimeSpan.Zero);

    public static DeviceRegistry Registry()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Community("c1", "阳光社区"));
        registry.Upsert(new Grid("g1", "c1", "一网格"));
        registry.Upsert(new Household("h-0042", "c1", "g1", ElderlyLivingAlone: true));
        registry.Upsert(new Device("c1-wm-0042", DeviceKind.Meter, "c1", "g1", "h-0042"));
        registry.Upsert(new Device("c1-gate-01", DeviceKind.Gate, "c1", "g2"));
        registry.Upsert(new Device("c1-park-01", DeviceKind.Parking, "c1", "g1"));
        registry.Upsert(new Device("c1-cam-07", DeviceKind.Camera, "c1", "g3"));
        return registry;
    }

    public static IncomingMessage Message(string topic, string json) => new(topic, Encoding.UTF8.GetBytes(json), ReceivedAt);
}

/// <summary>A real DuckDB store on a file in a fresh temporary folder, deleted afterwards.</summary>
internal sealed class TempStore : IAsyncDisposable
{
    private TempStore(string folder, DuckDbReadingStore store)
    {
        Folder = folder;
        Store = store;
    }

    public string Folder { get; }
    public DuckDbReadingStore Store { get; }

    public static async Task<TempStore> CreateAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "sensing-ingest-tests", Guid.NewGuid().ToString("N"));
        var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(Path.Combine(folder, "sensing.duckdb")), NullLogger.Instance).Within();
        return new TempStore(folder, store);
    }

    public Task<IReadOnlyList<Bucket>> RawAsync(string device, string metric) =>
        Store.QueryAsync(new ReadingQuery(metric, new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero), Device: device), CancellationToken.None).Within();

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync().AsTask().Within();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is not worth failing a test over.
        }
    }
}
