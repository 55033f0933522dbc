using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sensing.Analytics.Alerting;
using Sensing.Analytics.EventTime;
using Sensing.Analytics.Facilities;
using Sensing.Analytics.LivingAlone;
using Sensing.Analytics.Silence;
using Sensing.Analytics.Windows;
using Sensing.Telemetry;

namespace Sensing.Analytics;

/// <summary>
/// The analytics stage. Told about each batch as it arrives and again once it is stored, it keeps event-time
/// watermarks (<see cref="EventClock"/>, never the wall clock) and runs two kinds of detector:
/// <list type="bullet">
/// <item><see cref="IReadingDetector"/>s see every reading of this process as it arrives, before the store has it, and
/// are checked against the watermark of what arrived after each batch (<c>device_silent</c>; <c>water_leak</c>,
/// <c>parking_full</c>, <c>gate_forced</c> and <c>camera_event</c> from <see cref="FacilityDetectors"/>): a forced door
/// must not wait for a store that is checkpointing, folding its rollups or down. In a host without an arrival feed
/// (the evaluation) they see each batch when it is stored instead.</item>
/// <item><see cref="IHourlyDetector"/>s judge every complete event-time hour exactly once, in order: once the watermark
/// of what is <em>stored</em> passes an hour's end by <see cref="AnalyticsOptions.EvaluationDelay"/> (the lateness
/// allowed), the loop reads that hour's window from the store and hands it to each (<c>living_alone_drop</c>). The live
/// stream only says when; what is judged comes from the store, and only once the store has what arrived before, so a
/// replay at any speed, in any batches, on one process or several sharing the feed, judges the same hours from the same
/// data and raises the same alerts (ids, <c>started_at</c>, <c>raised_at</c>), and a store outage delays an hour's
/// judgement instead of judging it without the readings waiting in the spool.</item>
/// </list>
/// Welfare and silence alerts then pass the loop's <see cref="AlertCooldown"/> (another of the same kind about the same
/// subject only after <see cref="AnalyticsOptions.Cooldown"/> of quiet); the facility detectors cool down per kind
/// themselves, with their own periods. Then <see cref="IAlertSink"/>. All state lives on the loop's single reader, so detectors need no locks.
/// </summary>
public sealed class AnalyticsLoop : BackgroundService, IStoredReadingsListener, IArrivingReadingsListener
{
    /// <summary>Attempts at judging one hour (the store may be briefly away) before it is given up, so one bad hour never stalls the rest.</summary>
    private const int AttemptsPerHour = 3;

    private readonly IDeviceRegistry _registry;
    private readonly IAlertSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger<AnalyticsLoop> _logger;
    private readonly AnalyticsOptions _options;
    private readonly Channel<HeardBatch> _queue;
    private readonly StoreWindows _windows;
    private readonly IReadingDetector[] _readingDetectors;
    private readonly IHourlyDetector[] _hourlyDetectors;
    private readonly string[] _hourlyMetrics;
    // The loop's watermark: robust to a device whose clock runs ahead (see EventClock), so one fast camera can neither
    // make every hour look complete nor every other device look silent.
    // The reading detectors share it (they see the same readings), so it is the one record of every device's latest time.
    private readonly EventClock _clock = new(SilenceWatch.FeedLead);
    // The same clock over what is stored: hours are judged from the store, so only once it holds them. It numbers the
    // devices as the first does (one map from id to number for both clocks and the silence watch).
    private readonly EventClock _storedClock;
    // Whether readings are heard on arrival (the pipeline's feed); until then, stored batches are observed instead.
    private bool _hearsArrivals;
    private readonly AlertCooldown _cooldown;

    private long _lastArrival;
    private DateTimeOffset? _nextHour;
    private int _attempts;
    private long _handledBatches;
    private long _judgedHours;
    private long _watermarkTicks;

