using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Analytics.LivingAlone;
using Sensing.Analytics.Silence;
using Sensing.Telemetry;

namespace Sensing.Analytics;

/// <summary>
/// The analytics stage: told about each stored batch, it keeps an event-time watermark (the newest reading
/// time seen, never the wall clock), watches every device for silence and, once per complete hour, judges
/// households for a living-alone drop against an expected-consumption model it retrains daily. Alerts go to
/// <see cref="IAlertSink"/>. All state lives on the loop's single reader, so the detectors need no locks.
/// </summary>
public sealed class AnalyticsLoop : BackgroundService, IStoredReadingsListener
{
    private readonly IReadingStore _store;
    private readonly IDeviceRegistry _registry;
    private readonly IAlertSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger<AnalyticsLoop> _logger;
    private readonly AnalyticsOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly Channel<IReadOnlyList<Reading>> _queue;
    private readonly SilenceWatch _silence;
    private readonly LivingAloneDetector _livingAlone;

    // Household → its meters, learned from the readings themselves (a reading names its household and metric).
    private readonly Dictionary<string, HouseholdMeters> _households = new(StringComparer.Ordinal);

    private DateTimeOffset? _watermark;
    private long _lastArrival;
    private DateTimeOffset _lastEvaluatedEnd = DateTimeOffset.MinValue;
    private ExpectedConsumptionModel? _model;
    private DateTimeOffset _modelTrainedAt = DateTimeOffset.MinValue;
    private long _handledBatches;
    private long _watermarkTicks;

    public AnalyticsLoop(
        IReadingStore store,
        IDeviceRegistry registry,
        IAlertSink sink,
        TimeProvider time,
        IOptions<AnalyticsOptions> options,
        ILogger<AnalyticsLoop> logger)
    {
        _store = store;
        _registry = registry;
        _sink = sink;
        _time = time;
        _logger = logger;
        _options = options.Value;
        _zone = TimeZoneInfo.FindSystemTimeZoneById(_options.TimeZone ?? "Asia/Shanghai");
        // Wait, not drop: a dropped batch would be a reading analytics never saw (a missed silence end, a
        // wrong hourly sum). Waiting makes ingest's await on OnStoredAsync slow down, which slows its acks to
        // the broker, so a slow analytics stage throttles intake instead of growing memory or losing data.
        _queue = Channel.CreateBounded<IReadOnlyList<Reading>>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _silence = new SilenceWatch(_options.Silence, registry.FindDevice);
        _livingAlone = new LivingAloneDetector(_options.LivingAlone, _zone);
    }

