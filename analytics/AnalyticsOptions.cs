using Microsoft.Extensions.Options;

namespace Sensing.Analytics;

/// <summary>
/// Settings of the analytics stage, bound to the configuration section <c>Analytics</c>.
/// <code>
/// "Analytics": {
///   "TimeZone": "Asia/Shanghai",          // default: Sensing:TimeZone, else Asia/Shanghai
///   "QueueCapacity": 256,
///   "HistoryDays": 14,
///   "MinHistoryDays": 3,
///   "RetrainEvery": "1.00:00:00",
///   "EvaluationDelay": "00:05:00",
///   "LivingAlone": {
///     "WindowHours": 6, "MinLowHours": 4, "ElderlyMinLowHours": 3,
///     "DropRatio": 0.25, "ElderlyDropRatio": 0.4,
///     "MinExpectedWater": 0.03, "MinExpectedElectricity": 0.5
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

    /// <summary>Days of hourly consumption fetched per meter for training and for each household's usual profile.</summary>
    public int HistoryDays { get; set; } = 14;

    /// <summary>Days of history needed before the model is trained and a household is judged.</summary>
    public int MinHistoryDays { get; set; } = 3;

    /// <summary>Event time between two trainings of the expected-consumption model.</summary>
    public TimeSpan RetrainEvery { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How far the watermark must pass an hour's end before that hour counts as complete: meters of
    /// different households are not perfectly in step, and a reading a minute late must still land in its hour.
    /// </summary>
    public TimeSpan EvaluationDelay { get; set; } = TimeSpan.FromMinutes(5);

    public LivingAloneOptions LivingAlone { get; set; } = new();

    public SilenceOptions Silence { get; set; } = new();

    public Facilities.FacilityOptions Facilities { get; set; } = new();
}

/// <summary>Thresholds of the <c>living_alone_drop</c> detector.</summary>
public sealed class LivingAloneOptions
{
    /// <summary>Hours judged together: long enough that a nap or an outing to the market does not look like a drop.</summary>
    public int WindowHours { get; set; } = 6;

    /// <summary>The drop must be current: this many trailing hours of the window are each low on both meters.</summary>
    public int MinLowHours { get; set; } = 4;

    /// <summary>Elderly people living alone are checked on sooner.</summary>
    public int ElderlyMinLowHours { get; set; } = 3;

    /// <summary>Observed below this share of expected, on both water and electricity, counts as a drop.</summary>
    public double DropRatio { get; set; } = 0.25;

    /// <summary>A milder drop already counts for elderly people living alone.</summary>
    public double ElderlyDropRatio { get; set; } = 0.4;

    /// <summary>m³ of water expected over the window below which the window is not judged (night, a frugal household).</summary>
    public double MinExpectedWater { get; set; } = 0.03;

    /// <summary>kWh of electricity expected over the window below which the window is not judged.</summary>
    public double MinExpectedElectricity { get; set; } = 0.5;
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

        var living = options.LivingAlone;
        if (living.WindowHours is < 2 or > 24) failures.Add("Analytics:LivingAlone:WindowHours must be 2..24.");
        if (living.MinLowHours < 1 || living.MinLowHours > living.WindowHours)
            failures.Add("Analytics:LivingAlone:MinLowHours must be 1..WindowHours.");
        if (living.ElderlyMinLowHours < 1 || living.ElderlyMinLowHours > living.MinLowHours)
            failures.Add("Analytics:LivingAlone:ElderlyMinLowHours must be 1..MinLowHours.");
        if (living.DropRatio is <= 0 or >= 1) failures.Add("Analytics:LivingAlone:DropRatio must be in (0, 1).");
        if (living.ElderlyDropRatio < living.DropRatio || living.ElderlyDropRatio >= 1)
            failures.Add("Analytics:LivingAlone:ElderlyDropRatio must be in [DropRatio, 1).");
        if (living.MinExpectedWater < 0 || living.MinExpectedElectricity < 0)
            failures.Add("Analytics:LivingAlone:MinExpectedWater and MinExpectedElectricity must not be negative.");

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
