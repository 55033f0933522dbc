namespace Sensing.Simulators.Simulate;

/// <summary>
/// Work days and rest days in mainland China: weekends, public holidays, and the make-up work days (调休)
/// that turn a Saturday or Sunday into a work day around a long holiday. Households live by this calendar, so
/// a Tuesday of the National Day week looks like a Sunday on the meters and at the gates.
/// </summary>
internal static class ChinaCalendar
{
    /// <summary>Asia/Shanghai: +08:00 all year (no daylight saving since 1991), so no tz database is needed.</summary>
    public static readonly TimeSpan LocalOffset = HouseholdConsumption.LocalOffset;

    // The 2026 public holidays as announced by the State Council General Office in November 2025 (国务院办公厅
    // 关于2026年部分节假日安排的通知). A small static list on purpose: the simulator needs the shape of a year,
    // not a calendar service; add next year's when it is announced. Days outside 2026 follow weekends only.
    private static readonly HashSet<DateOnly> s_holidays =
    [
        .. Days(new(2026, 1, 1), 3),   // 元旦 New Year
        .. Days(new(2026, 2, 15), 9),  // 春节 Spring Festival
        .. Days(new(2026, 4, 4), 3),   // 清明节 Qingming
        .. Days(new(2026, 5, 1), 5),   // 劳动节 Labour Day
        .. Days(new(2026, 6, 19), 3),  // 端午节 Dragon Boat
        .. Days(new(2026, 9, 25), 3),  // 中秋节 Mid-Autumn
        .. Days(new(2026, 10, 1), 7),  // 国庆节 National Day
    ];

    // Weekend days that are work days to pay for the long holidays (调休上班).
    private static readonly HashSet<DateOnly> s_makeUpWorkDays =
    [
        new(2026, 1, 4), new(2026, 2, 14), new(2026, 2, 28), new(2026, 5, 9), new(2026, 9, 20), new(2026, 10, 10),
    ];

    /// <summary>True on a weekend or public holiday in Beijing time, false on a work day (including make-up days).</summary>
    public static bool IsRestDay(DateOnly localDate)
    {
        if (s_holidays.Contains(localDate))
            return true;
        if (s_makeUpWorkDays.Contains(localDate))
            return false;
        return localDate.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
    }

    private static IEnumerable<DateOnly> Days(DateOnly first, int count)
    {
        for (var i = 0; i < count; i++)
            yield return first.AddDays(i);
    }
}
