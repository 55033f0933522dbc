using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Storage;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

/// <summary>The analytics loop on a real DuckDB store: batches in, hours judged from the store, alerts out.</summary>
public sealed class AnalyticsLoopTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private const int HouseholdCount = 20;

    /// <summary>A loop with its own DuckDB file and model folder, fed the way ingest feeds it: store first, then tell.</summary>
    private sealed class LoopRun : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private long _pushed;

        private LoopRun(string folder, DuckDbReadingStore store, InMemoryDeviceRegistry registry, AnalyticsOptions options, TimeProvider time)
        {
            Folder = folder;
            Store = store;
            Registry = registry;
            Options = options;
            Loop = new AnalyticsLoop(store, registry, Sink, time, Microsoft.Extensions.Options.Options.Create(options), NullLogger<AnalyticsLoop>.Instance);
        }

        public string Folder { get; }
        public DuckDbReadingStore Store { get; }
        public InMemoryDeviceRegistry Registry { get; }
        public AnalyticsOptions Options { get; }
        public RecordingAlertSink Sink { get; } = new();
        public AnalyticsLoop Loop { get; }

        public static async Task<LoopRun> StartAsync(SyntheticCommunity community, string? folder = null, AnalyticsOptions? options = null, TimeProvider? time = null)
        {
            folder ??= Path.Combine(Path.GetTempPath(), "sensing-analytics-tests", Guid.NewGuid().ToString("N"));
            options ??= new AnalyticsOptions { TimeZone = "Asia/Shanghai" };
            options.ModelDirectory = Path.Combine(folder, "models");
            var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(Path.Combine(folder, "sensing.duckdb")));
            var run = new LoopRun(folder, store, Registry(community), options, time ?? TimeProvider.System);
            await run.Loop.StartAsync(run._stop.Token);
            return run;
        }

        public async Task FeedAsync(IEnumerable<IReadOnlyList<Reading>> batches)
        {
            foreach (var batch in batches)
            {
                await Store.WriteAsync(batch, CancellationToken.None);
                await Loop.OnStoredAsync(batch, CancellationToken.None).AsTask().WaitAsync(Timeout);
                _pushed++;
            }
            using var cts = new CancellationTokenSource(Timeout);
            while (Loop.HandledBatches < _pushed) await Task.Delay(5, cts.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await Loop.StopAsync(CancellationToken.None).WaitAsync(Timeout);
            Loop.Dispose();
            await Store.DisposeAsync();
            _stop.Dispose();
        }

        public void Delete()
        {
            try { Directory.Delete(Folder, recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>A loop on the in-memory store, which can be made to fail and counts its queries.</summary>
    private sealed class InMemoryLoop : IAsyncDisposable
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-analytics-tests", Guid.NewGuid().ToString("N"));

        private InMemoryLoop(SyntheticCommunity community)
        {
            var options = new AnalyticsOptions { TimeZone = "Asia/Shanghai", ModelDirectory = _folder };
            Loop = new AnalyticsLoop(Store, Registry(community), Sink, TimeProvider.System, Options.Create(options), NullLogger<AnalyticsLoop>.Instance);
        }

        public InMemoryReadingStore Store { get; } = new();
        public RecordingAlertSink Sink { get; } = new();
        public AnalyticsLoop Loop { get; }

        public static async Task<InMemoryLoop> StartAsync(SyntheticCommunity community)
        {
            var run = new InMemoryLoop(community);
            await run.Loop.StartAsync(CancellationToken.None);
            return run;
        }

        public async ValueTask DisposeAsync()
        {
            await Loop.StopAsync(CancellationToken.None);
            Loop.Dispose();
            try { Directory.Delete(_folder, recursive: true); }
            catch (IOException) { }
        }
    }

    private static InMemoryDeviceRegistry Registry(SyntheticCommunity community) => new(community.Households,
        Enumerable.Range(0, community.Households.Length).SelectMany(i => new[]
        {
            new Device(SyntheticCommunity.WaterMeter(i), DeviceKind.Meter, "c1", community.Households[i].Grid, community.Households[i].Id),
            new Device(SyntheticCommunity.ElectricityMeter(i), DeviceKind.Meter, "c1", community.Households[i].Grid, community.Households[i].Id),
        }));

    /// <summary>
    /// Every meter's quarter-hour readings (register and the consumption ingest derives from it) from
    /// <paramref name="from"/> until <paramref name="until"/>, in event-time order, one list per quarter hour.
    /// A silent meter sends nothing; a skewed one stamps its readings hours off.
    /// </summary>
    private static List<List<Reading>> QuarterHours(SyntheticCommunity community, DateTimeOffset from, DateTimeOffset until,
        Func<string, DateTimeOffset, bool>? silent = null, Func<string, TimeSpan>? skew = null)
    {
        var registers = new double[2 * HouseholdCount];
        var quarters = new List<List<Reading>>();
        for (var time = from; time < until; time = time.AddMinutes(15))
        {
            var batch = new List<Reading>();
            var hour = new DateTimeOffset(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
            for (var i = 0; i < HouseholdCount; i++)
            {
                var (water, electricity) = community.Usage(i, hour);
                var household = community.Households[i];
                foreach (var (device, register, consumption, used, k) in new[]
                {
                    (SyntheticCommunity.WaterMeter(i), Metrics.WaterTotal, Metrics.WaterConsumption, water / 4, 2 * i),
                    (SyntheticCommunity.ElectricityMeter(i), Metrics.ElectricityTotal, Metrics.ElectricityConsumption, electricity / 4, 2 * i + 1),
                })
                {
                    registers[k] += used;
                    if (silent?.Invoke(device, time) == true) continue;
                    var stamp = time + (skew?.Invoke(device) ?? TimeSpan.Zero);
                    batch.Add(new Reading(device, "c1", household.Grid, household.Id, register, stamp, registers[k]));
                    batch.Add(new Reading(device, "c1", household.Grid, household.Id, consumption, stamp, used));
                }
            }
            quarters.Add(batch);
        }
        return quarters;
    }

    /// <summary>
    /// The same readings cut into batches of random sizes, interleaved across devices at random within each batch, but
    /// each device's readings in their order (as MQTT keeps a topic's order).
    /// </summary>
    private static List<List<Reading>> Rebatch(IEnumerable<Reading> readings, int seed, int maxBatch)
    {
        var random = new Random(seed);
        var all = readings.ToList();
        var batches = new List<List<Reading>>();
        for (var start = 0; start < all.Count;)
        {
            var size = Math.Min(all.Count - start, 1 + random.Next(maxBatch));
            var queues = all.GetRange(start, size).GroupBy(r => r.Device).Select(g => new Queue<Reading>(g)).ToList();
            var batch = new List<Reading>(size);
            while (queues.Count > 0)
            {
                var q = random.Next(queues.Count);
                batch.Add(queues[q].Dequeue());
                if (queues[q].Count == 0) queues.RemoveAt(q);
            }
            batches.Add(batch);
            start += size;
        }
        return batches;
    }

    /// <summary>Six days: a deep drop, an elderly person's milder one, and an electricity meter that dies.</summary>
    private static (SyntheticCommunity Community, List<List<Reading>> Quarters) SixDays()
    {
        var community = new SyntheticCommunity(HouseholdCount);
        community.MarkElderly(3);
        // Friday 2026-11-06: household 0 stops using anything from 10:00 to 16:00; household 3 (elderly) falls to 30 %.
        community.Drop(0, SyntheticCommunity.At(5, 10), SyntheticCommunity.At(5, 16), 0.01, 0.02);
        community.Drop(3, SyntheticCommunity.At(5, 13), SyntheticCommunity.At(5, 22), 0.3, 0.3);
        // Household 5's electricity meter dies at 12:00 on day 4.
        var dead = SyntheticCommunity.At(4, 12);
        return (community, QuarterHours(community, SyntheticCommunity.Start, SyntheticCommunity.At(6, 0),
            silent: (device, time) => device == SyntheticCommunity.ElectricityMeter(5) && time >= dead));
    }

    private static List<string> Canonical(IEnumerable<Alert> alerts) =>
        [.. alerts.OrderBy(a => a.Id, StringComparer.Ordinal).Select(a => JsonSerializer.Serialize(a))];

    [Fact]
    public async Task A_replay_in_any_batches_and_interleaving_raises_identical_alerts()
    {
        var (community, quarters) = SixDays();
        var runs = new List<IReadOnlyList<Alert>>();
        // As ingest batches a live feed (a quarter hour each), in random batches up to a few hours of readings, and in
        // one batch per day; each on a fresh store and model folder.
        IEnumerable<IReadOnlyList<Reading>>[] feeds =
        [
            quarters,
            Rebatch(quarters.SelectMany(q => q), seed: 1, maxBatch: 3000),
            quarters.Chunk(96).Select(day => (IReadOnlyList<Reading>)[.. day.SelectMany(q => q)]),
        ];
        foreach (var feed in feeds)
        {
            var run = await LoopRun.StartAsync(community);
            try
            {
                await run.FeedAsync(feed);
                runs.Add(run.Sink.Alerts);
            }
            finally
            {
                await run.DisposeAsync();
                run.Delete();
            }
        }

        // The alerts a worker should get, with their event times...
        var alerts = runs[0];
        var drop = Assert.Single(alerts, a => a.Kind == AlertKinds.LivingAloneDrop && a.Household == "h-00");
        Assert.Equal(SyntheticCommunity.At(5, 10), drop.StartedAt);
        Assert.Equal(SyntheticCommunity.At(5, 13).AddMinutes(5), drop.RaisedAt);
        var elderly = Assert.Single(alerts, a => a.Kind == AlertKinds.LivingAloneDrop && a.Household == "h-03");
        Assert.Equal(SyntheticCommunity.At(5, 13), elderly.StartedAt);
        var silent = Assert.Single(alerts, a => a.Kind == AlertKinds.DeviceSilent);
        Assert.Equal((SyntheticCommunity.ElectricityMeter(5), "h-05"), (silent.Device, silent.Household));
        Assert.Equal(SyntheticCommunity.At(4, 11).AddMinutes(45), silent.StartedAt);
        Assert.Equal(SyntheticCommunity.At(4, 12).AddMinutes(45), silent.RaisedAt);
        // ...and the dead meter is maintenance's matter only: no welfare alert for household 5.
        Assert.DoesNotContain(alerts, a => a.Kind == AlertKinds.LivingAloneDrop && a.Household == "h-05");
        Assert.Equal(3, alerts.Count);

        // Identical, to the last figure of the evidence, however the readings came.
        Assert.Equal(Canonical(runs[0]), Canonical(runs[1]));
        Assert.Equal(Canonical(runs[0]), Canonical(runs[2]));
    }

    [Fact]
    public async Task The_model_is_saved_reloaded_at_the_next_start_and_retrained_on_schedule()
    {
        var (community, quarters) = SixDays();
        var folder = Path.Combine(Path.GetTempPath(), "sensing-analytics-tests", Guid.NewGuid().ToString("N"));
        try
        {
            int version;
            DateTimeOffset trainedAt;
            await using (var first = await LoopRun.StartAsync(community, folder))
            {
                await first.FeedAsync(quarters.Take(4 * 96));
                var model = first.Loop.LivingAlone.Model;
                Assert.NotNull(model);
                (version, trainedAt) = (model.Manifest.Version, model.Manifest.TrainedAt);
                Assert.True(version >= 2, "trained when enough history, then once a day");
                Assert.Equal(0, trainedAt.UtcTicks % TimeSpan.TicksPerHour);
            }

            // The next start (same store, same model folder) picks the model up and keeps it until it is a day old.
            await using var second = await LoopRun.StartAsync(community, folder);
            var nextDay = quarters.Skip(4 * 96).Take(96).ToList();
            var untilDue = nextDay.TakeWhile(q => q[0].Time < trainedAt.AddDays(1)).ToList();
            await second.FeedAsync(untilDue);
            Assert.Equal(version, second.Loop.LivingAlone.Model!.Manifest.Version);
            Assert.Equal(trainedAt, second.Loop.LivingAlone.Model.Manifest.TrainedAt);
            await second.FeedAsync(nextDay.Skip(untilDue.Count));
            Assert.Equal(version + 1, second.Loop.LivingAlone.Model.Manifest.Version);
            Assert.Equal(trainedAt.AddDays(1), second.Loop.LivingAlone.Model.Manifest.TrainedAt);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task An_alert_the_sink_refuses_does_not_take_the_others_of_its_batch_with_it()
    {
        var community = new SyntheticCommunity(HouseholdCount);
        await using var run = await InMemoryLoop.StartAsync(community);
        string[] dead = [SyntheticCommunity.WaterMeter(3), SyntheticCommunity.WaterMeter(7), SyntheticCommunity.WaterMeter(11)];
        // The three stop together, so one check finds all three silent; the sink refuses the first it is given.
        string? refused = null;
        run.Sink.Refuse = alert => (refused ??= alert.Device) == alert.Device;
        var quarters = QuarterHours(community, SyntheticCommunity.Start, SyntheticCommunity.At(0, 4),
            silent: (device, time) => dead.Contains(device) && time >= SyntheticCommunity.At(0, 1));
        foreach (var batch in quarters) await run.Loop.OnArrivedAsync(batch, CancellationToken.None).AsTask().WaitAsync(Timeout);

        var silent = await run.Sink.WaitForAsync(a => a.Count(x => x.Kind == AlertKinds.DeviceSilent) >= 2, Timeout);
        Assert.Contains(refused, dead);
        Assert.Equal(dead.Where(d => d != refused).Order(StringComparer.Ordinal), silent.Select(a => a.Device!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_meter_with_its_clock_hours_ahead_neither_silences_the_others_nor_hurries_the_hours()
    {
        var community = new SyntheticCommunity(HouseholdCount);
        var quarters = QuarterHours(community, SyntheticCommunity.Start, SyntheticCommunity.At(3, 0),
            skew: device => device == SyntheticCommunity.WaterMeter(9) ? TimeSpan.FromHours(8) : TimeSpan.Zero);
        var run = await LoopRun.StartAsync(community);
        try
        {
            await run.FeedAsync(quarters);

            Assert.Equal(SyntheticCommunity.At(2, 23).AddMinutes(45), run.Loop.Watermark);
            // Hours judged from the one before the first reading up to the last complete one: none of the future the
            // skewed meter claims (eight more if the watermark were its time).
            Assert.Equal(3 * 24, run.Loop.JudgedHours);
            Assert.Empty(run.Sink.Alerts);
        }
        finally
        {
            await run.DisposeAsync();
            run.Delete();
        }
    }

    [Fact]
    public async Task A_quiet_feed_goes_silent_as_wall_time_passes()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new AnalyticsOptions { TimeZone = "Asia/Shanghai", Silence = { CheckEvery = TimeSpan.FromMilliseconds(20) } };
        var community = new SyntheticCommunity(HouseholdCount);
        var run = await LoopRun.StartAsync(community, options: options, time: time);
        try
        {
            await run.FeedAsync(QuarterHours(community, SyntheticCommunity.Start, SyntheticCommunity.At(0, 2)));
            // Several periodic checks with no wall time passing raise nothing.
            await Task.Delay(200);
            Assert.Empty(run.Sink.Alerts);

            // Nothing arrives for an hour and a bit: every meter is four 15-minute intervals overdue.
            time.Advance(TimeSpan.FromMinutes(61));
            var alerts = await run.Sink.WaitForAsync(a => a.Count >= 2 * HouseholdCount, Timeout);

            Assert.All(alerts, a =>
            {
                Assert.Equal(AlertKinds.DeviceSilent, a.Kind);
                Assert.Equal(SyntheticCommunity.At(0, 1).AddMinutes(45), a.StartedAt);
                Assert.Equal(SyntheticCommunity.At(0, 2).AddMinutes(45), a.RaisedAt);
            });
            Assert.Equal(2 * HouseholdCount, alerts.Select(a => a.Device).Distinct().Count());
        }
        finally
        {
            await run.DisposeAsync();
            run.Delete();
        }
    }

    [Fact]
    public async Task Readings_heard_on_arrival_raise_alerts_before_the_store_has_them_and_hours_wait_until_it_does()
    {
        // As the service feeds the loop: each batch on arrival, and again once stored. The store here holds nothing
        // yet (a checkpoint, an outage): a meter that stops is still noticed from what arrived, but no hour is judged
        // from a store that does not have it.
        var community = new SyntheticCommunity(HouseholdCount);
        await using var run = await InMemoryLoop.StartAsync(community);
        var (store, sink, loop) = (run.Store, run.Sink, run.Loop);
        var dead = SyntheticCommunity.WaterMeter(7);
        var quarters = QuarterHours(community, SyntheticCommunity.Start, SyntheticCommunity.At(0, 4),
            silent: (device, time) => device == dead && time >= SyntheticCommunity.At(0, 1));
        foreach (var batch in quarters) await loop.OnArrivedAsync(batch, CancellationToken.None).AsTask().WaitAsync(Timeout);
        var silent = await sink.WaitForAsync(a => a.Any(x => x.Kind == AlertKinds.DeviceSilent), Timeout);
        Assert.Equal(dead, Assert.Single(silent).Device);
        using (var cts = new CancellationTokenSource(Timeout))
        {
            while (loop.Watermark != SyntheticCommunity.At(0, 3).AddMinutes(45)) await Task.Delay(5, cts.Token);
        }
        // Every batch has been heard and the watermark is past three hours and their lateness, yet nothing was
        // read from the store and no hour judged.
        Assert.Equal(0, store.Queries);
        Assert.Equal(0, loop.JudgedHours);
        Assert.Equal(0, loop.HandledBatches);

        foreach (var batch in quarters)
        {
            await store.WriteAsync(batch, CancellationToken.None);
            await loop.OnStoredAsync(batch, CancellationToken.None).AsTask().WaitAsync(Timeout);
        }
        using (var cts = new CancellationTokenSource(Timeout))
        {
            while (loop.HandledBatches < quarters.Count) await Task.Delay(5, cts.Token);
        }

        // Once stored: the hour the first reading's lateness reaches into, then 00, 01 and 02 judged from the store;
        // the readings were not judged a second time.
        Assert.Equal(4, loop.JudgedHours);
        Assert.True(store.Queries > 0);
        Assert.Single(sink.Alerts);
    }

    [Fact]
    public async Task A_failing_store_does_not_stop_the_loop_and_the_hours_are_judged_when_it_is_back()
    {
        // The in-memory store can be made to fail; it has no hourly windows, so the loop reads it device by device.
        var community = new SyntheticCommunity(HouseholdCount);
        await using var run = await InMemoryLoop.StartAsync(community);
        var (store, sink, loop) = (run.Store, run.Sink, run.Loop);
        long pushed = 0;
        async Task Feed(IEnumerable<List<Reading>> batches)
        {
            foreach (var batch in batches)
            {
                await store.WriteAsync(batch, CancellationToken.None);
                await loop.OnStoredAsync(batch, CancellationToken.None);
                pushed++;
            }
            using var cts = new CancellationTokenSource(Timeout);
            while (loop.HandledBatches < pushed) await Task.Delay(5, cts.Token);
        }
        var quarters = QuarterHours(community, SyntheticCommunity.Start, SyntheticCommunity.At(3, 2),
            silent: (device, time) => device == SyntheticCommunity.WaterMeter(7) && time >= SyntheticCommunity.At(3, 0));
        // Every query in the first two days throws: hours are tried a few times each, then given up.
        store.FailQueries = true;
        await Feed(quarters.Take(2 * 96));
        Assert.True(store.Queries > 0);
        Assert.Equal(2 * 24, loop.JudgedHours);
        Assert.Null(loop.LivingAlone.Model);

        // The store recovers: hours are judged again, the model is trained, and a meter that dies is noticed.
        store.FailQueries = false;
        await Feed(quarters.Skip(2 * 96));
        Assert.NotNull(loop.LivingAlone.Model);
        var alert = Assert.Single(await sink.WaitForAsync(a => a.Count >= 1, Timeout));
        Assert.Equal(SyntheticCommunity.WaterMeter(7), alert.Device);
        Assert.Equal(SyntheticCommunity.At(3, 1).AddMinutes(45), loop.Watermark);
    }
}
