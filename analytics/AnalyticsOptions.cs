using Microsoft.Extensions.Options;

namespace Sensing.Analytics;

/// <summary>
/// Settings of the analytics stage, bound to the configuration section <c>Analytics</c>.
/// <code>
/// "Analytics": {
///   "TimeZone": "Asia/Shanghai",          // default: Sensing:TimeZone, else Asia/Shanghai
///   "QueueCapacity": 256,
///   "HistoryDays": 14,
///   "MinHistoryDays": 2,
///   "RetrainEvery": "1.00:00:00",
///   "EvaluationDelay": "00:05:00",
///   "Cooldown": "12:00:00",
///   "ModelDirectory": "data/models",     // default: models/ beside Store:Path
///   "Workers": 1, "Worker": 0,
///   "LivingAlone": {
///     "DeepRatio": 0.15, "DeepHours": 3, "ElderlyDeepHours": 1,
///     "DropRatio": 0.25, "MinLowHours": 6, "ElderlyDropRatio": 0.4, "ElderlyMinLowHours": 4,
///     "NormalRatio": 0.5, "HomeRatio": 0.25, "InformativeShare": 0.3, "MinExpectedWater": 0.001, "MinExpectedElectricity": 0.01,
///     "WaterRegisterStep": 0.001, "ElectricityRegisterStep": 0.01, "MaxTrainingRows": 300000
///   },
///   "Silence": {
///     "IntervalsBeforeSilent": 4, "MinSilence": "00:02:00", "RecentGaps": 15, "MinGapsToLearn": 3,
///     "MeterInterval": "00:15:00", "GateInterval": "02:00:00", "ParkingInterval": "00:05:00", "CameraInterval": "00:01:00",
///     "CheckEvery": "00:00:05"
///   },
///   "Facilities": { … }                    // water leak, parking, gates, cameras: see Facilities/FacilityOptions.cs
/// }
/// </code>
/// </summary>
public sealed class AnalyticsOptions
{
    public const string SectionName = "Analytics";

    /// <summary>IANA zone that defines hour of day and weekends for households; null falls back to <c>Sensing:TimeZone</c>.</summary>
    public string? TimeZone { get; set; }

    /// <summary>Stored batches waiting for the loop; beyond this ingest waits (backpressure).</summary>
    public int QueueCapacity { get; set; } = 256;

    /// <summary>Days of hourly consumption a model is trained on, and from which each household's usual day is learned.</summary>
    public int HistoryDays { get; set; } = 14;

    /// <summary>
    /// Days of history a household needs before it is judged at all. Until it has <see cref="HistoryDays"/>, its usual
    /// day leans on the population's (the cold-start prior), the more the less it has of its own.
    /// </summary>
    public int MinHistoryDays { get; set; } = 2;

    /// <summary>Event time between two trainings of the welfare model (from the store's last <see cref="HistoryDays"/>).</summary>
    public TimeSpan RetrainEvery { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// The lateness allowed: how far the watermark must pass an hour's end before that hour is judged. Meters of
    /// different households are not perfectly in step, and a reading a few minutes late must still land in its hour.
    /// Every complete hour is judged once, in order, from the store, so alerts do not depend on replay speed or
    /// batching as long as no reading arrives later than this behind the newest.
    /// </summary>
    public TimeSpan EvaluationDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>After an alert, another alert of the same kind about the same subject waits this long (event time).</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// Where trained models are kept (a folder per detector: ML.NET zip, profiles, manifest); when not set,
    /// <c>models/</c> beside the DuckDB file of <c>Store:Path</c> (default <c>data/models</c>). Relative paths are
    /// resolved against the working directory.
    /// </summary>
    public string? ModelDirectory { get; set; }

    /// <summary>
    /// Analytics workers sharing one store (and feed), and which one this is (0-based): each judges the households
    /// whose id hashes to it, so every household is judged by exactly one worker.
    /// </summary>
    public int Workers { get; set; } = 1;

    public int Worker { get; set; }

    public LivingAloneOptions LivingAlone { get; set; } = new();

    public SilenceOptions Silence { get; set; } = new();

    public Facilities.FacilityOptions Facilities { get; set; } = new();
}

/// <summary>
/// Thresholds of the <c>living_alone_drop</c> detector. Ratios are observed over expected use, summed over the low
/// run; hours count only those in which a meter's expected use is informative (see <see cref="InformativeShare"/>).
/// </summary>
public sealed class LivingAloneOptions
{
    /// <summary>A deep drop: both meters at most this share of expected over the run. Quick to raise.</summary>
    public double DeepRatio { get; set; } = 0.15;