    public AnalyticsLoop(
        IReadingStore store,
        IDeviceRegistry registry,
        IAlertSink sink,
        TimeProvider time,
        IOptions<AnalyticsOptions> options,
        ILogger<AnalyticsLoop> logger)
    {
        _registry = registry;
        _sink = sink;
        _time = time;
        _logger = logger;
        _options = options.Value;
        // Wait, not drop: a dropped batch would be a reading analytics never saw (a missed silence end). Waiting makes
        // ingest's await on OnStoredAsync slow down, which slows its acks to the broker, so a slow analytics stage
        // throttles intake instead of growing memory or losing data.
        _queue = Channel.CreateBounded<HeardBatch>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _windows = new StoreWindows(store, registry);
        // Both reading detectors judge by the loop's clock: it observes every reading (and seed) before they see it.
        _storedClock = new EventClock(TimeSpan.FromMinutes(15), _clock.Numbers);
        Silence = new SilenceWatch(_options.Silence, registry.FindDevice, _clock);
        Facilities = new FacilityDetectors(_options.Facilities, TimeZoneInfo.FindSystemTimeZoneById(_options.TimeZone ?? "Asia/Shanghai"), _clock);
        LivingAlone = new LivingAloneHourlyDetector(_options, _windows, registry, time, logger);
        // The seam: a further detector joins one of these two lists.
        _readingDetectors = [Silence, Facilities];
        _hourlyDetectors = [LivingAlone];
        _hourlyMetrics = [.. _hourlyDetectors.SelectMany(d => d.Metrics).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        _cooldown = new AlertCooldown(_options.Cooldown);
    }

    internal SilenceWatch Silence { get; }

    internal FacilityDetectors Facilities { get; }

    internal LivingAloneHourlyDetector LivingAlone { get; }

    /// <summary>The event-time watermark as other threads may read it; null before the first reading.</summary>
    internal DateTimeOffset? Watermark => Volatile.Read(ref _watermarkTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>Stored batches fully handled (observed, checked, and every hour due judged); lets tests and the evaluation wait for the loop.</summary>
    public long HandledBatches => Interlocked.Read(ref _handledBatches);

    /// <summary>Time spent reading hourly windows from the store, and judging them (trainings included); for reports.</summary>
    internal TimeSpan WindowReading { get; private set; }

    internal TimeSpan Judging { get; private set; }

    /// <summary>Complete hours judged so far.</summary>
    public long JudgedHours => Interlocked.Read(ref _judgedHours);

    /// <summary>Only queues the batch: ingest awaits this call, so it must not do the work itself.</summary>
    public ValueTask OnArrivedAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken) =>
        QueueAsync(new HeardBatch(batch, Stored: false), cancellationToken);

    /// <summary>Only queues the batch: ingest awaits this call, so it must not do the work itself.</summary>
    public ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken) =>
        QueueAsync(new HeardBatch(batch, Stored: true), cancellationToken);

