using System.Globalization;
using System.Runtime.InteropServices;
using Sensing.Telemetry;

namespace Sensing.Analytics.LivingAlone;

/// <summary>One meter of a household over one hour: how many readings it sent and the use they add up to.</summary>
public readonly record struct MeterHour(long Readings, double Used)
{
    /// <summary>The meter reported: a silent meter says nothing about the household (that is <c>device_silent</c>'s matter), one that reports zero use does.</summary>
    public bool Reported => Readings > 0;
}

/// <summary>The household's recognised gate passes in one hour: how many, and the direction and time of the last.</summary>
public readonly record struct GateHour(int Passes, string? LastDirection, DateTimeOffset LastTime);

/// <summary>One household's complete hour, as the store's window has it.</summary>
public readonly record struct HouseholdHour(string Household, string Community, string? Grid, MeterHour Water, MeterHour Electricity, GateHour Gate);

/// <summary>
/// Raises <c>living_alone_drop</c> when a household's water and electricity both stay far below what the
/// <see cref="WelfareModel"/> expects of it, for long enough: someone who lives alone and suddenly uses neither may have
/// fallen or fallen ill. Judged once per complete hour, in order (the analytics loop does that), it follows each
/// household through its hours:
/// <list type="bullet">
/// <item>A sign of normal life ends any low run: an hour in which a meter uses at least
/// <see cref="LivingAloneOptions.NormalRatio"/> of expected (or, at night, of what would be informative), or a
/// recognised gate pass of the household. The run's onset is the end of the last sign of life, so a fall at 23:00 that
/// only shows when no water runs in the morning still reads "nothing since 23:00".</item>
/// <item>An hour is evidence for a meter only when it is informative: the meter reported, and its expected use is at
/// least <see cref="LivingAloneOptions.InformativeShare"/> of the household's usual hourly level. A silent meter gives no
/// evidence either way; a meter that reports zero use is evidence.</item>
/// <item>A run is raised when, over its informative hours, both meters stay at most
/// <see cref="LivingAloneOptions.DeepRatio"/> of expected for <see cref="LivingAloneOptions.DeepHours"/> hours each, or
/// at most <see cref="LivingAloneOptions.DropRatio"/> for <see cref="LivingAloneOptions.MinLowHours"/> (longer than an
/// outing to the market); elderly people living alone get the milder ratio and the shorter hours. Water must have been
/// informative at least once when the water meter reports (night alone decides nothing); a household judged on one
/// meter (the other silent, or none) needs twice the hours.</item>
/// <item>A recognised pass out of the estate suspends judging until the household is seen again (a pass in, or an hour
/// of normal use): out is not in trouble at home. A household marked away in the registry is not judged, and starts
/// afresh when back.</item>
/// </list>
/// One alert per run (id from household and onset); severity from how deep and how long. Not thread-safe.
/// </summary>
public sealed class LivingAloneDetector
{
    /// <summary>A run's onset is never put further back than this before the hour that started it.</summary>
    private static readonly TimeSpan s_maxLookback = TimeSpan.FromHours(24);
    /// <summary>Hours of evidence an alert carries at most (the latest).</summary>
    private const int EvidenceHours = 24;

    private readonly LivingAloneOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly TimeSpan _raiseDelay;
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    /// <param name="raiseDelay">How long after an hour's end it is judged (the loop's lateness): the alert is raised then, in event time.</param>
    public LivingAloneDetector(LivingAloneOptions options, TimeZoneInfo zone, TimeSpan raiseDelay)
    {
        _options = options;
        _zone = zone;
        _raiseDelay = raiseDelay;
    }

    /// <summary>Households followed so far.</summary>
    public int Tracked => _states.Count;

    /// <summary>When set, every hour judged for the <see cref="TracedHouseholds"/> is described here (the evaluation's <c>--trace</c>).</summary>
    public Action<string>? Trace { get; set; }

