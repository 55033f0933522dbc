using System.Diagnostics;
using Sensing.Analytics.Windows;
using Sensing.Telemetry;

namespace Sensing.Analytics.LivingAlone;

/// <summary>Hourly use of every household over a training window, as arrays on one <see cref="HourAxis"/>.</summary>
public sealed class HouseholdHistory
{
    internal HouseholdHistory(HourAxis axis, Dictionary<string, float[]?[]> households)
    {
        Axis = axis;
        Households = households;
    }

    internal HourAxis Axis { get; }

    /// <summary>Household → [water, electricity] hourly use (NaN: no reading, or the lump after a gap), or null for a meter it lacks.</summary>
    internal Dictionary<string, float[]?[]> Households { get; }

    public DateTimeOffset From => Axis.From;
    public DateTimeOffset To => Axis.From.AddHours(Axis.Hours);
    public int HouseholdCount => Households.Count;

    /// <summary>Reads [<paramref name="from"/>, <paramref name="to"/>) of both consumption metrics from the store's windows.</summary>
    public static async Task<HouseholdHistory> LoadAsync(StoreWindows windows, DateTimeOffset from, DateTimeOffset to, TimeZoneInfo zone, Partition partition, CancellationToken cancellationToken)
    {
        var builder = new Builder(from, to, zone);
        await foreach (var series in windows.ReadAsync([Telemetry.Metrics.WaterConsumption, Telemetry.Metrics.ElectricityConsumption], from, to, cancellationToken).ConfigureAwait(false))
        {
            if (series.Household is { } household && partition.Owns(household))
                builder.Add(household, series.Metric == Telemetry.Metrics.WaterConsumption ? Meter.Water : Meter.Electricity, series.Hour, series.Sum);
        }
        return builder.Build();
    }

    /// <summary>Collects hourly use; a household with two meters of one kind has their sum.</summary>
    internal sealed class Builder(DateTimeOffset from, DateTimeOffset to, TimeZoneInfo zone)
    {
        private readonly HourAxis _axis = new(from, (int)((to - from).Ticks / TimeSpan.TicksPerHour), zone);
        private readonly Dictionary<string, float[]?[]> _households = new(StringComparer.Ordinal);

        public void Add(string household, Meter meter, DateTimeOffset hour, double used)
        {
            var index = (int)((hour - from).Ticks / TimeSpan.TicksPerHour);
            if (index < 0 || index >= _axis.Hours) return;
            if (!_households.TryGetValue(household, out var meters)) _households[household] = meters = new float[]?[2];
            var series = meters[(int)meter];
            if (series is null)
            {
                meters[(int)meter] = series = new float[_axis.Hours];
                Array.Fill(series, float.NaN);
            }
            series[index] = float.IsNaN(series[index]) ? (float)used : series[index] + (float)used;
        }

        public HouseholdHistory Build()
        {
            foreach (var meters in _households.Values)
            {
                foreach (var series in meters)
                    if (series is not null) UsageSeries.MarkGapLumps(series);
            }
            return new HouseholdHistory(_axis, _households);
        }
    }
}

/// <summary>
/// Trains a <see cref="WelfareModel"/> from a <see cref="HouseholdHistory"/>. Each household's usual day is learned from
/// its whole window (that is what scoring uses); the ML.NET model learns from each household's last one to three
/// days, with features from a usual day learned on the days before them only, as scoring will see the hours after a
/// training. One household in ten is held out, to measure the model on households it has not seen.
/// </summary>
public static class WelfareTrainer
{
    /// <summary>Below this many household-hours the population says too little to learn from.</summary>
    private const int MinTrainingRows = 200;

    /// <summary>The most a training label may be, in usual hourly levels (see <see cref="AddRows"/>).</summary>
    private const float MaxLabel = 6;

