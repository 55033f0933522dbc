using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest.Tests;

public sealed class IngestPipelineTests : IAsyncLifetime
{
    private const string MeterTopic = "sensing/c1/meter/c1-wm-0042";
    private const string GateTopic = "sensing/c1/gate/c1-gate-01";
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    private TempStore _temp = null!;
    private readonly DeviceRegistry _registry = World.Registry();
    private readonly IngestQueue _queue = new(1000);
    private readonly ConcurrentQueue<string> _log = new();
    private readonly ConcurrentDictionary<int, int> _acks = new();
    private readonly RecordingListener _listener;
    private readonly IngestMetrics _metrics;

    private readonly Xunit.Abstractions.ITestOutputHelper output;

    public IngestPipelineTests(Xunit.Abstractions.ITestOutputHelper output)
    {
        this.output = output;
        _listener = new RecordingListener(_log);
        _metrics = new IngestMetrics(_queue);
    }

    public async Task InitializeAsync() => _temp = await TempStore.CreateAsync();

    private StoreWriter? _writer;

    public async Task DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.StopAsync(CancellationToken.None).Within();
            _writer.Dispose();
        }
        await _temp.DisposeAsync();
    }

    /// <summary>
    /// The pipeline with its store writer. Without <paramref name="spool"/> the writer has no spool, so a failing
    /// store holds the batch (and its acknowledgements) until the store takes it.
    /// </summary>
    private IngestPipeline Pipeline(IReadingStore store, SpoolOptions? spool = null, IArrivingReadingsListener? arrivals = null, int receiveMaximum = 0)
    {
        _writer = new StoreWriter(store, [_listener], _metrics, Options.Create(spool ?? new SpoolOptions { Enabled = false }), TimeProvider.System, NullLogger<StoreWriter>.Instance);
        _writer.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return new IngestPipeline(
            _queue,
            new FormatRouter([("sensing/#", new NativeNormalizer(_registry))]),
            _registry,
            store,
            _writer,
            _metrics,
            Options.Create(new IngestOptions { BatchSize = 100, BatchDelayMilliseconds = 20 }),
            NullLogger<IngestPipeline>.Instance,
            arrivals is null ? null : [arrivals],
            Options.Create(new MqttOptions { ReceiveMaximum = receiveMaximum }));
    }

    /// <summary>
    /// Enqueues a message whose acknowledgement records itself and, at that moment, runs <paramref name="atAck"/>
    /// (a check against the store) and keeps its answer.
    /// </summary>
    private async Task Enqueue(int id, string topic, string json, Func<Task<bool>>? atAck = null, ConcurrentDictionary<int, bool>? checks = null)
    {
        var message = new PendingMessage(topic, Encoding.UTF8.GetBytes(json), World.ReceivedAt.AddSeconds(id), async ct =>
        {
            _acks.AddOrUpdate(id, 1, (_, n) => n + 1);
            _log.Enqueue($"ack:{id}");
            if (atAck is not null) checks![id] = await atAck();
        });
        await _queue.EnqueueAsync(message, CancellationToken.None).AsTask().Within();
    }

    private static string Water(DateTimeOffset time, double total) =>
        $$"""{"ts":"{{time:yyyy-MM-ddTHH:mm:ssZ}}","type":"water","total":{{total.ToString(System.Globalization.CultureInfo.InvariantCulture)}},"household":"h-0042"}""";

    private async Task<bool> HasPoint(string device, string metric, DateTimeOffset time) =>
        (await _temp.RawAsync(device, metric)).Any(b => b.Time == time);

    private async Task<bool> HasDeadLetter(string topic) =>
        (await _temp.Store.DeadLettersAsync(null, 100, CancellationToken.None)).Any(d => d.Topic == topic);

    [Fact]
    public async Task Stores_readings_derives_consumption_dead_letters_and_acknowledges_each_message_once_after_the_write()
    {
        var store = new RecordingStore(_temp.Store, _log);
        var checks = new ConcurrentDictionary<int, bool>();
        var malformed = """{"ts":1795130100000,"type":"water","household":"h-0042"}""";
        await Enqueue(1, MeterTopic, Water(T0, 100.25), () => HasPoint("c1-wm-0042", Metrics.WaterTotal, T0), checks);
        await Enqueue(2, MeterTopic, Water(T0.AddMinutes(15), 100.75), () => HasPoint("c1-wm-0042", Metrics.WaterConsumption, T0.AddMinutes(15)), checks);
        await Enqueue(3, GateTopic, """{"ts":1795130100000,"event":"pass","direction":"in","credential":"qr"}""", () => HasPoint("c1-gate-01", Metrics.GatePass, World.Utc), checks);
        await Enqueue(4, MeterTopic, malformed, () => HasDeadLetter(MeterTopic), checks);
        await Enqueue(5, "elsewhere/thing", "not even json", () => HasDeadLetter("elsewhere/thing"), checks);

        var pipeline = Pipeline(store);
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 5 && _listener.Batches.Count > 0), "five acknowledgements");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        // Stored, with consumption derived from the second register.
        Assert.Equal([new Bucket(T0, 100.25), new Bucket(T0.AddMinutes(15), 100.75)], await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal));
        var consumption = Assert.Single(await _temp.RawAsync("c1-wm-0042", Metrics.WaterConsumption));
        Assert.Equal(T0.AddMinutes(15), consumption.Time);
        Assert.Equal(0.5, consumption.Value, 9);
        Assert.Equal([new Bucket(World.Utc, 1)], await _temp.RawAsync("c1-gate-01", Metrics.GatePass));

        // Dead letters with their reason, raw payload, receive time and format.
        var letters = (await _temp.Store.DeadLettersAsync(null, 100, CancellationToken.None).Within()).OrderBy(d => d.ReceivedAt).ToList();
        Assert.Equal(2, letters.Count);
        Assert.Equal(MeterTopic, letters[0].Topic);
        Assert.Equal("meter: field 'total' is missing", letters[0].Reason);
        Assert.Equal("native", letters[0].Format);
        Assert.Equal(Encoding.UTF8.GetBytes(malformed), letters[0].Payload);
        Assert.Equal(malformed.Length, letters[0].PayloadBytes);
        Assert.Equal(World.ReceivedAt.AddSeconds(4), letters[0].ReceivedAt);
        Assert.Equal("elsewhere/thing", letters[1].Topic);
        Assert.Equal("no normalizer is configured for this topic", letters[1].Reason);
        Assert.Equal("none", letters[1].Format);
        Assert.Equal("not even json"u8.ToArray(), letters[1].Payload);

        // Each message acknowledged exactly once, and only when its reading or dead letter was already in the store.
        Assert.Equal(Enumerable.Range(1, 5).ToDictionary(i => i, _ => 1), _acks.OrderBy(kv => kv.Key).ToDictionary());
        Assert.All(Enumerable.Range(1, 5), id => Assert.True(checks[id], $"message {id} was acknowledged before it was queryable"));
        var log = _log.ToList();
        var lastWrite = Math.Max(log.FindLastIndex(e => e.StartsWith("stored:", StringComparison.Ordinal)), log.FindLastIndex(e => e.StartsWith("deadletters:", StringComparison.Ordinal)));
        var firstAck = log.FindIndex(e => e.StartsWith("ack:", StringComparison.Ordinal));
        Assert.True(firstAck > lastWrite, string.Join(", ", log));

        // Listeners get exactly the stored readings, after the write.
        var told = _listener.Batches.SelectMany(b => b).ToList();
        Assert.Equal(4, told.Count);
        Assert.Contains(told, r => r.Metric == Metrics.WaterConsumption && r.Household == "h-0042" && r.Grid == "g1");
        Assert.Contains(told, r => r.Metric == Metrics.GatePass && r.Label == "in" && r.Attributes == """{"credential":"qr"}""");
        Assert.True(log.FindIndex(e => e.StartsWith("listener:", StringComparison.Ordinal)) > lastWrite);

        // Metrics match what happened.
        Assert.Equal(4, _metrics.ReadingsStored);
        Assert.Equal(2, _metrics.DeadLetters);
        Assert.Equal(0, _metrics.QueueDepth);
        Assert.True(_metrics.PipelineReady);
        Assert.True(_metrics.StoreHealthy);
        Assert.Equal(T0.AddMinutes(15), _registry.LastSeen("c1-wm-0042"));
    }

    [Fact]
    public async Task Consumption_continues_across_batches_and_restarts_from_the_stored_register()
    {
        await Enqueue(1, MeterTopic, Water(T0, 10));
        var first = Pipeline(_temp.Store);
        await first.StartAsync(CancellationToken.None).Within();
        await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 1), "the first register to be stored");
        await first.StopAsync(CancellationToken.None).Within();
        Assert.Empty(await _temp.RawAsync("c1-wm-0042", Metrics.WaterConsumption));

        // A new pipeline has a new register tracker: it must seed it from the store.
        var second = Pipeline(_temp.Store);
        await second.StartAsync(CancellationToken.None).Within();
        try
        {
            await Enqueue(2, MeterTopic, Water(T0.AddHours(1), 10.4));
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 2), "the second register to be stored");
            await Enqueue(3, MeterTopic, Water(T0.AddHours(2), 11));
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 3), "the third register to be stored");
        }
        finally
        {
            await second.StopAsync(CancellationToken.None).Within();
        }

        var used = await _temp.RawAsync("c1-wm-0042", Metrics.WaterConsumption);
        Assert.Equal([T0.AddHours(1), T0.AddHours(2)], used.Select(b => b.Time));
        Assert.Equal(0.4, used[0].Value, 9);
        Assert.Equal(0.6, used[1].Value, 9);
    }

    [Fact]
    public async Task A_redelivered_register_is_not_stored_or_counted_twice()
    {
        await Enqueue(1, MeterTopic, Water(T0, 10));
        await Enqueue(2, MeterTopic, Water(T0.AddHours(1), 12));
        await Enqueue(3, MeterTopic, Water(T0.AddHours(1), 12));   // QoS 1 redelivery
        var pipeline = Pipeline(_temp.Store);
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 3), "three acknowledgements");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        Assert.Equal(2, (await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal)).Count);
        Assert.Equal([new Bucket(T0.AddHours(1), 2)], await _temp.RawAsync("c1-wm-0042", Metrics.WaterConsumption));
    }

    [Fact]
    public async Task A_failing_store_is_retried_and_nothing_is_acknowledged_or_stored_twice()
    {
        // Fails until released; the second failing attempt writes and then throws, as a lost commit reply would.
        var store = new RecordingStore(_temp.Store, _log) { Failing = true, WriteBeforeFailingOnCall = 2 };
        var successfulWritesAtAck = new ConcurrentBag<int>();
        foreach (var (id, json) in new[] { (1, Water(T0, 100)), (2, Water(T0.AddMinutes(15), 101.5)) })
        {
            var message = new PendingMessage(MeterTopic, Encoding.UTF8.GetBytes(json), World.ReceivedAt, _ =>
            {
                _acks.AddOrUpdate(id, 1, (_, n) => n + 1);
                successfulWritesAtAck.Add(store.SuccessfulWrites);
                return Task.CompletedTask;
            });
            await _queue.EnqueueAsync(message, CancellationToken.None).AsTask().Within();
        }

        var pipeline = Pipeline(store);
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(store.WriteCalls >= 3), "three failed write attempts");
            Assert.Empty(_acks);
            Assert.Empty(_listener.Batches);
            Assert.False(_metrics.StoreHealthy);

            store.Failing = false;
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 2), "acknowledgements after the store recovered");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        Assert.Equal(1, store.SuccessfulWrites);
        Assert.All(successfulWritesAtAck, n => Assert.Equal(1, n));
        Assert.Equal([1, 1], _acks.Values);
        Assert.Equal([new Bucket(T0, 100), new Bucket(T0.AddMinutes(15), 101.5)], await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal));
        var used = Assert.Single(await _temp.RawAsync("c1-wm-0042", Metrics.WaterConsumption));
        Assert.Equal(1.5, used.Value, 9);
        Assert.Equal(3, _listener.Batches.Sum(b => b.Count));
        Assert.Equal(3, _metrics.ReadingsStored);
        Assert.True(_metrics.StoreHealthy);
        var samples = new List<MetricSample>();
        _metrics.Collect(samples);
        Assert.Equal(store.WriteCalls - 1, samples.Single(s => s.Name == "sensing_store_write_failures_total").Value);
        Assert.Equal(1, samples.Single(s => s.Name == "sensing_store_writes_total").Value);
    }

    private string SpoolFolder => Path.Combine(_temp.Folder, "spool");

    [Fact]
    public async Task While_the_store_is_down_batches_are_spooled_and_acknowledged_then_replayed_in_order_exactly_once()
    {
        var store = new RecordingStore(_temp.Store, _log) { Failing = true };
        var pipeline = Pipeline(store, new SpoolOptions { Directory = SpoolFolder, StoreTimeoutMilliseconds = 500 });
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            // Twelve registers of one meter arrive during the outage, a few per batch.
            for (var i = 0; i < 12; i++)
            {
                await Enqueue(i, MeterTopic, Water(T0.AddMinutes(15 * i), 100 + i * 0.25));
                if (i % 4 == 3) await TestTimeouts.Until(() => Task.FromResult(_acks.Count == i + 1), $"acknowledgement of message {i}");
            }
            // Acknowledged: durable in the spool, though not a single reading is in the store yet.
            Assert.Equal(12, _acks.Count);
            Assert.Equal(0, store.SuccessfulWrites);
            Assert.Empty(await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal));
            Assert.Empty(_listener.Batches);
            Assert.Equal(StoreState.Down, _writer!.State);
            Assert.True(_writer.SpoolDepth > 0);

            store.Failing = false;
            await TestTimeouts.Until(() => Task.FromResult(_writer.SpoolDepth == 0 && _listener.Batches.Sum(b => b.Count) == 23), "the spool to drain into the store");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        // Every register exactly once, and the consumption between each pair: nothing lost, nothing doubled.
        var registers = await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => new Bucket(T0.AddMinutes(15 * i), 100 + i * 0.25)), registers);
        var used = await _temp.RawAsync("c1-wm-0042", Metrics.WaterConsumption);
        Assert.Equal(11, used.Count);
        Assert.All(used, u => Assert.Equal(0.25, u.Value, 9));
        // Replayed in order: the listener saw the registers in time order.
        var heard = _listener.Batches.SelectMany(b => b).Where(r => r.Metric == Metrics.WaterTotal).Select(r => r.Time).ToList();
        Assert.Equal(heard.Order(), heard);
        Assert.Equal(StoreState.Ok, _writer.State);
        Assert.Empty(Directory.GetFiles(SpoolFolder, "spool-*.seg"));
    }

    [Fact]
    public async Task A_slow_store_that_still_takes_writes_holds_intake_instead_of_filling_the_spool()
    {
        // Every write takes 150 ms against a 50 ms timeout: each direct write goes to the spool, the drainer keeps
        // storing. Once it has stored something, the spool holds at most SlowStoreBatches (2) and intake waits.
        var store = new DelayedStore(_temp.Store, TimeSpan.FromMilliseconds(150));
        var pipeline = Pipeline(store, new SpoolOptions { Directory = SpoolFolder, StoreTimeoutMilliseconds = 50, SlowStoreBatches = 2 });
        await pipeline.StartAsync(CancellationToken.None).Within();
        const int Count = 150;
        var depths = new ConcurrentQueue<(int Depth, double Holds)>();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var samples = new List<MetricSample>();
                _writer!.Collect(samples);
                depths.Enqueue((_writer.SpoolDepth, samples.Single(m => m.Name == "sensing_slow_store_holds_total").Value));
                await Task.Delay(5);
            }
        });
        try
        {
            for (var id = 1; id <= Count; id++)
            {
                var ms = T0.AddSeconds(id).ToUnixTimeMilliseconds();
                await Enqueue(id, GateTopic, $$"""{"ts":{{ms}},"event":"pass","direction":"in","credential":"qr"}""");
                await Task.Delay(8);
            }
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == Count && _writer!.SpoolDepth == 0), "every message acknowledged and the spool drained");
        }
        finally
        {
            await sampling.CancelAsync();
            await sampler;
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        // Before the drainer's first store the spool takes what comes (the store could be away); once intake is held,
        // the spool drains down to the limit and never grows past it again.
        var held = depths.SkipWhile(d => d.Holds == 0).SkipWhile(d => d.Depth > 2).ToList();
        Assert.NotEmpty(held);
        Assert.InRange(held.Max(d => d.Depth), 0, 2);
        output.WriteLine($"spool depth: max {depths.Max(d => d.Depth)} in all, {held.Max(d => d.Depth)} once held; {held.Last().Holds} holds");
        Assert.All(_acks.Values, n => Assert.Equal(1, n));
        var stored = await _temp.RawAsync("c1-gate-01", Metrics.GatePass);
        Assert.Equal(Count, stored.Sum(b => b.Value));
        var heard = _listener.Batches.SelectMany(b => b).Select(r => r.Time).ToList();
        Assert.Equal(Count, heard.Count);
        Assert.Equal(heard.Order(), heard);
    }

    private sealed class DelayedStore(IReadingStore inner, TimeSpan delay) : ForwardingStore(inner)
    {
        public override async Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken);
            await Inner.WriteAsync(readings, cancellationToken);
        }
    }

    [Fact]
    public async Task When_the_spool_is_full_and_the_store_down_nothing_is_acknowledged_until_the_store_returns()
    {
        var store = new RecordingStore(_temp.Store, _log) { Failing = true };
        // A spool too small for even one batch: the only place left for the messages is the broker.
        var pipeline = Pipeline(store, new SpoolOptions { Directory = SpoolFolder, MaxBytes = 64, SegmentBytes = 64, StoreTimeoutMilliseconds = 200 });
        await Enqueue(1, MeterTopic, Water(T0, 100));
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(store.WriteCalls >= 1), "a write attempt");
            await Task.Delay(500);
            Assert.Empty(_acks);

            store.Failing = false;
            // Nothing is queued ahead of the batch, so once the store is back it takes the batch directly.
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 1), "the acknowledgement once the store is back");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }
        Assert.Equal([new Bucket(T0, 100)], await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal));
    }

    [Fact]
    public async Task A_reading_the_store_refuses_as_data_is_dead_lettered_and_the_rest_of_its_batch_stored()
    {
        var store = new PoisonStore(_temp.Store, "c1-cam-poison");
        await Enqueue(1, MeterTopic, Water(T0, 100));
        await Enqueue(2, "sensing/c1/camera/c1-cam-poison", """{"ts":1795130100000,"event":"person"}""");
        await Enqueue(3, MeterTopic, Water(T0.AddMinutes(15), 100.5));
        var pipeline = Pipeline(store);
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 3), "all three acknowledgements: one refused reading must not stall the rest");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }
        Assert.Equal(2, (await _temp.RawAsync("c1-wm-0042", Metrics.WaterTotal)).Count);
        Assert.Empty(await _temp.RawAsync("c1-cam-poison", "camera.person"));
        var letter = Assert.Single(await _temp.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within());
        Assert.Equal("store/c1/c1-cam-poison", letter.Topic);
        Assert.Equal("store", letter.Format);
        Assert.StartsWith("the store refused the reading: ", letter.Reason, StringComparison.Ordinal);
        Assert.Equal(1, _metrics.DeadLetters);
        Assert.Equal(3, _metrics.ReadingsStored); // two registers and the consumption between them
    }

    /// <summary>A store that refuses, as InfluxDB's line protocol would, any batch holding one device's readings.</summary>
    private sealed class PoisonStore(IReadingStore inner, string poisonDevice) : ForwardingStore(inner)
    {
        public override Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken) =>
            readings.Any(r => r.Device == poisonDevice)
                ? throw new ArgumentException("Line protocol cannot carry a line break in a tag value.")
                : Inner.WriteAsync(readings, cancellationToken);
    }

    [Fact]
    public async Task A_large_refused_payload_is_dead_lettered_capped_with_its_original_size()
    {
        var big = """{"type":"water","household":"h-0042","pad":" """ + new string('x', 40_000) + "\"}";
        await Enqueue(1, MeterTopic, big);
        var pipeline = Pipeline(_temp.Store);
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == 1), "the acknowledgement");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        var letter = Assert.Single(await _temp.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within());
        Assert.Equal("meter: field 'total' is missing", letter.Reason);
        Assert.Equal(DeadLetter.MaxPayloadBytes, letter.Payload.Length);
        Assert.Equal(Encoding.UTF8.GetByteCount(big), letter.PayloadBytes);
        Assert.Equal(Encoding.UTF8.GetBytes(big)[..DeadLetter.MaxPayloadBytes], letter.Payload);
        Assert.Equal(1, _metrics.DeadLetters);
        Assert.Equal(0, _metrics.ReadingsStored);
    }

    /// <summary>The real store, recording each completed write and able to fail on demand.</summary>
    [Fact]
    public async Task The_next_batches_are_normalized_while_a_write_is_held_then_written_together_and_acknowledged_in_arrival_order()
    {
        // 1,000 gate passes in batches of 100: while the store holds the first write, the pipeline takes exactly five
        // more batches (six circulate) and acknowledges nothing; once the write returns, the five that waited are
        // written as one write, everything in arrival order, and acknowledged in arrival order (MQTT requires
        // PUBACKs in the order the PUBLISHes came), each once.
        const int Count = 1000;
        await EnqueueGatePasses(1, 100);
        var store = new HeldStore(_temp.Store);
        var pipeline = Pipeline(store);
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await store.FirstWriteEntered.Task.Within();
            await EnqueueGatePasses(101, Count);
            await TestTimeouts.Until(() => Task.FromResult(_queue.Depth == Count - 600), "five more batches taken behind the held write");
            await Task.Delay(300);
            Assert.Equal(Count - 600, _queue.Depth);
            Assert.Equal(Count, _metrics.QueueDepth);
            Assert.Empty(_acks);

            store.Release.SetResult();
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == Count), "every message acknowledged");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        Assert.All(_acks.Values, n => Assert.Equal(1, n));
        var ackOrder = _log.Where(e => e.StartsWith("ack:", StringComparison.Ordinal)).Select(e => int.Parse(e[4..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, Count), ackOrder);
        var written = store.Batches.ToList();
        Assert.Equal([100, 500], written.Take(2).Select(b => b.Length));
        Assert.Equal(Count, written.Sum(b => b.Length));
        var times = written.SelectMany(b => b).Select(r => r.Time).ToList();
        Assert.Equal(Enumerable.Range(1, Count).Select(id => T0.AddSeconds(id)), times);
        var stored = await _temp.RawAsync("c1-gate-01", Metrics.GatePass);
        Assert.Equal(Count, stored.Sum(b => b.Value));
        Assert.Equal(0, _metrics.QueueDepth);
    }

    [Fact]
    public async Task Arrival_listeners_hear_every_message_the_broker_may_leave_unacknowledged_while_the_store_holds_its_writes()
    {
        // Receive Maximum 1,000 in batches of 100: while the store holds every write, analytics (an arrival listener)
        // hears all 1,000 messages, in order, though none is stored or acknowledged; the stored listener hears them
        // only once the writes return, the same readings in the same order.
        const int Count = 1000;
        var arrivals = new ArrivalListener(_log);
        var store = new HeldStore(_temp.Store);
        var pipeline = Pipeline(store, arrivals: arrivals, receiveMaximum: Count);
        await EnqueueGatePasses(1, Count);
        await HeardWhileWritesHeldAsync(pipeline, store, arrivals, Count, () => Task.CompletedTask);
        // Each batch was heard on arrival before it was heard stored.
        Assert.True(_log.ToList().FindLastIndex(e => e.StartsWith("arrived:", StringComparison.Ordinal)) < _log.ToList().FindIndex(e => e.StartsWith("listener:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_trickle_is_still_heard_on_arrival_while_the_store_holds_its_writes_because_waiting_batches_fill_up()
    {
        // Messages arrive a few at a time, fewer per fill (20 ms) than a batch holds, while the store holds every
        // write. Batches handed on after each fill would use up the 13 in flight with ~10 messages each and then stop
        // the pipeline (~130 heard); filled up to their size while one waits for the store, they hold all 1,000.
        const int Count = 1000;
        var arrivals = new ArrivalListener(_log);
        var store = new HeldStore(_temp.Store);
        var pipeline = Pipeline(store, arrivals: arrivals, receiveMaximum: Count);
        await HeardWhileWritesHeldAsync(pipeline, store, arrivals, Count, async () =>
        {
            for (var id = 1; id <= Count; id += 10)
            {
                await EnqueueGatePasses(id, id + 9);
                await Task.Delay(25);
            }
        });
        // Heard in small pieces, as they came: the fill, not the batch, is what the listeners wait for.
        Assert.True(arrivals.Batches.Count > 50, $"{arrivals.Batches.Count} pieces heard");
        var ackOrder = _log.Where(e => e.StartsWith("ack:", StringComparison.Ordinal)).Select(e => int.Parse(e[4..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, Count), ackOrder);
    }

    /// <summary>
    /// Starts the pipeline with every write held, feeds it, and checks that all <paramref name="count"/> messages are heard
    /// on arrival while nothing is stored or acknowledged; then releases the writes and checks that the same readings,
    /// in arrival order, were stored and every message acknowledged.
    /// </summary>
    private async Task HeardWhileWritesHeldAsync(IngestPipeline pipeline, HeldStore store, ArrivalListener arrivals, int count, Func<Task> feed)
    {
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await feed();
            await TestTimeouts.Until(() => Task.FromResult(arrivals.Readings == count), "every message heard on arrival");
            Assert.Empty(_acks);
            Assert.Empty(_listener.Batches);
            Assert.Empty(store.Batches);

            store.Release.SetResult();
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == count), "every message acknowledged");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        var heard = arrivals.Batches.SelectMany(b => b).ToList();
        Assert.Equal(Enumerable.Range(1, count).Select(id => T0.AddSeconds(id)), heard.Select(r => r.Time));
        Assert.Equal(_listener.Batches.SelectMany(b => b), heard);
    }

    [Theory]
    [InlineData(2000, 40_000, 23)]
    [InlineData(2000, 10_000, 8)]
    [InlineData(2000, 0, 6)]
    [InlineData(100, 300, 6)]
    public void Enough_batches_circulate_to_hold_what_the_broker_may_leave_unacknowledged(int batchSize, int receiveMaximum, int batches)
    {
        Assert.Equal(batches, IngestPipeline.BatchesInFlight(batchSize, receiveMaximum));
        if (receiveMaximum > 0) Assert.True((batches - 3) * batchSize >= receiveMaximum);
    }

    [Fact]
    public async Task A_write_that_outlives_its_timeout_stores_its_own_batch_though_the_pipeline_has_moved_on()
    {
        // The first write is held past the 50 ms timeout: its batch goes to the spool, is acknowledged, and the
        // pipeline reuses its lists for later batches. When the held write finally reads what it was given, that
        // must still be the first batch (a torn mix of two batches would store readings no device sent).
        const int Count = 400;
        await EnqueueGatePasses(1, 100);
        var store = new HeldStore(_temp.Store) { HoldOnlyFirst = true };
        var pipeline = Pipeline(store, new SpoolOptions { Directory = SpoolFolder, StoreTimeoutMilliseconds = 50 });
        await pipeline.StartAsync(CancellationToken.None).Within();
        try
        {
            await store.FirstWriteEntered.Task.Within();
            await EnqueueGatePasses(101, Count);
            await TestTimeouts.Until(() => Task.FromResult(_acks.Count == Count && _writer!.SpoolDepth == 0), "every message acknowledged and stored through the spool");
            store.Release.SetResult();
            await TestTimeouts.Until(() => Task.FromResult(store.FirstWriteRead is not null), "the held write to go on");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None).Within();
        }

        Assert.Equal(Enumerable.Range(1, 100).Select(id => T0.AddSeconds(id)), store.FirstWriteRead!.Select(r => r.Time));
        var stored = await _temp.RawAsync("c1-gate-01", Metrics.GatePass);
        Assert.Equal(Count, stored.Sum(b => b.Value));
    }

    /// <summary>Gate passes <paramref name="from"/>..<paramref name="to"/>, one a second from <see cref="T0"/>, message id = second.</summary>
    private async Task EnqueueGatePasses(int from, int to)
    {
        for (var id = from; id <= to; id++)
        {
            var ms = T0.AddSeconds(id).ToUnixTimeMilliseconds();
            await Enqueue(id, GateTopic, $$"""{"ts":{{ms}},"event":"pass","direction":"in","credential":"qr"}""");
        }
    }

    /// <summary>Holds the first write until <see cref="Release"/> completes; records each written batch's readings.</summary>
    private sealed class HeldStore(IReadingStore inner) : ForwardingStore(inner)
    {
        public TaskCompletionSource FirstWriteEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<Reading[]> Batches { get; } = new();
        /// <summary>Hold only the first write (the rest go straight through) and keep what it read once released.</summary>
        public bool HoldOnlyFirst { get; init; }
        public Reading[]? FirstWriteRead { get; private set; }
        private int _calls;

        public override async Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
        {
            var first = Interlocked.Increment(ref _calls) == 1;
            FirstWriteEntered.TrySetResult();
            if (first || !HoldOnlyFirst) await Release.Task.WaitAsync(cancellationToken);
            if (first) FirstWriteRead = [.. readings];
            Batches.Enqueue([.. readings]);
            await Inner.WriteAsync(readings, cancellationToken);
        }
    }

    private sealed class RecordingStore(IReadingStore inner, ConcurrentQueue<string> log) : ForwardingStore(inner)
    {
        private int _writeCalls;
        private int _successfulWrites;

        public volatile bool Failing;
        public int WriteBeforeFailingOnCall { get; init; } = -1;
        public int WriteCalls => Volatile.Read(ref _writeCalls);
        public int SuccessfulWrites => Volatile.Read(ref _successfulWrites);

        public override async Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _writeCalls);
            if (Failing)
            {
                if (call == WriteBeforeFailingOnCall) await Inner.WriteAsync(readings, cancellationToken);
                throw new IOException($"store unavailable (attempt {call})");
            }
            await Inner.WriteAsync(readings, cancellationToken);
            Interlocked.Increment(ref _successfulWrites);
            log.Enqueue($"stored:{readings.Count}");
        }

        public override async Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
        {
            await Inner.WriteDeadLettersAsync(deadLetters, cancellationToken);
            log.Enqueue($"deadletters:{deadLetters.Count}");
        }
    }

    private sealed class ArrivalListener(ConcurrentQueue<string> log) : IArrivingReadingsListener
    {
        private int _readings;

        public ConcurrentQueue<IReadOnlyList<Reading>> Batches { get; } = new();
        public int Readings => Volatile.Read(ref _readings);

        public ValueTask OnArrivedAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
        {
            log.Enqueue($"arrived:{batch.Count}");
            Batches.Enqueue(batch);
            Interlocked.Add(ref _readings, batch.Count);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class RecordingListener(ConcurrentQueue<string> log) : IStoredReadingsListener
    {
        public ConcurrentQueue<IReadOnlyList<Reading>> Batches { get; } = new();

        public ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
        {
            log.Enqueue($"listener:{batch.Count}");
            Batches.Enqueue(batch);
            return ValueTask.CompletedTask;
        }
    }
}
