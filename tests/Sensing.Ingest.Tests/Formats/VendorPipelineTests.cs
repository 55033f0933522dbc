using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Quarantine;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest.Tests.Formats;

/// <summary>
/// Vendor messages through the real pipeline into a real DuckDB store, routed by the default <c>Ingest:Formats</c>:
/// registers become consumption across resets, rollovers, duplicates and late arrivals; unknown sources are
/// quarantined and come in once registered.
/// </summary>
public sealed class VendorPipelineTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 19, 23, 15, 0, TimeSpan.Zero);

    private readonly DeviceRegistry _registry = VendorWorld.NewRegistry();
    private readonly IngestQueue _queue = new(1000);
    private readonly QuarantineBook _quarantine = new();
    private readonly ConcurrentDictionary<int, int> _acks = new();
    private TempStore _temp = null!;
    private StoreWriter _writer = null!;
    private IngestPipeline _pipeline = null!;
    private IngestMetrics _metrics = null!;
    private int _next;

    public async Task InitializeAsync()
    {
        _temp = await TempStore.CreateAsync();
        _metrics = new IngestMetrics(_queue);
        _writer = new StoreWriter(_temp.Store, [], _metrics, Options.Create(new SpoolOptions { Enabled = false }), TimeProvider.System, NullLogger<StoreWriter>.Instance);
        await _writer.StartAsync(CancellationToken.None).Within();
        var context = new VendorContext(_registry, _quarantine, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"), new FormatCounters());
        var router = VendorFormats.Router(new IngestOptions().Formats, _registry, context);
        _pipeline = new IngestPipeline(_queue, router, _registry, _temp.Store, _writer, _metrics,
            Options.Create(new IngestOptions { BatchSize = 100, BatchDelayMilliseconds = 20 }), NullLogger<IngestPipeline>.Instance);
        await _pipeline.StartAsync(CancellationToken.None).Within();
    }

    public async Task DisposeAsync()
    {
        await _pipeline.StopAsync(CancellationToken.None).Within();
        await _writer.StopAsync(CancellationToken.None).Within();
        _writer.Dispose();
        await _temp.DisposeAsync();
    }

    private async Task Publish(string topic, string payload)
    {
        var id = Interlocked.Increment(ref _next);
        var message = new PendingMessage(topic, Encoding.UTF8.GetBytes(payload), VendorWorld.ReceivedAt.AddSeconds(id), _ =>
        {
            _acks.AddOrUpdate(id, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        });
        await _queue.EnqueueAsync(message, CancellationToken.None).AsTask().Within();
    }

    private Task AllAcknowledged() => TestTimeouts.Until(() => Task.FromResult(_acks.Count == _next), $"{_next} acknowledgements");

    private static string Tasmota(string localTime, double total) =>
        $$$"""{"Time":"{{{localTime}}}","ENERGY":{"Total":{{{total.ToString(CultureInfo.InvariantCulture)}}},"Power":40}}""";

    private static string ChirpStackWater(string eui, DateTimeOffset time, double m3) =>
        $$$"""{"time":"{{{time:yyyy-MM-ddTHH:mm:ssZ}}}","deviceInfo":{"devEui":"{{{eui}}}"},"fCnt":1,"data":"AQ==","object":{"volume_m3":{{{m3.ToString(CultureInfo.InvariantCulture)}}}}}""";

    [Fact]
    public async Task Vendor_registers_yield_consumption_through_resets_rollovers_duplicates_and_late_arrivals()
    {
        const string plug = "tele/meter-17/SENSOR";
        await Publish(plug, Tasmota("2026-11-20T07:15:00", 100.0));
        await Publish(plug, Tasmota("2026-11-20T08:15:00", 100.5));
        await Publish(plug, Tasmota("2026-11-20T08:15:00", 100.5));   // QoS 1 redelivery
        await Publish(plug, Tasmota("2026-11-20T07:45:00", 100.2));   // late: stored, but closes no interval
        await Publish(plug, Tasmota("2026-11-20T09:15:00", 0.3));     // EnergyReset: counts from zero
        const string water = "application/a1/device/70b3d5e75e001234/event/up";
        await Publish(water, ChirpStackWater("70b3d5e75e001234", T0, 99_999.5));
        await Publish(water, ChirpStackWater("70b3d5e75e001234", T0.AddHours(1), 1.2));   // the dial wrapped at 100 000 m³
        await AllAcknowledged();

        Assert.Equal([100.0, 100.2, 100.5, 0.3], (await _temp.RawAsync("c1-em-0042", Metrics.ElectricityTotal)).Select(b => b.Value));
        var used = await _temp.RawAsync("c1-em-0042", Metrics.ElectricityConsumption);
        Assert.Equal([T0.AddHours(1), T0.AddHours(2)], used.Select(b => b.Time));
        Assert.Equal(0.5, used[0].Value, 9);
        Assert.Equal(0.3, used[1].Value, 9);
        var wrapped = Assert.Single(await _temp.RawAsync("c1-wm-0043", Metrics.WaterConsumption));
        Assert.Equal(1.7, wrapped.Value, 6);
        Assert.Equal(0, _metrics.DeadLetters);
    }

    [Fact]
    public async Task An_unknown_source_is_quarantined_and_its_messages_come_in_once_an_admin_registers_it()
    {
        using var release = new QuarantineRelease(_registry, _quarantine, _temp.Store, _queue, Options.Create(new IngestOptions()), TimeProvider.System, NullLogger<QuarantineRelease>.Instance);
        await release.StartAsync(CancellationToken.None).Within();
        try
        {
            const string eui = "70b3d5e75e00aaaa";
            const string topic = "application/a1/device/" + eui + "/event/up";
            await Publish(topic, ChirpStackWater(eui, T0, 10.0));
            await Publish(topic, ChirpStackWater(eui, T0.AddHours(1), 10.4));
            await Publish(topic, ChirpStackWater(eui, T0.AddHours(2), 11.0));
            await AllAcknowledged();

            var letters = await _temp.Store.DeadLettersAsync(null, 100, CancellationToken.None).Within();
            Assert.Equal(3, letters.Count);
            Assert.All(letters, l =>
            {
                Assert.Equal("chirpstack", l.Format);
                Assert.Equal(QuarantineBook.Reason("chirpstack:" + eui), l.Reason);
            });
            var waiting = Assert.Single(_quarantine.Sources);
            Assert.Equal(("chirpstack:" + eui, 3L, topic), (waiting.Source, waiting.Messages, waiting.Topic));

            _registry.Upsert(new Device("c1-wm-new", DeviceKind.Meter, "c1", "g1", "h-0044", Source: "chirpstack:" + eui));

            await TestTimeouts.Until(async () => (await _temp.RawAsync("c1-wm-new", Metrics.WaterConsumption)).Count == 2, "the quarantined registers to be ingested");
            // Replayed in arrival order, so the registers close their intervals as they would have live.
            Assert.Equal([10.0, 10.4, 11.0], (await _temp.RawAsync("c1-wm-new", Metrics.WaterTotal)).Select(b => b.Value));
            Assert.Equal([0.4, 0.6], (await _temp.RawAsync("c1-wm-new", Metrics.WaterConsumption)).Select(b => Math.Round(b.Value, 9)));
            Assert.Empty(_quarantine.Sources);
            Assert.Equal(3, _quarantine.ReplayedMessages);
            // The dead letters stay: they record what arrived before the device was known.
            Assert.Equal(3, (await _temp.Store.DeadLettersAsync(null, 100, CancellationToken.None).Within()).Count);

            // Updating the device (a new grid) is not a new source: nothing is replayed again.
            _registry.Upsert(new Device("c1-wm-new", DeviceKind.Meter, "c1", "g2", "h-0044", Source: "chirpstack:" + eui));
            await Task.Delay(1500);
            Assert.Equal(3, _quarantine.ReplayedMessages);
        }
        finally
        {
            await release.StopAsync(CancellationToken.None).Within();
        }
    }

    [Fact]
    public async Task After_a_restart_the_quarantine_list_is_restored_from_the_dead_letters()
    {
        await Publish("tele/meter-99/SENSOR", Tasmota("2026-11-20T07:15:00", 5));
        await Publish("zigbee2mqtt/new_plug", """{"energy":1.5}""");
        await AllAcknowledged();

        var restarted = new QuarantineBook();
        using var release = new QuarantineRelease(_registry, restarted, _temp.Store, _queue, Options.Create(new IngestOptions()), TimeProvider.System, NullLogger<QuarantineRelease>.Instance);
        await release.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(restarted.Count == 2), "the quarantine list to be restored");
            Assert.Equal(["tasmota:meter-99", "z2m:new_plug"], restarted.Sources.Select(s => s.Source));
            Assert.Equal(["tasmota", "zigbee2mqtt"], restarted.Sources.Select(s => s.Format));
        }
        finally
        {
            await release.StopAsync(CancellationToken.None).Within();
        }
    }

    [Fact]
    public async Task Every_malformed_vendor_sample_is_dead_lettered_with_its_format_and_reason()
    {
        await Publish("frigate/events", """{"type":"new","after":{"camera":"front_door","label":"person","start_time":"soon"}}""");
        await Publish("tele/meter-17/SENSOR", """{"Time":"2026-11-20T07:15:00","ENERGY":{"Total":"lots"}}""");
        await Publish("spBv1.0/c1/DDATA/plant1/meter7", "\u0001garbage");
        await Publish("hikvision/ds-k1t671-e1/event", "<EventNotificationAlert/>");
        await AllAcknowledged();

        var letters = (await _temp.Store.DeadLettersAsync(null, 100, CancellationToken.None).Within()).OrderBy(l => l.ReceivedAt).ToList();
        Assert.Equal(["frigate", "tasmota", "sparkplug", "hikvision"], letters.Select(l => l.Format));
        Assert.StartsWith("frigate: after.start_time must be Unix seconds", letters[0].Reason, StringComparison.Ordinal);
        Assert.Equal("tasmota: ENERGY.Total must be a number (kWh)", letters[1].Reason);
        Assert.StartsWith("sparkplug: payload is not a valid Sparkplug B protobuf", letters[2].Reason, StringComparison.Ordinal);
        Assert.StartsWith("hikvision: malformed JSON", letters[3].Reason, StringComparison.Ordinal);
    }
}
