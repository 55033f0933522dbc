namespace Sensing.Analytics.LivingAlone;

/// <summary>Which meter: the welfare detector judges water and electricity, in this order wherever there are two of something.</summary>
public enum Meter { Water = 0, Electricity = 1 }

/// <summary>Day types a household's usual day is learned for; <see cref="All"/> pools them.</summary>
internal enum DayType { Weekday = 0, Weekend = 1, All = 2 }

/// <summary>
/// A household's usual day for one meter: its usual hourly level (the mean of its hour-of-day medians), its usual
/// share of that level at each local hour on weekdays, at weekends and over all days (NaN where the history has no
/// such hour), and its last week over the usual level. Medians, because the history may itself hold a trip or an
/// earlier drop that must not lower what counts as usual.
/// </summary>
public sealed class MeterProfile
{
    internal MeterProfile(float level, float recent, float[] shares)
    {
        Level = level;
        Recent = recent;
        Shares = shares;
    }

    /// <summary>Usual use per hour (m³ or kWh).</summary>
    public float Level { get; }

    /// <summary>The last week's days over the usual level (median): 0.8 in a cooling autumn.</summary>
    public float Recent { get; }

    /// <summary>3 × 24 shares: weekday, weekend, all days (see <see cref="DayType"/>), by local hour.</summary>
    internal float[] Shares { get; }

    internal float Share(DayType type, int hour) => Shares[(int)type * 24 + hour];
}

/// <summary>What the model knows of one household: days of history and the usual day of each meter it has.</summary>
public sealed class HouseholdProfile(string household, float days, MeterProfile? water, MeterProfile? electricity)
{
    public string Household { get; } = household;

    /// <summary>Days of history the profile was learned from (local days with most hours known).</summary>
    public float Days { get; } = days;

    public MeterProfile? Water { get; } = water;
    public MeterProfile? Electricity { get; } = electricity;

    public MeterProfile? Of(Meter meter) => meter == Meter.Water ? Water : Electricity;
}

/// <summary>
/// The population's usual day: per kind of household (elderly living alone or not), meter, day type and local hour,
/// the median of the households' shares. A household with little history of its own is expected to follow it.
/// </summary>
public sealed class PopulationPrior
{
    // [elderly][meter][day type][hour]
    private readonly float[] _shares;

    internal PopulationPrior(float[] shares) => _shares = shares;

    internal static int Index(bool elderly, Meter meter, DayType type, int hour) => (((elderly ? 1 : 0) * 2 + (int)meter) * 3 + (int)type) * 24 + hour;

    internal float Share(bool elderly, Meter meter, DayType type, int hour)
    {
        var share = _shares[Index(elderly, meter, type, hour)];
        // A day type nobody has lived through yet (the first weekend after a start on a Monday) is the population's
        // day over all days: a flat day would expect an ordinary hour's use at 3 a.m. and, blended into a cold-start
        // household's usual day, turn its first quiet weekend night into a "drop".
        if (float.IsNaN(share)) share = _shares[Index(elderly, meter, DayType.All, hour)];
        // A population without elderly households (or without any) still has the other kind's day, else a flat one.
        if (float.IsNaN(share)) share = _shares[Index(!elderly, meter, type, hour)];
        if (float.IsNaN(share)) share = _shares[Index(!elderly, meter, DayType.All, hour)];
        return float.IsNaN(share) ? 1f : share;
    }

    internal float[] Raw => _shares;

    internal static PopulationPrior From(IEnumerable<(bool Elderly, HouseholdProfile Profile)> households)
    {
        var values = new List<float>[2 * 2 * 3 * 24];
        for (var i = 0; i < values.Length; i++) values[i] = [];
        foreach (var (elderly, profile) in households)
        {
            foreach (var meter in new[] { Meter.Water, Meter.Electricity })
            {
                if (profile.Of(meter) is not { } usual) continue;
                for (var type = 0; type < 3; type++)
                {
                    for (var hour = 0; hour < 24; hour++)
                    {
                        var share = usual.Share((DayType)type, hour);
                        if (!float.IsNaN(share)) values[Index(elderly, meter, (DayType)type, hour)].Add(share);
                    }
                }
            }
        }
        var shares = new float[values.Length];
        for (var i = 0; i < shares.Length; i++) shares[i] = Median(values[i]);
        return new PopulationPrior(shares);
    }

    internal static float Median(List<float> values)
    {
        if (values.Count == 0) return float.NaN;
        values.Sort();
        var mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }
}