    /// <summary>Informative hours of a deep drop before it is raised (per meter; a run judged on one meter needs twice as many).</summary>
    public int DeepHours { get; set; } = 3;

    /// <summary>
    /// Elderly people living alone are checked on sooner: one full informative hour of next to nothing on both meters,
    /// after the last sign of life, already raises (an outing keeps the fridge's base load, well above this ratio).
    /// </summary>
    public int ElderlyDeepHours { get; set; } = 1;

    /// <summary>A milder drop: both meters at most this share of expected, for <see cref="MinLowHours"/>.</summary>
    public double DropRatio { get; set; } = 0.25;

    /// <summary>Informative hours of a milder drop: longer than an outing to the market, so going out is not a drop.</summary>
    public int MinLowHours { get; set; } = 6;

    /// <summary>A milder drop already counts for elderly people living alone.</summary>
    public double ElderlyDropRatio { get; set; } = 0.4;

    /// <summary>Informative hours of a milder drop for elderly people living alone: longer than an outing.</summary>
    public int ElderlyMinLowHours { get; set; } = 4;

    /// <summary>
    /// An hour in which water (or, when water says nothing, electricity) uses at least this share of expected is a sign
    /// of normal life: it ends a low run. An ordinary hour of a small household varies by ±40 %, so this sits below that.
    /// </summary>
    public double NormalRatio { get; set; } = 0.5;

    /// <summary>
    /// After a recognised pass out, water at least this share of expected in an hour says someone is home again (the
    /// pass back in may not have been recognised): judging resumes.
    /// </summary>
    public double HomeRatio { get; set; } = 0.25;

    /// <summary>
    /// An hour counts as evidence for a meter only when its expected use is at least this share of the household's
    /// usual hourly level: at 3 a.m. nobody is expected to use water, so using none says nothing.
    /// </summary>
    public double InformativeShare { get; set; } = 0.3;

    /// <summary>m³ of water expected in an hour below which the hour is not informative, whatever the household (an empty flat).</summary>
    public double MinExpectedWater { get; set; } = 0.001;

    /// <summary>kWh of electricity expected in an hour below which the hour is not informative.</summary>
    public double MinExpectedElectricity { get; set; } = 0.01;

    /// <summary>The water register's resolution (m³): an hour's use is known to one step, 1 litre on most dials.</summary>
    public double WaterRegisterStep { get; set; } = 0.001;

    /// <summary>The electricity register's resolution (kWh).</summary>
    public double ElectricityRegisterStep { get; set; } = 0.01;

    /// <summary>Household-hours a training samples at most (deterministically), which bounds training time for a city.</summary>
    public int MaxTrainingRows { get; set; } = 300_000;
}

/// <summary>Thresholds of the <c>device_silent</c> detector.</summary>
public sealed class SilenceOptions
{
    /// <summary>Usual reporting intervals a device may miss before it counts as silent.</summary>
    public int IntervalsBeforeSilent { get; set; } = 4;

