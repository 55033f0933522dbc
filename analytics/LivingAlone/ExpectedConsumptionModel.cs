using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// What a household is expected to use in a given hour, learned across households with ML.NET (FastTree
/// regression). The model is scale-free: it predicts consumption relative to the household's own usual
/// hourly level, from the hour of day, the weekend flag, the meter (water or electricity) and the household's
/// own usual share at that hour. So one model serves a frugal widow and a family of five, and what it learns
/// across the population (weekend mornings start later, evenings are heavier than the median suggests) is
/// applied to each household's own rhythm.
/// Train with <see cref="Train"/>, then score with <see cref="Expect"/>; scoring is not thread-safe.
/// </summary>
public sealed class ExpectedConsumptionModel
{
    /// <summary>Fixed, so retraining on the same history gives the same model and a replay gives the same alerts.</summary>
    private const int Seed = 20261124;

    /// <summary>Below this many household-hours the population says too little to learn a shape from.</summary>
    private const int MinTrainingRows = 500;

    private readonly PredictionEngine<UsageRow, UsagePrediction> _engine;
    private readonly TimeZoneInfo _zone;
    private readonly int _minHistoryDays;

    private ExpectedConsumptionModel(PredictionEngine<UsageRow, UsagePrediction> engine, TimeZoneInfo zone, int minHistoryDays, int trainingRows)
    {
        _engine = engine;
        _zone = zone;
        _minHistoryDays = minHistoryDays;
        TrainingRows = trainingRows;
    }

    /// <summary>Household-hours the model was trained on.</summary>
    public int TrainingRows { get; }

    /// <summary>
    /// Trains on every hour before <paramref name="until"/> of every household with at least
    /// <paramref name="minHistoryDays"/> days of history. Each row's usual-day feature is computed with its own
    /// day left out, as it will be at scoring time, where the judged window is not part of the history.
    /// Null when the population has too little history yet.
    /// </summary>
    public static ExpectedConsumptionModel? Train(IEnumerable<HouseholdUsage> households, DateTimeOffset until, TimeZoneInfo zone, int minHistoryDays)
    {
        var rows = new List<UsageRow>();
        foreach (var household in households)
        {
            AddRows(rows, household.Water, isElectricity: false, until, zone, minHistoryDays);
            AddRows(rows, household.Electricity, isElectricity: true, until, zone, minHistoryDays);
        }
        if (rows.Count < MinTrainingRows) return null;

        var ml = new MLContext(Seed);
        var data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            LabelColumnName = nameof(UsageRow.RelativeConsumption),
            FeatureColumnName = "Features",
            // 16 leaves ≈ depth 4: enough for hour × weekend × meter × usual share to interact, too few to memorise households.
            NumberOfLeaves = 16,
            // A leaf must average at least 50 household-hours, so it describes the population, not one noisy day.
            MinimumExampleCountPerLeaf = 50,
            // 100 trees at rate 0.1: the usual shrinkage pairing; four smooth features converge well before that.
            NumberOfTrees = 100,
            LearningRate = 0.1,
            // One thread: deterministic split finding, and the second core stays with ingest during the daily retrain.
            NumberOfThreads = 1,
            Seed = Seed,
        });
        var pipeline = ml.Transforms
            .Concatenate("Features", nameof(UsageRow.HourOfDay), nameof(UsageRow.IsWeekend), nameof(UsageRow.IsElectricity), nameof(UsageRow.UsualShare))
            .Append(trainer);
        var model = pipeline.Fit(data);
        return new ExpectedConsumptionModel(ml.Model.CreatePredictionEngine<UsageRow, UsagePrediction>(model), zone, minHistoryDays, rows.Count);
    }

    /// <summary>
    /// Expected water and electricity per hour of the window of <paramref name="hours"/> hours starting at
    /// <paramref name="windowStart"/>, from the household's usual day over its history before the window only.
    /// Null when the household lacks the history to say what is usual for it.
    /// </summary>
    public HouseholdExpectation? Expect(HouseholdUsage household, DateTimeOffset windowStart, int hours)
    {
        var water = Expect(household.Water, isElectricity: false, windowStart, hours);
        var electricity = Expect(household.Electricity, isElectricity: true, windowStart, hours);
        return water is null || electricity is null ? null : new HouseholdExpectation(water, electricity);
    }

    private double[]? Expect(IReadOnlyDictionary<DateTimeOffset, double> series, bool isElectricity, DateTimeOffset windowStart, int hours)
    {
        var usual = UsualDay.Of(DayMatrix.Of(series, windowStart, _zone), leftOut: null, _minHistoryDays);
        if (usual is null) return null;
        var expected = new double[hours];
        for (var i = 0; i < hours; i++)
        {
            var hour = windowStart.AddHours(i);
            var row = Features(hour, isElectricity, usual, _zone);
            if (row is null) return null;
            // Trees can undershoot below zero near a zero label; negative consumption means nothing.
            expected[i] = Math.Max(0, _engine.Predict(row).Score) * usual.Level;
        }
        return expected;
    }

    private static void AddRows(List<UsageRow> rows, IReadOnlyDictionary<DateTimeOffset, double> series, bool isElectricity, DateTimeOffset until, TimeZoneInfo zone, int minHistoryDays)
    {
        var days = DayMatrix.Of(series, until, zone);
        // Leaving one day out still needs minHistoryDays others.
        if (days.Days.Count <= minHistoryDays) return;
        var byDay = series.Where(p => p.Key < until).GroupBy(p => LocalClock.Day(p.Key, zone));
        foreach (var day in byDay)
        {
            var usual = UsualDay.Of(days, day.Key, minHistoryDays);
            if (usual is null) continue;
            foreach (var (time, value) in day)
            {
                var row = Features(time, isElectricity, usual, zone);
                if (row is null) continue;
                row.RelativeConsumption = (float)(value / usual.Level);
                rows.Add(row);
            }
        }
    }

    private static UsageRow? Features(DateTimeOffset hour, bool isElectricity, UsualDay usual, TimeZoneInfo zone)
    {
        var hourOfDay = LocalClock.Hour(hour, zone);
        var atHour = usual.AtHour[hourOfDay];
        if (double.IsNaN(atHour)) return null;
        return new UsageRow
        {
            HourOfDay = hourOfDay,
            IsWeekend = LocalClock.IsWeekend(hour, zone) ? 1 : 0,
            IsElectricity = isElectricity ? 1 : 0,
            UsualShare = (float)(atHour / usual.Level),
        };
    }

    /// <summary>ML.NET input schema: one household-hour of one meter.</summary>
    private sealed class UsageRow
    {
        /// <summary>Local hour of day, 0–23.</summary>
        public float HourOfDay { get; set; }
        public float IsWeekend { get; set; }
        public float IsElectricity { get; set; }
        /// <summary>The household's usual consumption at this hour over its usual hourly level.</summary>
        public float UsualShare { get; set; }
        /// <summary>Label: consumption in this hour over the household's usual hourly level.</summary>
        public float RelativeConsumption { get; set; }
    }

    /// <summary>ML.NET output schema: the regression's score is the expected relative consumption.</summary>
    private sealed class UsagePrediction
    {
        [ColumnName("Score")]
        public float Score { get; set; }
    }
}

/// <summary>Expected consumption per hour of a window: m³ of water and kWh of electricity.</summary>
public sealed record HouseholdExpectation(IReadOnlyList<double> Water, IReadOnlyList<double> Electricity);
