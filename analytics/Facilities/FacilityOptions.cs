using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// Thresholds of the facility detectors, bound to <c>Analytics:Facilities</c>. Every default is argued where it is
/// declared; the JSON shape:
/// <code>
/// "Facilities": {
///   "WaterLeak": { "NightStart": "01:00:00", "NightEnd": "05:00:00", "MinNightFlow": 0.01, "MaxExcusedNightFlow": 0.03,
///                  "BaselineFactor": 2, "NightsToLearn": 3, "RecentNights": 14, "MaxInterval": "01:00:00",
///                  "BurstFlow": 0.3, "BurstDuration": "02:00:00", "CriticalFlow": 0.1, "Cooldown": "12:00:00" },
///   "Parking":   { "FullFreeSpaces": 0, "FullFreeShare": 0.02, "FullFor": "00:10:00", "Cooldown": "01:00:00",
///                  "Overstays": [ { "Spaces": "fire*", "Limit": "00:15:00", "Severity": "Critical" },
///                                 { "Spaces": "V*", "Limit": "1.00:00:00" } ] },
///   "Gate":      { "Cooldown": "00:30:00", "NightStart": "00:00:00", "NightEnd": "05:00:00", "MinNightPasses": 10,
///                  "NightSigmas": 6, "NightsToLearn": 3, "RecentNights": 14 },
///   "Camera":    { "CrowdThreshold": 30, "CrowdThresholds": { "square": 80 }, "CrowdFor": "00:03:00", "CrowdGap": "00:02:00",
///                  "Cooldown": "00:15:00", "PatternDays": 14, "PatternMinDays": 3, "PatternFactor": 1.5, "MinScore": 0 }
/// }
/// </code>
/// </summary>
public sealed class FacilityOptions
{
    public WaterLeakOptions WaterLeak { get; set; } = new();
    public ParkingOptions Parking { get; set; } = new();
    public GateOptions Gate { get; set; } = new();
    public CameraOptions Camera { get; set; } = new();

    /// <summary>Every setting that would make a detector meaningless, named by its configuration key.</summary>
    public IEnumerable<string> Problems()
    {
        const string Prefix = "Analytics:Facilities:";
        var leak = WaterLeak;
        if (!IsTimeOfDay(leak.NightStart) || !IsTimeOfDay(leak.NightEnd) || leak.NightStart == leak.NightEnd)
            yield return Prefix + "WaterLeak:NightStart and NightEnd must be different times of day (00:00:00..23:59:59).";
        if (leak.MinNightFlow <= 0 || leak.MaxExcusedNightFlow < leak.MinNightFlow)
            yield return Prefix + "WaterLeak:MinNightFlow must be positive and MaxExcusedNightFlow at least MinNightFlow.";
        if (leak.BaselineFactor < 1) yield return Prefix + "WaterLeak:BaselineFactor must be at least 1.";
        if (leak.NightsToLearn < 1 || leak.RecentNights < leak.NightsToLearn || leak.RecentNights > 90)
            yield return Prefix + "WaterLeak:NightsToLearn must be 1..RecentNights and RecentNights at most 90.";
        if (leak.MaxInterval <= TimeSpan.Zero) yield return Prefix + "WaterLeak:MaxInterval must be positive.";
        if (leak.BurstFlow <= 0 || leak.BurstDuration <= TimeSpan.Zero)
            yield return Prefix + "WaterLeak:BurstFlow and BurstDuration must be positive.";
        if (leak.CriticalFlow <= 0) yield return Prefix + "WaterLeak:CriticalFlow must be positive.";
        if (leak.Cooldown < TimeSpan.Zero) yield return Prefix + "WaterLeak:Cooldown must not be negative.";

        var parking = Parking;
        if (parking.FullFreeSpaces < 0 || parking.FullFreeShare is < 0 or >= 1)
            yield return Prefix + "Parking:FullFreeSpaces must not be negative and FullFreeShare must be in [0, 1).";
        if (parking.FullFor < TimeSpan.Zero || parking.Cooldown < TimeSpan.Zero)
            yield return Prefix + "Parking:FullFor and Cooldown must not be negative.";
        for (var i = 0; i < parking.Overstays.Count; i++)
        {
            var rule = parking.Overstays[i];
            if (string.IsNullOrWhiteSpace(rule.Spaces) || rule.Limit <= TimeSpan.Zero)
                yield return $"{Prefix}Parking:Overstays:{i} needs a Spaces pattern and a positive Limit.";
        }

        var gate = Gate;
        if (gate.Cooldown < TimeSpan.Zero) yield return Prefix + "Gate:Cooldown must not be negative.";
        if (!IsTimeOfDay(gate.NightStart) || !IsTimeOfDay(gate.NightEnd) || gate.NightStart == gate.NightEnd)
            yield return Prefix + "Gate:NightStart and NightEnd must be different times of day (00:00:00..23:59:59).";
        if (gate.MinNightPasses < 1 || gate.NightSigmas <= 0)
            yield return Prefix + "Gate:MinNightPasses must be at least 1 and NightSigmas positive.";
        if (gate.NightsToLearn < 1 || gate.RecentNights < gate.NightsToLearn || gate.RecentNights > 90)
            yield return Prefix + "Gate:NightsToLearn must be 1..RecentNights and RecentNights at most 90.";

        var camera = Camera;
        if (camera.CrowdThreshold < 1 || camera.CrowdThresholds.Values.Any(t => t < 1))
            yield return Prefix + "Camera:CrowdThreshold and every CrowdThresholds entry must be at least 1.";
        if (camera.CrowdFor < TimeSpan.Zero || camera.CrowdGap <= TimeSpan.Zero || camera.Cooldown < TimeSpan.Zero)
            yield return Prefix + "Camera:CrowdFor and Cooldown must not be negative, CrowdGap must be positive.";
        if (camera.PatternMinDays < 1 || camera.PatternDays < camera.PatternMinDays || camera.PatternDays > 90 || camera.PatternFactor < 1)
            yield return Prefix + "Camera:PatternMinDays must be 1..PatternDays (at most 90) and PatternFactor at least 1.";
        if (camera.MinScore is < 0 or > 1) yield return Prefix + "Camera:MinScore must be in [0, 1].";
    }