    /// <param name="isAway">The registry's away spells (<see cref="IDeviceRegistry.IsAway"/>): hours to learn nothing from.</param>
    /// <returns>The model, or null when too few households have <see cref="AnalyticsOptions.MinHistoryDays"/> of history.</returns>
    public static WelfareModel? Train(HouseholdHistory history, Func<string, bool> isElderly, AnalyticsOptions options, TimeProvider time, Func<string, DateTimeOffset, bool>? isAway = null)
    {
        var started = time.GetTimestamp();
        var axis = history.Axis;
        var profiles = new Dictionary<string, HouseholdProfile>(StringComparer.Ordinal);
        var elderly = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (household, meters) in history.Households)
        {
            LeaveOutUnusualDays(household, meters, axis, isAway);
            var profile = Profile(household, meters, axis, 0, axis.Hours);
            if (profile is null || profile.Days < options.MinHistoryDays) continue;
            profiles[household] = profile;
            elderly[household] = isElderly(household);
        }
        var prior = PopulationPrior.From(profiles.Values.Select(p => (elderly[p.Household], p)));

        var training = new List<UsageRow>();
        var holdout = new List<UsageRow>();
        // Ordinal order, so sampling and training see the households in the same order on every run.
        foreach (var household in profiles.Keys.Order(StringComparer.Ordinal))
        {
            var meters = history.Households[household];
            var days = (int)profiles[household].Days;
            // The last K days are the rows, the days before them the usual day: 1 day of rows with 4 days of history, 3 with 12.
            var rowDays = Math.Clamp(days / 4, 1, 3);
            var split = axis.Hours - 24 * rowDays;
            if (split <= 0) continue;
            var past = Profile(household, meters, axis, 0, split);
            if (past is null || past.Days < 1) continue;
            var rows = StableHash(household) % 10 == 0 ? holdout : training;
            AddRows(rows, household, past, meters, axis, split, elderly[household], prior, options);
        }
        if (training.Count < MinTrainingRows) return null;
        training = Sample(training, options.LivingAlone.MaxTrainingRows);