    public IReadOnlySet<string>? TracedHouseholds { get; set; }

    /// <summary>
    /// Judges the hour starting at <paramref name="hour"/> for every household in <paramref name="households"/> (those
    /// with no reading at all in the hour are simply not in it: nothing changes for them). Returns the alerts of runs
    /// that cross a threshold now, in household order.
    /// </summary>
    public IReadOnlyList<Alert> Judge(
        DateTimeOffset hour,
        IEnumerable<HouseholdHour> households,
        WelfareModel model,
        Func<string, Household?> findHousehold,
        Func<string, DateTimeOffset, bool> isAway)
    {
        hour = hour.ToUniversalTime();
        var local = TimeZoneInfo.ConvertTime(hour, _zone);
        var clock = new HourClock(hour, local.Hour, local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday);
        // States are found (or made) one by one, then households are judged side by side when there are many: each
        // touches only its own state, and the alerts come back in household order whatever the scheduling.
        var work = new List<(HouseholdHour Observed, HouseholdProfile Profile, State State)>(households.TryGetNonEnumeratedCount(out var count) ? count : 0);
        foreach (var observed in households)
        {
            if (model.Profile(observed.Household) is not { } profile) continue;
            ref var state = ref CollectionsMarshal.GetValueRefOrAddDefault(_states, observed.Household, out _);
            state ??= new State { LastSign = hour };
            work.Add((observed, profile, state));
        }
        var raised = new Alert?[work.Count];
        if (work.Count >= ParallelFrom && Trace is null)
        {
            Parallel.For(0, work.Count, i => raised[i] = JudgeOne(work[i].Observed, work[i].Profile, work[i].State, clock, model, findHousehold, isAway));
        }
        else
        {
            for (var i = 0; i < work.Count; i++)
                raised[i] = JudgeOne(work[i].Observed, work[i].Profile, work[i].State, clock, model, findHousehold, isAway);
        }
        List<Alert>? alerts = null;
        foreach (var alert in raised)
            if (alert is not null) (alerts ??= []).Add(alert);
        alerts?.Sort((a, b) => string.CompareOrdinal(a.Household, b.Household));
        return alerts ?? (IReadOnlyList<Alert>)[];
    }

    /// <summary>Households per hour from which judging is spread over the cores (a community of thousands).</summary>
    private const int ParallelFrom = 4096;