/// <summary>
/// Hourly use of one household's meter over a stretch of hours (index 0 = <see cref="HourAxis.From"/>); NaN where the
/// meter did not report. The hour after a gap is NaN too: its reading carries the whole gap's use, so it is not an
/// hour's use (it is still a sign the meter lives, which the detector takes from the window, not from here).
/// </summary>
internal static class UsageSeries
{
    public static void MarkGapLumps(float[] series)
    {
        for (var i = series.Length - 1; i > 0; i--)
        {
            if (float.IsNaN(series[i - 1])) series[i] = float.NaN;
        }
    }
}

/// <summary>
/// The local calendar of a stretch of whole UTC hours: each hour's local hour of day, local day and day type, worked
/// out once for every household of a training.
/// </summary>
internal sealed class HourAxis
{
    public HourAxis(DateTimeOffset from, int hours, TimeZoneInfo zone)
    {
        From = from;
        Hours = hours;
        LocalHour = new byte[hours];
        Day = new int[hours];
        Weekend = new bool[hours];
        DateOnly? first = null;
        for (var i = 0; i < hours; i++)
        {
            var local = TimeZoneInfo.ConvertTime(from.AddHours(i), zone);
            var date = DateOnly.FromDateTime(local.DateTime);
            first ??= date;
            LocalHour[i] = (byte)local.Hour;
            Day[i] = date.DayNumber - first.Value.DayNumber;
            Weekend[i] = local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
        }
        DayCount = hours == 0 ? 0 : Day[^1] + 1;
    }

    public DateTimeOffset From { get; }
    public int Hours { get; }
    public byte[] LocalHour { get; }
    /// <summary>Local day of each hour, 0 for the first.</summary>
    public int[] Day { get; }
    public bool[] Weekend { get; }
    public int DayCount { get; }
}

/// <summary>Learns a <see cref="MeterProfile"/> from hours [from, to) of a series.</summary>
internal static class MeterProfiles
{
    /// <summary>Hourly levels below this are a meter that is never used: nothing can be learned from it.</summary>
    private const float NegligibleLevel = 1e-6f;

    /// <summary>A local day counts as a day of history with at least this many hours known.</summary>
    public const int KnownHoursPerDay = 12;

    /// <summary>Days of the last week whose median is the recent level.</summary>
    private const int RecentDays = 7;

    public static int KnownDays(float[] series, HourAxis axis, int from, int to)
    {
        Span<byte> perDay = stackalloc byte[axis.DayCount + 1];
        for (var i = from; i < to; i++)
        {
            if (!float.IsNaN(series[i])) perDay[axis.Day[i]]++;
        }
        var days = 0;
        foreach (var known in perDay)
            if (known >= KnownHoursPerDay) days++;
        return days;
    }

    public static MeterProfile? Learn(float[] series, HourAxis axis, int from, int to)
    {
        var byType = new List<float>[3 * 24];
        for (var i = 0; i < byType.Length; i++) byType[i] = [];
        for (var i = from; i < to; i++)
        {
            var value = series[i];
            if (float.IsNaN(value)) continue;
            var hour = axis.LocalHour[i];
            byType[(axis.Weekend[i] ? 24 : 0) + hour].Add(value);
            byType[48 + hour].Add(value);
        }

        var medians = new float[3 * 24];
        float sum = 0;
        var known = 0;
        for (var i = 0; i < medians.Length; i++)
        {
            // A day type with fewer than two days of an hour leans on all days instead (a median of one is one day's whim).
            medians[i] = byType[i].Count >= 2 || i >= 48 ? PopulationPrior.Median(byType[i]) : float.NaN;
            if (i >= 48 && !float.IsNaN(medians[i])) { sum += medians[i]; known++; }
        }
        if (known == 0) return null;
        var level = sum / known;
        if (level < NegligibleLevel) return null;

        var shares = new float[3 * 24];
        for (var i = 0; i < shares.Length; i++) shares[i] = medians[i] / level;
        return new MeterProfile(level, Recent(series, axis, from, to, level), shares);
    }

    /// <summary>Median over the last week's well-known days of the day's use over 24 usual hours; 1 without two such days.</summary>
    private static float Recent(float[] series, HourAxis axis, int from, int to, float level)
    {
        var totals = new Dictionary<int, (float Sum, int Count)>();
        var lastDay = axis.Day[to - 1];
        for (var i = from; i < to; i++)
        {
            if (float.IsNaN(series[i]) || axis.Day[i] <= lastDay - RecentDays) continue;
            var (sum, count) = totals.GetValueOrDefault(axis.Day[i]);
            totals[axis.Day[i]] = (sum + series[i], count + 1);
        }
        // A day's mean over its known hours: a day with a gap is still a day of the household's level.
        var days = totals.Values.Where(t => t.Count >= 20).Select(t => t.Sum / t.Count / level).ToList();
        return days.Count >= 2 ? PopulationPrior.Median(days) : 1f;
    }
}