    /// <summary>The event-time watermark as other threads may read it: the newest reading time seen; null before the first.</summary>
    internal DateTimeOffset? Watermark => Volatile.Read(ref _watermarkTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>Batches fully handled (observed, checked, and the hour evaluated if due); lets tests wait for the loop.</summary>
    internal long HandledBatches => Interlocked.Read(ref _handledBatches);

    /// <summary>Only queues the batch: ingest awaits this call, so it must not do the work itself.</summary>
    public async ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return;
        try
        {
            // Queued as it is: the port promises the batch is never changed or reused after this call.
            await _queue.Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // Stopping: the readings are stored, and the hourly sums of the next start read them from the store.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        SeedFromRegistry();
        using var timer = new PeriodicTimer(_options.Silence.CheckEvery, _time);
        Task<bool>? tick = null;
        Task<bool>? ready = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                tick ??= timer.WaitForNextTickAsync(stoppingToken).AsTask();
                ready ??= _queue.Reader.WaitToReadAsync(stoppingToken).AsTask();
                var done = await Task.WhenAny(ready, tick).ConfigureAwait(false);
                if (done == ready)
                {
                    ready = null;
                    if (!await done.ConfigureAwait(false)) break;
                    await DrainAsync(stoppingToken).ConfigureAwait(false);
                }
                else
                {
                    tick = null;
                    if (!await done.ConfigureAwait(false)) break;
                    await CheckQuietFeedAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // One bad batch or a store hiccup must not end analytics for the life of the process.
                _logger.LogError(ex, "Analytics step failed; continuing with the next batch");
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Handles every batch queued right now, then evaluates households once. During a backfill of weeks the
    /// queue stays full and the watermark crosses many hours per drain; judging only the latest complete hour
    /// after each drain keeps the backfill fast (one evaluation per drain instead of per hour), at the price of
    /// skipping the hours in between: a drop that begins and ends inside a burst is missed, and an episode's
    /// onset is found within the window judged. A later issue makes this exact by evaluating every hour crossed.
    /// </summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var drained = 0;
        while (_queue.Reader.TryRead(out var batch))
        {
            drained++;
            var ended = Observe(batch);
            if (ended is not null) await RaiseAsync(ended, cancellationToken).ConfigureAwait(false);
            await RaiseAsync(_silence.Check(_watermark!.Value), cancellationToken).ConfigureAwait(false);
        }
        try
        {
            await EvaluateHouseholdsIfDueAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _handledBatches, drained);
        }
    }

    /// <summary>Takes in a batch; returns the silences its readings ended that no check caught while they lasted.</summary>
    private List<Alert>? Observe(IReadOnlyList<Reading> batch)
    {
        List<Alert>? ended = null;
        foreach (var reading in batch)
        {
            if (_silence.Observe(reading.Device, reading.Community, reading.Grid, reading.Time) is { } missed) (ended ??= []).Add(missed);
            if (_watermark is not { } watermark || reading.Time > watermark) _watermark = reading.Time;
            if (reading.Household is { } household && reading.Metric is Metrics.WaterConsumption or Metrics.ElectricityConsumption)
            {
                if (!_households.TryGetValue(household, out var meters))
                    _households[household] = meters = new HouseholdMeters(reading.Community, reading.Grid);
                if (reading.Metric == Metrics.WaterConsumption) meters.Water = reading.Device;
                else meters.Electricity = reading.Device;
            }
        }
        Volatile.Write(ref _watermarkTicks, _watermark?.UtcTicks ?? 0);
        _lastArrival = _time.GetTimestamp();
        return ended;
    }

    /// <summary>
    /// The one place the wall clock enters: when no readings arrive at all, the watermark stands still and a
    /// feed that died entirely would never look silent. So the silence check also runs every
    /// <see cref="SilenceOptions.CheckEvery"/> against the watermark advanced by the wall time since the last
    /// batch arrived. The alerts it raises still carry event times (see <see cref="SilenceWatch"/>).
    /// </summary>
    private async Task CheckQuietFeedAsync(CancellationToken cancellationToken)
    {
        if (_watermark is not { } watermark) return;
        var now = watermark + _time.GetElapsedTime(_lastArrival);
        await RaiseAsync(_silence.Check(now), cancellationToken).ConfigureAwait(false);
    }

    private async Task EvaluateHouseholdsIfDueAsync(CancellationToken cancellationToken)
    {
        if (_watermark is not { } watermark) return;
        var end = FloorToHour(watermark - _options.EvaluationDelay);
        if (end <= _lastEvaluatedEnd) return;
        // Marked before the work: an hour whose evaluation fails is skipped, not retried after every batch.
        _lastEvaluatedEnd = end;
        if (_households.Count == 0) return;

        var usages = await LoadUsageAsync(end, cancellationToken).ConfigureAwait(false);
        if (usages.Count == 0) return;

        if (_model is null || end - _modelTrainedAt >= _options.RetrainEvery)
        {
            var earliest = usages.Min(u => Math.Min(
                u.Water.Count == 0 ? long.MaxValue : u.Water.Keys.Min().UtcTicks,
                u.Electricity.Count == 0 ? long.MaxValue : u.Electricity.Keys.Min().UtcTicks));
            if (earliest != long.MaxValue && end - new DateTimeOffset(earliest, TimeSpan.Zero) >= TimeSpan.FromDays(_options.MinHistoryDays))
            {
                var model = ExpectedConsumptionModel.Train(usages, end, _zone, _options.MinHistoryDays);
                if (model is not null)
                {
                    _model = model;
                    _modelTrainedAt = end;
                    _logger.LogInformation("Trained the expected-consumption model on {Rows} household-hours up to {End:O}", model.TrainingRows, end);
                }
            }
        }
        if (_model is null) return;

        await RaiseAsync(_livingAlone.Evaluate(_model, usages, end, _registry.IsAway), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Hourly sums of both meters of every household known, over the history window before <paramref name="end"/>.</summary>
    private async Task<List<HouseholdUsage>> LoadUsageAsync(DateTimeOffset end, CancellationToken cancellationToken)
    {
        var from = end.AddDays(-_options.HistoryDays);
        var usages = new List<HouseholdUsage>(_households.Count);
        foreach (var (id, meters) in _households)
        {
            if (meters.Water is null || meters.Electricity is null) continue;
            var water = await HourlyAsync(Metrics.WaterConsumption, meters.Water, from, end, cancellationToken).ConfigureAwait(false);
            var electricity = await HourlyAsync(Metrics.ElectricityConsumption, meters.Electricity, from, end, cancellationToken).ConfigureAwait(false);
            var household = _registry.FindHousehold(id) ?? new Household(id, meters.Community, meters.Grid);
            usages.Add(new HouseholdUsage(household, water, electricity));
        }
        return usages;
    }

    private async Task<Dictionary<DateTimeOffset, double>> HourlyAsync(string metric, string device, DateTimeOffset from, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var buckets = await _store.QueryAsync(
            new ReadingQuery(metric, from, end, Device: device, Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum),
            cancellationToken).ConfigureAwait(false);
        var hourly = new Dictionary<DateTimeOffset, double>(buckets.Count);
        // Whether the store's To is inclusive is its business; the hour starting at end is not complete.
        foreach (var bucket in buckets)
            if (bucket.Time >= from && bucket.Time < end) hourly[bucket.Time.ToUniversalTime()] = bucket.Value;
        return hourly;
    }

    private async Task RaiseAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken)
    {
        foreach (var alert in alerts)
        {
            _logger.LogInformation("Raising {Kind} for {Subject} since {StartedAt:O}", alert.Kind, alert.Household ?? alert.Device, alert.StartedAt);
            await _sink.RaiseAsync(alert, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts watching every device the registry has seen, so one that never reports again after a restart still goes silent.</summary>
    private void SeedFromRegistry()
    {
        try
        {
            foreach (var device in _registry.Devices)
            {
                if (_registry.LastSeen(device.Id) is not { } lastSeen) continue;
                _silence.Observe(device.Id, device.Community, device.Grid, lastSeen);
                if (_watermark is not { } watermark || lastSeen > watermark) _watermark = lastSeen;
            }
            Volatile.Write(ref _watermarkTicks, _watermark?.UtcTicks ?? 0);
            _lastArrival = _time.GetTimestamp();
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Could not seed device silence from the registry");
        }
    }

    private static DateTimeOffset FloorToHour(DateTimeOffset time)
    {
        var utc = time.UtcTicks;
        return new DateTimeOffset(utc - utc % TimeSpan.TicksPerHour, TimeSpan.Zero);
    }

    private sealed class HouseholdMeters(string community, string? grid)
    {
        public string Community { get; } = community;
        public string? Grid { get; } = grid;
        public string? Water { get; set; }
        public string? Electricity { get; set; }
    }
}