    private Alert? JudgeOne(HouseholdHour observed, HouseholdProfile profile, State state, HourClock clock, WelfareModel model,
        Func<string, Household?> findHousehold, Func<string, DateTimeOffset, bool> isAway)
    {
        var hour = clock.Hour;
        var end = hour.AddHours(1);
        var household = findHousehold(observed.Household);
        var elderly = household?.ElderlyLivingAlone ?? false;
        if (isAway(observed.Household, hour) || isAway(observed.Household, end.AddTicks(-1)))
        {
            // Away ends everything: coming back and then going quiet is a new story.
            state.Reset(end);
            state.OutSince = null;
            return null;
        }
        if (observed.Gate.Passes > 0)
        {
            state.Reset(observed.Gate.LastTime > state.LastSign ? observed.Gate.LastTime : state.LastSign);
            state.OutSince = observed.Gate.LastDirection == "out" ? observed.Gate.LastTime : null;
            state.LastPass = (observed.Gate.LastDirection, observed.Gate.LastTime);
            return null;
        }

        var water = Look(profile, Meter.Water, observed.Water, elderly, clock, model);
        var electricity = Look(profile, Meter.Electricity, observed.Electricity, elderly, clock, model);
        if (Trace is not null && TracedHouseholds?.Contains(observed.Household) == true)
        {
            Trace(string.Create(CultureInfo.InvariantCulture,
                $"{observed.Household} {TimeZoneInfo.ConvertTime(hour, _zone):MM-dd HH:mm} {model.Describe(profile, elderly, hour, _zone)} water {water.Observed:0.0000}/{water.Expected:0.0000}{(water.Informative ? " inf" : "")}{(water.Normal ? " normal" : "")} electricity {electricity.Observed:0.000}/{electricity.Expected:0.000}{(electricity.Informative ? " inf" : "")}{(electricity.Normal ? " normal" : "")} out {state.OutSince:HH:mm} run {(state.Run is { } r ? $"{TimeZoneInfo.ConvertTime(r.Start, _zone):MM-dd HH:mm} W {r.ObservedWater:0.000}/{r.ExpectedWater:0.000} ({r.WaterHours}) E {r.ObservedElectricity:0.00}/{r.ExpectedElectricity:0.00} ({r.ElectricityHours})" : "-")}"));
        }
        // Gone out through a gate and not seen since: not at home, so not in trouble at home. Only running water
        // (or a pass in) says they are back: a fridge keeps electricity going whether anyone is home or not. Back home,
        // the hour they came back in is their last sign of life.
        if (state.OutSince is not null)
        {
            if (!water.Home) return null;
            state.OutSince = null;
            state.Reset(end);
            return null;
        }
        // Water is the behavioural signal and decides when it can; electricity (a fridge, a television left on) only
        // when water says nothing this hour.
        if (water.Informative ? water.Normal : water.Normal || electricity.Normal)
        {
            state.Reset(end);
            return null;
        }

        if (state.Run is null)
        {
            // Only an informative hour starts a run: a quiet night by itself is no news.
            if (!water.Informative && !electricity.Informative) return null;
            var start = state.LastSign < hour - s_maxLookback ? hour - s_maxLookback : state.LastSign;
            state.Run = new Run(start);
        }
        var run = state.Run;
        run.Add(hour, water, electricity);
        if (run.Alerted) return null;
        if (Raise(run, elderly) is not { } tier) return null;
        run.Alerted = true;
        return Alert(observed, household, elderly, run, end, tier, state.LastPass);
    }

    /// <summary>The hour judged, in UTC and on the households' local clock (worked out once per hour, not per household).</summary>
    private readonly record struct HourClock(DateTimeOffset Hour, int LocalHour, bool Weekend);

    private MeterLook Look(HouseholdProfile profile, Meter meter, MeterHour observed, bool elderly, HourClock clock, WelfareModel model)
    {
        if (!observed.Reported || profile.Of(meter) is not { } usual) return new MeterLook(observed.Reported, false, false, float.NaN, observed.Used, false);
        var expected = model.Expect(profile, usual, meter, elderly, clock.LocalHour, clock.Weekend);
        var floor = Math.Max(meter == Meter.Water ? _options.MinExpectedWater : _options.MinExpectedElectricity, _options.InformativeShare * usual.Level);
        var informative = expected >= floor;
        // An hour's use is known to one register step (the dial's last digit), which for a small household is a good
        // share of an hour: it must not pass for a sign of life on its own. At night expected use is below what is
        // informative, yet a flush at 3 a.m. is a sign of life all the same.
        var step = meter == Meter.Water ? _options.WaterRegisterStep : _options.ElectricityRegisterStep;
        var normal = observed.Used - step >= _options.NormalRatio * Math.Max(expected, floor);
        var home = observed.Used - step >= _options.HomeRatio * Math.Max(expected, floor);
        return new MeterLook(true, informative, normal, expected, observed.Used, home);
    }

