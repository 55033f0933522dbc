using Sensing.Telemetry;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// Hourly consumption of one household: bucket start (UTC, on the hour) → amount used in that hour
/// (m³ of water, kWh of electricity). An hour without a bucket is unknown, not zero.
/// </summary>
public sealed record HouseholdUsage(
    Household Household,
    IReadOnlyDictionary<DateTimeOffset, double> Water,
    IReadOnlyDictionary<DateTimeOffset, double> Electricity);

/// <summary>
/// A household's usual day for one meter: per local hour of day, the median of that hour over the
/// history days, and the usual hourly level (the mean of those medians). Medians, because the history
/// may itself hold a holiday or an earlier drop that should not lower what counts as usual.
/// </summary>
internal sealed record UsualDay(double[] AtHour, double Level)
{
    /// <summary>Hourly values below this level count as a meter that is never used; nothing can be learned from it.</summary>
    private const double NegligibleLevel = 1e-6;

    /// <summary>
    /// Usual day of a series from its buckets before <paramref name="before"/>, leaving out the local day
    /// <paramref name="leftOut"/> (so a training row never describes itself); null with fewer than
    /// <paramref name="minDays"/> days of history.
    /// </summary>
    public static UsualDay? Of(DayMatrix days, DateOnly? leftOut, int minDays)
    {
        var dayCount = days.Days.Count - (leftOut is { } d && days.Contains(d) ? 1 : 0);
        if (dayCount < minDays) return null;

        var atHour = new double[24];
        var values = new List<double>(days.Days.Count);
        double sum = 0;
        var known = 0;
        for (var hour = 0; hour < 24; hour++)
        {
            values.Clear();
            for (var i = 0; i < days.Days.Count; i++)
            {
                if (days.Days[i] == leftOut) continue;
                var value = days.Values[i, hour];
                if (!double.IsNaN(value)) values.Add(value);
            }
            atHour[hour] = Median(values);
            if (!double.IsNaN(atHour[hour])) { sum += atHour[hour]; known++; }
        }
        if (known == 0) return null;
        var level = sum / known;
        return level < NegligibleLevel ? null : new UsualDay(atHour, level);
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        values.Sort();
        var mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }
}

/// <summary>A series laid out as local days × 24 local hours (NaN where no bucket), for usual-day medians.</summary>
internal sealed class DayMatrix
{
    private DayMatrix(List<DateOnly> days, double[,] values) { Days = days; Values = values; }

    public List<DateOnly> Days { get; }
    public double[,] Values { get; }

    public bool Contains(DateOnly day) => Days.BinarySearch(day) >= 0;

    public static DayMatrix Of(IReadOnlyDictionary<DateTimeOffset, double> series, DateTimeOffset before, TimeZoneInfo zone)
    {
        var days = new SortedSet<DateOnly>();
        foreach (var (time, _) in series)
            if (time < before) days.Add(LocalClock.Day(time, zone));
        var list = days.ToList();
        var values = new double[list.Count, 24];
        for (var i = 0; i < list.Count; i++)
            for (var h = 0; h < 24; h++) values[i, h] = double.NaN;
        foreach (var (time, value) in series)
        {
            if (time >= before) continue;
            values[list.BinarySearch(LocalClock.Day(time, zone)), LocalClock.Hour(time, zone)] = value;
        }
        return new DayMatrix(list, values);
    }
}

/// <summary>Household rhythms follow the local clock, not UTC: 07:00 in Shanghai is breakfast, 23:00 UTC is not.</summary>
internal static class LocalClock
{
    public static DateTimeOffset Local(DateTimeOffset time, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(time, zone);
    public static DateOnly Day(DateTimeOffset time, TimeZoneInfo zone) => DateOnly.FromDateTime(Local(time, zone).DateTime);
    public static int Hour(DateTimeOffset time, TimeZoneInfo zone) => Local(time, zone).Hour;
    public static bool IsWeekend(DateTimeOffset time, TimeZoneInfo zone) =>
        Local(time, zone).DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
}
