using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sensing.Analytics.Windows;
using Sensing.Telemetry;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// <c>living_alone_drop</c> as an hourly store-window detector: keeps the <see cref="WelfareModel"/> (loaded from
/// <see cref="AnalyticsOptions.ModelDirectory"/> at the first hour, trained from the store's last
/// <see cref="AnalyticsOptions.HistoryDays"/> when there is none or it is <see cref="AnalyticsOptions.RetrainEvery"/>
/// old, and saved), turns each hour's window into <see cref="HouseholdHour"/>s of this worker's households and hands
/// them to the <see cref="LivingAloneDetector"/>.
/// <para>
/// Trainings happen at hour ends on a fixed grid of event time (every six hours, or every <c>RetrainEvery</c> when
/// shorter), from the store's windows only, so the same feed trains the same models at the same hours whatever the
/// replay speed. A training blocks the loop for its few seconds; ingest waits meanwhile (its queue holds).
/// </para>
/// </summary>
public sealed class LivingAloneHourlyDetector : IHourlyDetector
{
    private static readonly string[] s_metrics = [Telemetry.Metrics.WaterConsumption, Telemetry.Metrics.ElectricityConsumption, Telemetry.Metrics.GatePass];

    private readonly AnalyticsOptions _options;
    private readonly StoreWindows _windows;
    private readonly IDeviceRegistry _registry;
    private readonly WelfareModelStore _models;
    private readonly TimeZoneInfo _zone;
    private readonly Partition _partition;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _gridTicks;
    private bool _loaded;

    public LivingAloneHourlyDetector(AnalyticsOptions options, StoreWindows windows, IDeviceRegistry registry, TimeProvider time, ILogger logger)
    {
        _options = options;
        _windows = windows;
        _registry = registry;
        _time = time;
        _logger = logger;
        _zone = TimeZoneInfo.FindSystemTimeZoneById(options.TimeZone ?? "Asia/Shanghai");
        _partition = new Partition(options.Workers, options.Worker);
        _models = new WelfareModelStore(options.ModelDirectory ?? "data/models", logger);
        Detector = new LivingAloneDetector(options.LivingAlone, _zone, options.EvaluationDelay);
        var grid = Math.Min(TimeSpan.FromHours(6).Ticks, options.RetrainEvery.Ticks);
        _gridTicks = Math.Max(TimeSpan.TicksPerHour, grid - grid % TimeSpan.TicksPerHour);
    }

    public IReadOnlyCollection<string> Metrics => s_metrics;

    public LivingAloneDetector Detector { get; }

    /// <summary>The model in use, or null before the first successful training (or load).</summary>
    public WelfareModel? Model { get; private set; }

    public async Task<IReadOnlyList<Alert>> JudgeAsync(HourWindow hour, CancellationToken cancellationToken)
    {
        if (!_loaded)
        {
            _loaded = true;
            Model = _models.TryLoad();
        }
        if (IsTrainingDue(hour.End)) await TrainAsync(hour.End, cancellationToken).ConfigureAwait(false);
        if (Model is null) return [];
        return Detector.Judge(hour.Start, Households(hour.Series, _partition), Model, _registry.FindHousehold, _registry.IsAway);
    }

    private bool IsTrainingDue(DateTimeOffset end) =>
        end.UtcTicks % _gridTicks == 0 && (Model is null || end - Model.Manifest.TrainedAt >= _options.RetrainEvery);

    private async Task TrainAsync(DateTimeOffset end, CancellationToken cancellationToken)
    {
        var history = await HouseholdHistory.LoadAsync(_windows, end.AddDays(-_options.HistoryDays), end, _zone, _partition, cancellationToken).ConfigureAwait(false);
        var model = WelfareTrainer.Train(history, id => _registry.FindHousehold(id)?.ElderlyLivingAlone ?? false, _options, _time, _registry.IsAway);
        if (model is null)
        {
            if (history.HouseholdCount > 0)
                _logger.LogInformation("Not enough history yet to train the welfare model at {End:O} ({Households} households seen)", end, history.HouseholdCount);
            return;
        }
        try
        {
            _models.Save(model);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The model still serves this process; the next start trains again.
            _logger.LogError(ex, "Could not save the welfare model to {Folder}", _models.Folder);
        }
        Model = model;
        var m = model.Manifest;
        _logger.LogInformation(
            "Trained welfare model v{Version} at {End:O} on {Households} households ({Rows} rows, {Seconds:0.0} s); held out: MAE {Mae:0.000}, R² {R2:0.000}",
            m.Version, end, m.Households, m.TrainingRows, m.Metrics.TrainingSeconds, m.Metrics.MeanAbsoluteError, m.Metrics.RSquared);
    }

    /// <summary>The window's meter and gate series folded per household (a household's two meters of one kind add up).</summary>
    public static List<HouseholdHour> Households(IReadOnlyList<HourlySeries> series, Partition partition)
    {
        var households = new Dictionary<string, HouseholdHour>(series.Count / 2 + 1, StringComparer.Ordinal);
        foreach (var s in series)
        {
            if (s.Household is not { } id || !partition.Owns(id)) continue;
            // One lookup per series, updated in place: this runs for every household of a city every hour.
            ref var h = ref CollectionsMarshal.GetValueRefOrAddDefault(households, id, out var known);
            if (!known) h = new HouseholdHour(id, s.Community, s.Grid, default, default, default);
            switch (s.Metric)
            {
                case Telemetry.Metrics.WaterConsumption:
                    h = h with { Water = new MeterHour(h.Water.Readings + s.Count, h.Water.Used + s.Sum) };
                    break;
                case Telemetry.Metrics.ElectricityConsumption:
                    h = h with { Electricity = new MeterHour(h.Electricity.Readings + s.Count, h.Electricity.Used + s.Sum) };
                    break;
                case Telemetry.Metrics.GatePass:
                    var later = h.Gate.Passes == 0 || s.LastTime > h.Gate.LastTime;
                    h = h with
                    {
                        Gate = new GateHour(h.Gate.Passes + (int)s.Count, later ? s.Label : h.Gate.LastDirection, later ? s.LastTime : h.Gate.LastTime),
                    };
                    break;
            }
        }
        return [.. households.Values];
    }
}