    /// <summary>
    /// Whether the run is raised now, and how. Judged over every stretch of its latest hours (not only the whole run):
    /// the hour in which someone fell is half normal, and must not hold back what the hours after it say.
    /// </summary>
    private Tier? Raise(Run run, bool elderly)
    {
        var deepHours = elderly ? _options.ElderlyDeepHours : _options.DeepHours;
        var dropHours = elderly ? _options.ElderlyMinLowHours : _options.MinLowHours;
        var dropRatio = elderly ? _options.ElderlyDropRatio : _options.DropRatio;
        Tier? found = null;
        var sums = new RunSums();
        for (var i = run.Hours.Count - 1; i >= 0; i--)
        {
            sums.Add(run.Hours[i]);
            // Water is the behavioural signal: when its meter reports, the stretch must hold an informative hour of it
            // (a night of electricity alone decides nothing, and a power cut is not a fall). A household judged on one
            // meter needs twice the hours.
            if (run.WaterReported && sums.WaterHours == 0) continue;
            if (sums.Meets(_options.DeepRatio, deepHours)) return Tier.Deep;
            if (found is null && sums.Meets(dropRatio, dropHours)) found = Tier.Drop;
        }
        return found;
    }

    private Alert Alert(HouseholdHour observed, Household? household, bool elderly, Run run, DateTimeOffset end, Tier tier, (string? Direction, DateTimeOffset Time)? lastPass)
    {
        var waterShare = run.WaterHours > 0 ? run.ObservedWater / run.ExpectedWater : double.NaN;
        var electricityShare = run.ElectricityHours > 0 ? run.ObservedElectricity / run.ExpectedElectricity : double.NaN;
        var worst = Math.Max(double.IsNaN(waterShare) ? 0 : waterShare, double.IsNaN(electricityShare) ? 0 : electricityShare);
        var depth = 1 - worst;
        var quiet = end - run.Start;
        // How far and how long: next to nothing for hours (or for an elderly person alone) is the picture of a fall;
        // a long milder drop is serious too.
        var severity = (depth >= 0.85 && (quiet >= TimeSpan.FromHours(6) || elderly)) || quiet >= TimeSpan.FromHours(12)
            ? AlertSeverity.Critical
            : AlertSeverity.Warning;

        var points = new List<EvidencePoint>(2 * EvidenceHours);
        foreach (var h in run.Hours.Skip(Math.Max(0, run.Hours.Count - EvidenceHours)))
        {
            if (!float.IsNaN(h.ExpectedWater)) points.Add(new EvidencePoint(h.Hour, Metrics.WaterConsumption, Round(h.ExpectedWater), Round(h.ObservedWater)));
            if (!float.IsNaN(h.ExpectedElectricity)) points.Add(new EvidencePoint(h.Hour, Metrics.ElectricityConsumption, Round(h.ExpectedElectricity), Round(h.ObservedElectricity)));
        }
        var text = new System.Text.StringBuilder();
        if (run.WaterHours > 0)
            text.Append(CultureInfo.InvariantCulture, $"Water {run.ObservedWater * 1000:0.#} L of {run.ExpectedWater * 1000:0.#} L expected ({waterShare:0%})");
        if (run.ElectricityHours > 0)
            text.Append(text.Length > 0 ? " and electricity " : "Electricity ")
                .Append(CultureInfo.InvariantCulture, $"{run.ObservedElectricity:0.##} kWh of {run.ExpectedElectricity:0.##} kWh expected ({electricityShare:0%})");
        text.Append(CultureInfo.InvariantCulture, $" over {Math.Max(run.WaterHours, run.ElectricityHours)} h of usual activity");
        if (run.WaterHours == 0 || run.ElectricityHours == 0) text.Append(" (one meter only: the other is silent)");
        text.Append(CultureInfo.InvariantCulture, $"; no sign of normal life since {TimeZoneInfo.ConvertTime(run.Start, _zone):MM-dd HH:mm} ({quiet.TotalHours:0} h)");
        if (lastPass is { } pass)
            text.Append(CultureInfo.InvariantCulture, $"; last recognised gate pass: {pass.Direction} at {TimeZoneInfo.ConvertTime(pass.Time, _zone):MM-dd HH:mm}");
        text.Append(tier == Tier.Deep ? "." : " (a milder drop, sustained).");

        return new Alert
        {
            Id = Telemetry.Alert.MakeId(AlertKinds.LivingAloneDrop, observed.Household, run.Start),
            Kind = AlertKinds.LivingAloneDrop,
            Severity = severity,
            Community = household?.Community ?? observed.Community,
            Grid = household is null ? observed.Grid : household.Grid,
            Household = observed.Household,
            StartedAt = run.Start,
            RaisedAt = end + _raiseDelay,
            Evidence = new AlertEvidence(text.ToString(), points),
        };
    }

