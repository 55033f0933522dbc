using System.Text.Json.Serialization;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// Everything the welfare detector knows after a training: the ML.NET model of expected use, every household's usual
/// day and the population's (the cold-start prior), and the manifest that says which data it saw. Immutable once
/// built; a retraining builds a new one, so scoring needs no locks.
/// </summary>
public sealed class WelfareModel
{
    private readonly Dictionary<string, HouseholdProfile> _profiles;

    internal WelfareModel(ExpectedConsumptionModel expected, PopulationPrior prior, Dictionary<string, HouseholdProfile> profiles, ModelManifest manifest)
    {
        Expected = expected;
        Prior = prior;
        _profiles = profiles;
        Manifest = manifest;
    }

    public ExpectedConsumptionModel Expected { get; }
    public PopulationPrior Prior { get; }
    public ModelManifest Manifest { get; internal set; }
    public IReadOnlyCollection<HouseholdProfile> Profiles => _profiles.Values;

    public HouseholdProfile? Profile(string household) => _profiles.GetValueOrDefault(household);

    /// <summary>
    /// Expected use (m³ or kWh) of the household's meter in the hour starting at <paramref name="hour"/>, or NaN when
    /// the household has no usual day for that meter.
    /// </summary>
    public float Expect(HouseholdProfile profile, Meter meter, bool elderly, DateTimeOffset hour, TimeZoneInfo zone)
    {
        if (profile.Of(meter) is not { } usual) return float.NaN;
        var local = TimeZoneInfo.ConvertTime(hour, zone);
        return Expect(profile, usual, meter, elderly, local.Hour, local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday);
    }

    /// <summary>The same, for a local hour of day and day type already worked out (the detector does it once per hour).</summary>
    public float Expect(HouseholdProfile profile, MeterProfile usual, Meter meter, bool elderly, int localHour, bool weekend)
    {
        Span<float> features = stackalloc float[UsageFeatures.Count];
        Features(features, profile, usual, meter, elderly, localHour, weekend, Prior, Manifest.HistoryDays);
        // Trees can undershoot below zero near a zero label; negative use means nothing.
        return usual.Level * Math.Max(0f, Expected.Predict(features));
    }

    /// <summary>The features and relative predictions of both meters for an hour, for a trace.</summary>
    internal string Describe(HouseholdProfile profile, bool elderly, DateTimeOffset hour, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(hour, zone);
        var text = new System.Text.StringBuilder();
        Span<float> f = stackalloc float[UsageFeatures.Count];
        foreach (var meter in new[] { Meter.Water, Meter.Electricity })
        {
            if (profile.Of(meter) is not { } usual) continue;
            Features(f, profile, usual, meter, elderly, local.Hour, local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday, Prior, Manifest.HistoryDays);
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"[{meter} L {usual.Level:0.0000} f {string.Join(",", f.ToArray().Select(x => x.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))} → {Expected.Predict(f):0.00}] ");
        }
        return text.ToString();
    }

    /// <summary>The feature vector of one household-hour of one meter (order in <see cref="UsageFeatures"/>).</summary>
    internal static void Features(Span<float> f, HouseholdProfile profile, MeterProfile usual, Meter meter, bool elderly, int localHour, bool weekend, PopulationPrior prior, int fullWeightDays)
    {
        var type = weekend ? DayType.Weekend : DayType.Weekday;
        // Cold start: a household with less than the full history leans on the population's usual day, the more the
        // less of its own it has (two weeks of its own: its own entirely).
        var own = Math.Clamp(profile.Days / fullWeightDays, 0f, 1f);
        var priorShare = prior.Share(elderly, meter, type, localHour);
        var priorAll = prior.Share(elderly, meter, DayType.All, localHour);
        var ownAll = usual.Share(DayType.All, localHour);
        if (float.IsNaN(ownAll)) ownAll = priorAll;
        var ownShare = usual.Share(type, localHour);
        if (float.IsNaN(ownShare)) ownShare = ownAll;
        f[UsageFeatures.HourOfDay] = localHour;
        f[UsageFeatures.IsWeekend] = weekend ? 1 : 0;
        f[UsageFeatures.IsElectricity] = meter == Meter.Electricity ? 1 : 0;
        f[UsageFeatures.IsElderly] = elderly ? 1 : 0;
        f[UsageFeatures.Share] = own * ownShare + (1 - own) * priorShare;
        f[UsageFeatures.ShareAll] = own * ownAll + (1 - own) * priorAll;
        f[UsageFeatures.PriorShare] = priorShare;
        f[UsageFeatures.Recent] = usual.Recent;
        f[UsageFeatures.OwnWeight] = own;
    }
}

/// <summary>
/// The small JSON file beside a saved model: what it is, which data window it saw, how well it did on households it
/// did not train on, and which files hold it. Written last, so a model whose manifest exists is complete.
/// </summary>
public sealed record ModelManifest
{
    public const int CurrentFormat = 1;

    [JsonPropertyName("detector")] public string Detector { get; init; } = Telemetry.AlertKinds.LivingAloneDrop;
    [JsonPropertyName("format")] public int Format { get; init; } = CurrentFormat;
    /// <summary>1, 2, 3… per model directory; 0 until saved.</summary>
    [JsonPropertyName("version")] public int Version { get; init; }
    /// <summary>Event time the model was trained at: the end of its data window.</summary>
    [JsonPropertyName("trained_at")] public DateTimeOffset TrainedAt { get; init; }
    /// <summary>Wall-clock time of the training, for people reading the folder.</summary>
    [JsonPropertyName("trained_wall_clock")] public DateTimeOffset TrainedWallClock { get; init; }
    [JsonPropertyName("data_from")] public DateTimeOffset DataFrom { get; init; }
    [JsonPropertyName("data_to")] public DateTimeOffset DataTo { get; init; }
    /// <summary>Days of history after which a household's usual day is entirely its own (the options' HistoryDays).</summary>
    [JsonPropertyName("history_days")] public int HistoryDays { get; init; } = 14;
    [JsonPropertyName("time_zone")] public string TimeZone { get; init; } = "Asia/Shanghai";
    [JsonPropertyName("households")] public int Households { get; init; }
    [JsonPropertyName("training_rows")] public int TrainingRows { get; init; }
    [JsonPropertyName("metrics")] public ModelMetrics Metrics { get; init; } = new();
    [JsonPropertyName("model_file")] public string ModelFile { get; init; } = "";
    [JsonPropertyName("profiles_file")] public string ProfilesFile { get; init; } = "";
    [JsonPropertyName("features")] public string[] Features { get; init; } =
        ["hour_of_day", "is_weekend", "is_electricity", "is_elderly", "share", "share_all", "prior_share", "recent", "own_weight"];
}

/// <summary>How the model did on the held-out households' last days: relative use, so households of any size count alike.</summary>
public sealed record ModelMetrics
{
    [JsonPropertyName("holdout_rows")] public int HoldoutRows { get; init; }
    [JsonPropertyName("mean_absolute_error")] public double MeanAbsoluteError { get; init; }
    [JsonPropertyName("r_squared")] public double RSquared { get; init; }
    [JsonPropertyName("training_seconds")] public double TrainingSeconds { get; init; }
}