    /// <summary>Absolute floor of a silence, so a device reporting every few seconds does not flap.</summary>
    public TimeSpan MinSilence { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Recent gaps whose median is a device's usual interval: enough to shrug off one burst or one outage.</summary>
    public int RecentGaps { get; set; } = 15;

    /// <summary>Gaps needed before a device's own interval replaces its kind's default.</summary>
    public int MinGapsToLearn { get; set; } = 3;

    public TimeSpan MeterInterval { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>For gates and cameras, which report events rather than a rhythm, this is also the floor of the learned interval.</summary>
    public TimeSpan GateInterval { get; set; } = TimeSpan.FromHours(2);
    public TimeSpan ParkingInterval { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>A camera's floor: most cameras send an online heartbeat at least every minute.</summary>
    public TimeSpan CameraInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Wall-clock period of the silence check when no readings arrive at all.</summary>
    public TimeSpan CheckEvery { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Refuses settings that would make a detector meaningless, at start rather than at the first alert.</summary>
internal sealed class AnalyticsOptionsValidator : IValidateOptions<AnalyticsOptions>
{
    public ValidateOptionsResult Validate(string? name, AnalyticsOptions options)
    {
        var failures = new List<string>();
        if (options.TimeZone is not null && !TimeZoneInfo.TryFindSystemTimeZoneById(options.TimeZone, out _))
            failures.Add($"Analytics:TimeZone (or Sensing:TimeZone, which it falls back to) '{options.TimeZone}' is not a known time zone.");
        if (options.QueueCapacity is < 1 or > 100_000) failures.Add("Analytics:QueueCapacity must be 1..100000.");
        if (options.HistoryDays is < 2 or > 90) failures.Add("Analytics:HistoryDays must be 2..90.");
        if (options.MinHistoryDays < 1 || options.MinHistoryDays >= options.HistoryDays)
            failures.Add("Analytics:MinHistoryDays must be at least 1 and below HistoryDays.");
        if (options.RetrainEvery < TimeSpan.FromHours(1)) failures.Add("Analytics:RetrainEvery must be at least one hour.");
        if (options.EvaluationDelay < TimeSpan.Zero || options.EvaluationDelay >= TimeSpan.FromHours(1))
            failures.Add("Analytics:EvaluationDelay must be 0..1 hour.");
        if (options.Cooldown < TimeSpan.Zero) failures.Add("Analytics:Cooldown must not be negative.");
        if (options.ModelDirectory is not null && string.IsNullOrWhiteSpace(options.ModelDirectory))
            failures.Add("Analytics:ModelDirectory must name a folder.");
        if (options.Workers < 1 || options.Worker < 0 || options.Worker >= options.Workers)
            failures.Add("Analytics:Workers must be at least 1 and Analytics:Worker 0..Workers-1.");

        var living = options.LivingAlone;
        if (living.DeepRatio is <= 0 or >= 1) failures.Add("Analytics:LivingAlone:DeepRatio must be in (0, 1).");
        if (living.DropRatio < living.DeepRatio || living.DropRatio >= 1)
            failures.Add("Analytics:LivingAlone:DropRatio must be in [DeepRatio, 1).");
        if (living.ElderlyDropRatio < living.DropRatio || living.ElderlyDropRatio >= 1)
            failures.Add("Analytics:LivingAlone:ElderlyDropRatio must be in [DropRatio, 1).");
        if (living.NormalRatio <= living.ElderlyDropRatio || living.NormalRatio > 1)
            failures.Add("Analytics:LivingAlone:NormalRatio must be in (ElderlyDropRatio, 1].");
        if (living.HomeRatio <= 0 || living.HomeRatio > living.NormalRatio)
            failures.Add("Analytics:LivingAlone:HomeRatio must be in (0, NormalRatio].");
        if (living.DeepHours < 1 || living.ElderlyDeepHours < 1 || living.ElderlyDeepHours > living.DeepHours)
            failures.Add("Analytics:LivingAlone:DeepHours must be at least 1 and ElderlyDeepHours 1..DeepHours.");
        if (living.MinLowHours < living.DeepHours || living.MinLowHours > 48)
            failures.Add("Analytics:LivingAlone:MinLowHours must be DeepHours..48.");
        if (living.ElderlyMinLowHours < living.ElderlyDeepHours || living.ElderlyMinLowHours > living.MinLowHours)
            failures.Add("Analytics:LivingAlone:ElderlyMinLowHours must be ElderlyDeepHours..MinLowHours.");
        if (living.InformativeShare is < 0 or > 2) failures.Add("Analytics:LivingAlone:InformativeShare must be 0..2.");
        if (living.MinExpectedWater < 0 || living.MinExpectedElectricity < 0)
            failures.Add("Analytics:LivingAlone:MinExpectedWater and MinExpectedElectricity must not be negative.");
        if (living.MaxTrainingRows < 1000) failures.Add("Analytics:LivingAlone:MaxTrainingRows must be at least 1000.");
        if (living.WaterRegisterStep < 0 || living.ElectricityRegisterStep < 0)
            failures.Add("Analytics:LivingAlone:WaterRegisterStep and ElectricityRegisterStep must not be negative.");

        var silence = options.Silence;
        if (silence.IntervalsBeforeSilent < 1) failures.Add("Analytics:Silence:IntervalsBeforeSilent must be at least 1.");
        if (silence.MinSilence < TimeSpan.Zero) failures.Add("Analytics:Silence:MinSilence must not be negative.");
        if (silence.RecentGaps is < 1 or > 1000 || silence.MinGapsToLearn < 1 || silence.MinGapsToLearn > silence.RecentGaps)
            failures.Add("Analytics:Silence:RecentGaps must be 1..1000 and MinGapsToLearn 1..RecentGaps.");
        if (silence.MeterInterval <= TimeSpan.Zero || silence.GateInterval <= TimeSpan.Zero
            || silence.ParkingInterval <= TimeSpan.Zero || silence.CameraInterval <= TimeSpan.Zero)
            failures.Add("Analytics:Silence default intervals must be positive.");
        if (silence.CheckEvery < TimeSpan.FromMilliseconds(10)) failures.Add("Analytics:Silence:CheckEvery must be at least 10 ms.");
        failures.AddRange(options.Facilities.Problems());

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