    private static double Round(float value) => Math.Round(value, 4);

    private enum Tier { Deep, Drop }

    /// <summary>What one meter's hour says: reported, informative, a sign of normal life, someone home; expected and observed use.</summary>
    private readonly record struct MeterLook(bool Reported, bool Informative, bool Normal, float Expected, double Observed, bool Home);

    private sealed class State
    {
        /// <summary>End of the last sign of normal life (an hour of normal use, a gate pass, the return from away).</summary>
        public DateTimeOffset LastSign;
        /// <summary>Time of a recognised pass out not yet followed by a sign of the household at home.</summary>
        public DateTimeOffset? OutSince;
        public (string? Direction, DateTimeOffset Time)? LastPass;
        public Run? Run;

        public void Reset(DateTimeOffset lastSign)
        {
            Run = null;
            LastSign = lastSign;
        }
    }

    private sealed class Run(DateTimeOffset start)
    {
        private const int KeptHours = 48;

        public DateTimeOffset Start { get; } = start;
        public List<RunHour> Hours { get; } = [];
        public bool Alerted { get; set; }
        public bool WaterReported { get; private set; }
        public int WaterHours { get; private set; }
        public int ElectricityHours { get; private set; }
        public double ExpectedWater { get; private set; }
        public double ObservedWater { get; private set; }
        public double ExpectedElectricity { get; private set; }
        public double ObservedElectricity { get; private set; }

        public void Add(DateTimeOffset hour, MeterLook water, MeterLook electricity)
        {
            WaterReported |= water.Reported;
            if (water.Informative)
            {
                WaterHours++;
                ExpectedWater += water.Expected;
                ObservedWater += water.Observed;
            }
            if (electricity.Informative)
            {
                ElectricityHours++;
                ExpectedElectricity += electricity.Expected;
                ObservedElectricity += electricity.Observed;
            }
            if (Hours.Count == KeptHours) Hours.RemoveAt(0);
            Hours.Add(new RunHour(hour,
                water.Reported ? water.Expected : float.NaN, (float)water.Observed, water.Informative,
                electricity.Reported ? electricity.Expected : float.NaN, (float)electricity.Observed, electricity.Informative));
        }
    }

    private readonly record struct RunHour(
        DateTimeOffset Hour, float ExpectedWater, float ObservedWater, bool WaterInformative,
        float ExpectedElectricity, float ObservedElectricity, bool ElectricityInformative);

    /// <summary>Expected and observed use over the informative hours of a stretch of a run.</summary>
    private struct RunSums
    {
        public int WaterHours, ElectricityHours;
        public double ExpectedWater, ObservedWater, ExpectedElectricity, ObservedElectricity;

        public void Add(RunHour hour)
        {
            if (hour.WaterInformative)
            {
                WaterHours++;
                ExpectedWater += hour.ExpectedWater;
                ObservedWater += hour.ObservedWater;
            }
            if (hour.ElectricityInformative)
            {
                ElectricityHours++;
                ExpectedElectricity += hour.ExpectedElectricity;
                ObservedElectricity += hour.ObservedElectricity;
            }
        }

        public readonly bool Meets(double ratio, int hours) =>
            WaterHours + ElectricityHours >= 2 * hours
            && (WaterHours == 0 || ObservedWater <= ratio * ExpectedWater)
            && (ElectricityHours == 0 || ObservedElectricity <= ratio * ExpectedElectricity);
    }
}
