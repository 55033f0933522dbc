namespace Sensing.Analytics.Facilities;

/// <summary>Local-time arithmetic of the detectors: windows such as "01:00–05:00 local" in UTC.</summary>
internal static class LocalWindows
{
    /// <summary>The local date of <paramref name="time"/>.</summary>
    public static DateOnly Date(DateTimeOffset time, TimeZoneInfo zone) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(time, zone).DateTime);

    /// <summary>The local hour (0–23) of <paramref name="time"/>.</summary>
    public static int Hour(DateTimeOffset time, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(time, zone).Hour;

    /// <summary>
    /// The window that opens at <paramref name="start"/> local time on <paramref name="date"/> and closes at
    /// <paramref name="end"/> (the next day when <paramref name="end"/> is not after <paramref name="start"/>), in UTC.
    /// </summary>
    public static (DateTimeOffset Start, DateTimeOffset End) Window(DateOnly date, TimeSpan start, TimeSpan end, TimeZoneInfo zone)
    {
        var opens = At(date, start, zone);
        var closes = At(end > start ? date : date.AddDays(1), end, zone);
        return (opens, closes);
    }

    /// <summary>
    /// The window (opening on some local date) that contains <paramref name="time"/>, or null when it falls between windows.
    /// </summary>
    public static (DateTimeOffset Start, DateTimeOffset End)? Containing(DateTimeOffset time, TimeSpan start, TimeSpan end, TimeZoneInfo zone)
    {
        var date = Date(time, zone);
        // A window spanning midnight that contains an early-morning time opened the day before.
        for (var d = date.AddDays(-1); d <= date; d = d.AddDays(1))
        {
            var window = Window(d, start, end, zone);
            if (time >= window.Start && time < window.End) return window;
        }
        return null;
    }

    private static DateTimeOffset At(DateOnly date, TimeSpan timeOfDay, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue).Add(timeOfDay);
        // A local time skipped by a daylight-saving change does not exist: take the instant the clocks jumped to.
        while (zone.IsInvalidTime(local)) local = local.AddMinutes(30);
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero);
    }
}