    private static bool IsTimeOfDay(TimeSpan time) => time >= TimeSpan.Zero && time < TimeSpan.FromDays(1);
}

/// <summary>Thresholds of <c>water_leak</c>. Flows are m³ per hour.</summary>
public sealed class WaterLeakOptions
{
    /// <summary>Local time the night window opens: by 01:00 the last shower and dishwasher have run.</summary>
    public TimeSpan NightStart { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Local time the night window closes (before the early risers' 05:30 kettle); may be earlier than the start to span midnight.</summary>
    public TimeSpan NightEnd { get; set; } = TimeSpan.FromHours(5);

    /// <summary>
    /// The lowest night flow that counts as "never stopped": 10 L/h, i.e. 2.5 L in every quarter hour. Meters
    /// resolve a litre, so a household that merely sips at night (a glass of water, 3 L/h on average) shows empty
    /// quarter hours and stays below it, while a running toilet (≥ 20 L/h) does not.
    /// </summary>
    public double MinNightFlow { get; set; } = 0.01;

    /// <summary>
    /// The most a household's own nights can excuse: a slow-filling tank or an aquarium pump that runs every night
    /// raises its floor, but a continuous 30 L/h all night is a leak whatever the history. Also the floor used
    /// before a household has <see cref="NightsToLearn"/> clean nights, so a new meter never cries wolf.
    /// </summary>
    public double MaxExcusedNightFlow { get; set; } = 0.03;

    /// <summary>A household's floor is its usual lowest night flow times this, kept between the two flows above.</summary>
    public double BaselineFactor { get; set; } = 2;

    /// <summary>Clean nights needed before the household's own floor replaces <see cref="MaxExcusedNightFlow"/>.</summary>
    public int NightsToLearn { get; set; } = 3;

    /// <summary>Clean nights remembered per meter; the floor is their median.</summary>
    public int RecentNights { get; set; } = 14;

    /// <summary>A longer gap between readings says nothing about whether water flowed without a break (the meter was silent).</summary>
    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A burst pipe at any hour: at least this flow (300 L/h, more than any tap left running)…</summary>
    public double BurstFlow { get; set; } = 0.3;

    /// <summary>…for this long without a break (a bath fills in 15 minutes; nothing domestic runs at that rate for two hours).</summary>
    public TimeSpan BurstDuration { get; set; } = TimeSpan.FromHours(2);

    /// <summary>A night leak whose lowest flow is at least this (100 L/h, 2.4 m³ a day) is critical.</summary>
    public double CriticalFlow { get; set; } = 0.1;

    /// <summary>At most one leak alert per meter in this long, whatever the rules find.</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromHours(12);
}

/// <summary>Thresholds of <c>parking_full</c> and <c>parking_overstay</c>.</summary>
public sealed class ParkingOptions
{
    /// <summary>
    /// A lot counts as full with at most this many spaces free (none: a small residents' lot with its last space free
    /// every night is not full)…
    /// </summary>
    public int FullFreeSpaces { get; set; }

    /// <summary>…or at most this share of its capacity (2 %: the last few spaces of a big lot are never findable).</summary>
    public double FullFreeShare { get; set; } = 0.02;

    /// <summary>How long a lot must stay full before it is an alert: a lot full for two minutes at the evening peak is not.</summary>
    public TimeSpan FullFor { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>A lot that keeps filling up again within this long is one alert, not one per refill.</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long spaces of a class may be occupied; the first rule whose pattern matches a space applies. Spaces no rule matches are never overstayed (a resident's own space).</summary>
    public List<OverstayRule> Overstays { get; set; } = [];
}

/// <summary>One class of parking spaces with its time limit.</summary>
public sealed class OverstayRule
{
    /// <summary>Space label pattern, <c>*</c> matching any run of characters (<c>fire*</c>, <c>V-*</c>, <c>*</c>).</summary>
    public string Spaces { get; set; } = "";

    /// <summary>Optional device pattern, to give one lot's spaces their own limit.</summary>
    public string? Devices { get; set; }

    public TimeSpan Limit { get; set; }

    public AlertSeverity Severity { get; set; } = AlertSeverity.Warning;
}

/// <summary>Thresholds of <c>gate_forced</c>, <c>gate_held_open</c> and <c>gate_night_activity</c>.</summary>
public sealed class GateOptions
{
    /// <summary>A gate's forced or held-open events within this long of the previous one are the same episode (a flapping door sensor).</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Local time the gate's night opens.</summary>
    public TimeSpan NightStart { get; set; } = TimeSpan.Zero;

    /// <summary>Local time the gate's night closes (the first shift workers leave after 05:00).</summary>
    public TimeSpan NightEnd { get; set; } = TimeSpan.FromHours(5);

    /// <summary>Never fewer passes than this make a night unusual, however quiet the gate usually is.</summary>
    public int MinNightPasses { get; set; } = 10;

    /// <summary>
    /// Passes are counts: a night is unusual beyond its usual count plus this many Poisson standard deviations
    /// (√usual). Six keeps a gate that sees 30 passes a night quiet up to about 63, so a weekend or a late train is
    /// not an alarm, while a party or a break-in at a quiet gate is.
    /// </summary>
    public double NightSigmas { get; set; } = 6;

    /// <summary>Nights needed before a gate's nights are judged at all.</summary>
    public int NightsToLearn { get; set; } = 3;

    /// <summary>Nights remembered per gate; the usual count is their median.</summary>
    public int RecentNights { get; set; } = 14;
}

/// <summary>Thresholds of <c>camera_event</c>.</summary>
public sealed class CameraOptions
{
    /// <summary>Head count from which a crowd is reported, in a zone without its own threshold (the contract's example, 37 at the east gate, is one).</summary>
    public int CrowdThreshold { get; set; } = 30;

    /// <summary>Per-zone thresholds (a square holds more people than a corridor).</summary>
    public Dictionary<string, int> CrowdThresholds { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A crowd must last this long: people streaming through a gate for a minute are not one.</summary>
    public TimeSpan CrowdFor { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Crowd reports further apart than this are two crowds, not one that lasted.</summary>
    public TimeSpan CrowdGap { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A camera's events of one kind in one zone within this long of the previous are one alert (fire is reported every few seconds while it burns).</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Days of crowd counts remembered per zone, to learn crowds that come every day at the same hour.</summary>
    public int PatternDays { get; set; } = 14;

    /// <summary>Days of history needed before a daily crowd raises its hour's threshold.</summary>
    public int PatternMinDays { get; set; } = 3;

    /// <summary>
    /// A zone crowded at some hour on most days (the morning rush at the east gate) has that hour's threshold raised to
    /// its usual crowd times this: the daily rush stays quiet, a crowd half again as big does not.
    /// </summary>
    public double PatternFactor { get; set; } = 1.5;

    /// <summary>Detections whose <c>score</c> attribute is below this are ignored (0: every detection counts).</summary>
    public double MinScore { get; set; }
}