        if (Environment.GetEnvironmentVariable("SENSING_DUMP_ROWS") is { } dump)
            File.WriteAllLines($"{dump}-{history.To:MMddHH}.csv", training.Select(r => string.Join(",", r.Features.Append(r.Label))));
        var expected = ExpectedConsumptionModel.Train(training);
        var (mae, r2) = expected.Measure(holdout);
        var manifest = new ModelManifest
        {
            TrainedAt = history.To,
            TrainedWallClock = time.GetUtcNow(),
            DataFrom = history.From,
            DataTo = history.To,
            HistoryDays = options.HistoryDays,
            TimeZone = options.TimeZone ?? "Asia/Shanghai",
            Households = profiles.Count,
            TrainingRows = training.Count,
            Metrics = new ModelMetrics
            {
                HoldoutRows = holdout.Count,
                MeanAbsoluteError = Math.Round(mae, 4),
                RSquared = Math.Round(r2, 4),
                TrainingSeconds = Math.Round(time.GetElapsedTime(started).TotalSeconds, 2),
            },
        };
        return new WelfareModel(expected, prior, profiles, manifest);
    }

    /// <summary>
    /// What is usual must be learned from usual days. Hours the registry says the household was away, and whole days
    /// it was barely there (a day whose water or electricity is under <see cref="QuietDay"/> of its second-busiest
    /// day: an unannounced trip, an earlier drop), are left out of its history before anything is learned from it; a
    /// guest's busy day stays (a second-busiest reference keeps one party from making every day look quiet).
    /// </summary>
    private static void LeaveOutUnusualDays(string household, float[]?[] meters, HourAxis axis, Func<string, DateTimeOffset, bool>? isAway)
    {
        if (isAway is not null)
        {
            for (var i = 0; i < axis.Hours; i++)
            {
                var hour = axis.From.AddHours(i);
                if (!isAway(household, hour) && !isAway(household, hour.AddHours(1).AddTicks(-1))) continue;
                foreach (var series in meters)
                    if (series is not null) series[i] = float.NaN;
            }
        }
        Span<bool> quiet = stackalloc bool[axis.DayCount];
        foreach (var series in meters)
        {
            if (series is null) continue;
            var means = new float[axis.DayCount];
            var counts = new int[axis.DayCount];
            for (var i = 0; i < axis.Hours; i++)
            {
                if (float.IsNaN(series[i])) continue;
                means[axis.Day[i]] += series[i];
                counts[axis.Day[i]]++;
            }
            var known = new List<float>();
            for (var d = 0; d < means.Length; d++)
            {
                means[d] = counts[d] >= 20 ? means[d] / counts[d] : float.NaN;
                if (!float.IsNaN(means[d])) known.Add(means[d]);
            }
            if (known.Count < 3) continue;
            known.Sort();
            var reference = known[^2];
            for (var d = 0; d < means.Length; d++)
                if (means[d] < QuietDay * reference) quiet[d] = true;
        }
        for (var i = 0; i < axis.Hours; i++)
        {
            if (!quiet[axis.Day[i]]) continue;
            foreach (var series in meters)
                if (series is not null) series[i] = float.NaN;
        }
    }

    /// <summary>A day under this share of the household's second-busiest day is one it was barely there (see <see cref="LeaveOutUnusualDays"/>).</summary>
    private const float QuietDay = 0.3f;

    private static HouseholdProfile? Profile(string household, float[]?[] meters, HourAxis axis, int from, int to)
    {
        var water = meters[0] is { } w ? MeterProfiles.Learn(w, axis, from, to) : null;
        var electricity = meters[1] is { } e ? MeterProfiles.Learn(e, axis, from, to) : null;
        if (water is null && electricity is null) return null;
        var days = Math.Max(
            water is null ? 0 : MeterProfiles.KnownDays(meters[0]!, axis, from, to),
            electricity is null ? 0 : MeterProfiles.KnownDays(meters[1]!, axis, from, to));
        return new HouseholdProfile(household, days, water, electricity);
    }

    private static void AddRows(List<UsageRow> rows, string household, HouseholdProfile past, float[]?[] meters, HourAxis axis, int from, bool elderly, PopulationPrior prior, AnalyticsOptions options)
    {
        for (var m = 0; m < 2; m++)
        {
            var meter = (Meter)m;
            if (meters[m] is not { } series || past.Of(meter) is not { } usual) continue;
            // A meter that is hardly used (an empty flat's standby) is never judged, and its ratios are noise
            // (a single flush is twenty times its level): it would only teach the model wild labels.
            if (usual.Level < (meter == Meter.Water ? options.LivingAlone.MinExpectedWater : options.LivingAlone.MinExpectedElectricity)) continue;
            for (var i = from; i < axis.Hours; i++)
            {
                if (float.IsNaN(series[i])) continue;
                // Capped: a party or a meter's catch-up after a lost reading is many times the usual hour, and a
                // squared loss would let a handful of such hours pull whole leaves of ordinary ones.
                var row = new UsageRow { Label = Math.Min(series[i] / usual.Level, MaxLabel) };
                WelfareModel.Features(row.Features, past, usual, meter, elderly, axis.LocalHour[i], axis.Weekend[i], prior, options.HistoryDays);
                rows.Add(row);
            }
        }
    }

    /// <summary>Every k-th row when there are too many: deterministic, and spread over households and hours alike.</summary>
    private static List<UsageRow> Sample(List<UsageRow> rows, int max)
    {
        if (rows.Count <= max) return rows;
        var kept = new List<UsageRow>(max);
        var step = (double)rows.Count / max;
        for (var k = 0; k < max; k++) kept.Add(rows[(int)(k * step)]);
        return kept;
    }

    internal static uint StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var ch in text) hash = (hash ^ ch) * 16777619u;
        return hash;
    }
}