    private async ValueTask QueueAsync(HeardBatch heard, CancellationToken cancellationToken)
    {
        if (heard.Batch.Count == 0) return;
        try
        {
            // Queued as it is: the ports promise the batch is never changed or reused after the call. One queue for
            // both, so a batch's arrival is always handled before its storing.
            await _queue.Writer.WriteAsync(heard, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // Stopping: the readings are stored, and the hours of the next start are read from the store.
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

    /// <summary>Handles every batch queued right now, each completely: readings, checks, then every hour it completed.</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        while (_queue.Reader.TryRead(out var heard))
        {
            try
            {
                if (!heard.Stored)
                {
                    _hearsArrivals = true;
                    await ObserveAsync(heard.Batch, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                // Heard on arrival already, unless this host has no arrival feed (the evaluation) or it has not started
                // yet (a spool drained at start, before ingest takes messages).
                if (!_hearsArrivals) await ObserveAsync(heard.Batch, cancellationToken).ConfigureAwait(false);
                foreach (var reading in heard.Batch) _storedClock.Observe(reading.Device, reading.Time);
                if (_storedClock.Now is { } stored) await JudgeCompleteHoursAsync(stored, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (heard.Stored) Interlocked.Increment(ref _handledBatches);
            }
        }
    }

    /// <summary>The reading detectors see the batch, then are checked against the watermark of what has arrived.</summary>
    private async Task ObserveAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
    {
        List<Alert>? settled = null;
        foreach (var reading in batch)
        {
            _clock.Observe(reading.Device, reading.Time);
            foreach (var detector in _readingDetectors)
            {
                foreach (var alert in detector.Observe(reading)) (settled ??= []).Add(alert);
            }
        }
        Volatile.Write(ref _watermarkTicks, _clock.Now?.UtcTicks ?? 0);
        _lastArrival = _time.GetTimestamp();
        if (settled is not null) await RaiseAsync(settled, cancellationToken).ConfigureAwait(false);
        if (_clock.Now is not { } watermark) return;
        foreach (var detector in _readingDetectors)
            await RaiseAsync(detector.Check(watermark), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Judges, in order, every hour whose end the watermark has passed by the lateness allowed. An hour whose judging
    /// fails (the store is away) is tried again with the next batch, and given up after a few attempts.
    /// </summary>
    private async Task JudgeCompleteHoursAsync(DateTimeOffset watermark, CancellationToken cancellationToken)
    {
        if (_hourlyDetectors.Length == 0) return;
        _nextHour ??= FloorToHour(watermark - _options.EvaluationDelay);
        while (_nextHour.Value.AddHours(1) + _options.EvaluationDelay <= watermark)
        {
            var hour = _nextHour.Value;
            try
            {
                var started = _time.GetTimestamp();
                var window = new HourWindow(hour, await _windows.ReadListAsync(_hourlyMetrics, hour, hour.AddHours(1), cancellationToken).ConfigureAwait(false));
                var read = _time.GetTimestamp();
                foreach (var detector in _hourlyDetectors)
                    await RaiseAsync(await detector.JudgeAsync(window, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                WindowReading += _time.GetElapsedTime(started, read);
                Judging += _time.GetElapsedTime(read);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (++_attempts < AttemptsPerHour) throw;
                _logger.LogError(ex, "Giving up judging the hour from {Hour:O} after {Attempts} attempts", hour, _attempts);
            }
            _attempts = 0;
            _nextHour = hour.AddHours(1);
            Interlocked.Increment(ref _judgedHours);
        }
    }

    /// <summary>
    /// The one place the wall clock enters: when no readings arrive at all, the watermark stands still and a
    /// feed that died entirely would never look silent. So the reading detectors are also checked every
    /// <see cref="SilenceOptions.CheckEvery"/> against the watermark advanced by the wall time since the last
    /// batch arrived. The alerts they raise still carry event times (see <see cref="SilenceWatch"/>). Hours are
    /// judged only from readings: a quiet feed judges no hour it has no data for.
    /// </summary>
    private async Task CheckQuietFeedAsync(CancellationToken cancellationToken)
    {
        if (_clock.Now is not { } watermark) return;
        var now = watermark + _time.GetElapsedTime(_lastArrival);
        foreach (var detector in _readingDetectors)
            await RaiseAsync(detector.Check(now), cancellationToken).ConfigureAwait(false);
    }

    private async Task RaiseAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken)
    {
        foreach (var alert in alerts)
        {
            // The facility detectors' own cool-downs are per kind (30 min for a forced gate, 15 for a camera zone); the
            // loop's long one is for welfare and silence, where a second page the same day is one too many.
            var cooled = alert.Kind is AlertKinds.LivingAloneDrop or AlertKinds.DeviceSilent;
            if (cooled && !_cooldown.Admit(alert.Kind, alert.Device ?? alert.Household ?? alert.Community, alert.RaisedAt)) continue;
            _logger.LogInformation("Raising {Kind} for {Subject} since {StartedAt:O}", alert.Kind, alert.Household ?? alert.Device, alert.StartedAt);
            try
            {
                await _sink.RaiseAsync(alert, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // One alert the sink could not take must not take the others of its batch (other devices' doors and
                // silences) with it, as it did when the step failed as a whole. Its id and evidence stay in the log.
                _logger.LogError(ex, "Alert {Id} ({Kind} for {Subject} since {StartedAt:O}) could not be raised: {Summary}",
                    alert.Id, alert.Kind, alert.Household ?? alert.Device, alert.StartedAt, alert.Evidence.Summary);
            }
        }
    }

    /// <summary>
    /// Starts watching every device the registry has seen, so one that never reports again after a restart still goes
    /// silent, and sizes the per-device maps for every registered device.
    /// </summary>
    private void SeedFromRegistry()
    {
        try
        {
            var devices = _registry.Devices;
            // Every registered device will report: room for all of them now, not doubled as they turn up.
            _clock.EnsureCapacity(devices.Count);
            _storedClock.EnsureCapacity(devices.Count);
            Silence.EnsureCapacity(devices.Count);
            foreach (var device in devices)
            {
                if (_registry.LastSeen(device.Id) is not { } lastSeen) continue;
                _clock.Observe(device.Id, lastSeen);
                _storedClock.Observe(device.Id, lastSeen);
                // Seeded, not observed: a device last seen before the restart is judged from then, so one that died
                // meanwhile is silent at the first check rather than one silence after the restart.
                Silence.Seed(device.Id, device.Community, device.Grid, lastSeen);
            }
            Volatile.Write(ref _watermarkTicks, _clock.Now?.UtcTicks ?? 0);
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

    /// <summary>A batch as heard from ingest: on arrival, or once stored.</summary>
    private readonly record struct HeardBatch(IReadOnlyList<Reading> Batch, bool Stored);
}
