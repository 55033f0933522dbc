using System.Globalization;
using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Time stamps as vendors send them: RFC 3339 with an offset (ChirpStack, The Things Stack, Hikvision), Unix seconds
/// with a fraction (Frigate, Shelly), Unix milliseconds (Sparkplug), and local wall-clock time without any offset
/// (Tasmota by default), which only means an instant once a time zone is chosen.
/// </summary>
public static class VendorTime
{
    // Outside this range a time is a unit mistake or an unset device clock (Tasmota says 1970 until NTP answers).
    public static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Latest = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly string[] s_localFormats =
    [
        "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm", "yyyy-MM-dd HH:mm:ss",
    ];

    public static bool InRange(DateTimeOffset time) => time >= Earliest && time < Latest;

    /// <summary>
    /// Unix seconds with a fraction (<c>1607123955.475377</c>) to UTC, kept to the microsecond: a double holds
    /// today's epoch microseconds exactly, its ticks not, and the same input must give the same instant every time
    /// (a redelivered event must hit the same store key).
    /// </summary>
    public static DateTimeOffset FromUnixSeconds(double seconds) =>
        new(DateTimeOffset.UnixEpoch.Ticks + (long)Math.Round(seconds * 1_000_000d) * 10, TimeSpan.Zero);

    public static bool TryFromUnixSeconds(double seconds, out DateTimeOffset time)
    {
        time = default;
        if (!double.IsFinite(seconds) || seconds < Earliest.ToUnixTimeSeconds() || seconds >= Latest.ToUnixTimeSeconds()) return false;
        time = FromUnixSeconds(seconds);
        return true;
    }

    public static bool TryFromUnixMilliseconds(ulong ms, out DateTimeOffset time)
    {
        time = default;
        if (ms < (ulong)Earliest.ToUnixTimeMilliseconds() || ms >= (ulong)Latest.ToUnixTimeMilliseconds()) return false;
        time = DateTimeOffset.FromUnixTimeMilliseconds((long)ms);
        return true;
    }

    /// <summary>
    /// Reads an ISO 8601 string value. With an offset (or Z) it is that instant; without one it is wall-clock time in
    /// <paramref name="zone"/> (<paramref name="local"/> tells which). Null when the value is not such a time.
    /// A local time in a daylight-saving gap or overlap takes the zone's standard offset: a meter's register a
    /// few minutes off in one night a year is better than a refused register.
    /// </summary>
    public static bool TryRead(ref Utf8JsonReader reader, TimeZoneInfo zone, out DateTimeOffset utc, out bool local)
    {
        utc = default;
        local = false;
        if (reader.TokenType != JsonTokenType.String) return false;
        // The common shapes are read straight off the bytes: RFC 3339 with an offset by the reader's own ISO parser
        // (it keeps 7 fraction digits and cuts the rest), local "yyyy-MM-ddTHH:mm:ss[.fff]" by hand. The general
        // parser below is several times slower and only needed for the rest ("+0800", a space for the T…).
        if (!reader.ValueIsEscaped)
        {
            var raw = reader.ValueSpan;
            if (HasOffset(raw))
            {
                if (reader.TryGetDateTimeOffset(out var parsed))
                {
                    utc = parsed.ToUniversalTime();
                    return true;
                }
            }
            else if (TryParseLocal(raw, out var wall))
            {
                local = true;
                utc = new DateTimeOffset(wall, zone.GetUtcOffset(wall)).ToUniversalTime();
                return true;
            }
        }
        Span<char> text = stackalloc char[48];
        if (reader.ValueSpan.Length > (reader.ValueIsEscaped ? 48 * 6 : 48)) return false;
        int length;
        try
        {
            length = reader.CopyString(text);
        }
        catch (ArgumentException)
        {
            return false;
        }
        return TryParse(text[..length], zone, out utc, out local);
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss</c> with an optional fraction (digits beyond 7 cut), as UTF-8, without an offset.</summary>
    private static bool TryParseLocal(ReadOnlySpan<byte> t, out DateTime wall)
    {
        wall = default;
        if (t.Length < 19 || t[4] != '-' || t[7] != '-' || t[10] is not ((byte)'T' or (byte)' ') || t[13] != ':' || t[16] != ':') return false;
        if (!Digits(t, 0, 4, out var year) || !Digits(t, 5, 2, out var month) || !Digits(t, 8, 2, out var day)
            || !Digits(t, 11, 2, out var hour) || !Digits(t, 14, 2, out var minute) || !Digits(t, 17, 2, out var second))
        {
            return false;
        }
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return false;
        long ticks = 0;
        if (t.Length > 19)
        {
            if (t[19] != '.' || t.Length == 20) return false;
            var scale = TimeSpan.TicksPerSecond;
            for (var i = 20; i < t.Length; i++)
            {
                if (!char.IsAsciiDigit((char)t[i])) return false;
                scale /= 10;
                ticks += (t[i] - '0') * scale;
            }
        }
        wall = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(ticks);
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> t, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!char.IsAsciiDigit((char)t[i])) return false;
            value = value * 10 + (t[i] - '0');
        }
        return true;
    }

    /// <summary>True when an ISO 8601 time ends in <c>Z</c> or has <c>+</c>/<c>-</c> after its time part.</summary>
    private static bool HasOffset(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty) return false;
        if (text[^1] is (byte)'Z' or (byte)'z') return true;
        var t = text.IndexOfAny((byte)'T', (byte)' ');
        return t >= 0 && text[(t + 1)..].IndexOfAny((byte)'+', (byte)'-') >= 0;
    }

    public static bool TryParse(scoped ReadOnlySpan<char> text, TimeZoneInfo zone, out DateTimeOffset utc, out bool local)
    {
        utc = default;
        // .NET parses at most 7 fraction digits; Go-based servers (The Things Stack) send 9. The 8th and 9th are
        // below the 100 ns a DateTimeOffset holds anyway, so they are cut before parsing.
        Span<char> trimmed = stackalloc char[48];
        var dot = text.IndexOf('.');
        if (dot > 0 && text.Length <= trimmed.Length)
        {
            var digits = dot + 1;
            while (digits < text.Length && char.IsAsciiDigit(text[digits])) digits++;
            if (digits - dot - 1 > 7)
            {
                text[..(dot + 8)].CopyTo(trimmed);
                text[digits..].CopyTo(trimmed[(dot + 8)..]);
                text = trimmed[..(dot + 8 + text.Length - digits)];
            }
        }
        local = !HasOffset(text);
        if (!local)
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) return false;
            utc = parsed.ToUniversalTime();
            return true;
        }
        if (!DateTime.TryParseExact(text, s_localFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var wall)) return false;
        var offset = zone.GetUtcOffset(wall);
        utc = new DateTimeOffset(wall, offset).ToUniversalTime();
        return true;
    }

    /// <summary>True when an ISO 8601 time ends in <c>Z</c> or <c>±hh:mm</c> / <c>±hhmm</c> after its time part.</summary>
    private static bool HasOffset(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return false;
        if (text[^1] is 'Z' or 'z') return true;
        var t = text.IndexOfAny('T', ' ');
        if (t < 0) return false;
        return text[(t + 1)..].IndexOfAny('+', '-') >= 0;
    }
}
