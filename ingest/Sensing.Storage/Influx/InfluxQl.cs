using System.Globalization;
using System.Text;

namespace Sensing.Storage.Influx;

/// <summary>
/// Quoting for InfluxQL text. Every value a caller gives (device, community, metric, alert id) reaches a query only
/// through <see cref="Literal"/> or <see cref="Identifier"/>: InfluxQL has no bound parameters over the 1.x HTTP API
/// that 1.x, 2.x and 3.x all accept, so escaping is what keeps <c>c1' OR '1'='1</c> a value.
/// </summary>
internal static class InfluxQl
{
    /// <summary>InfluxDB's representable range (models.MinNanoTime/MaxNanoTime); times outside are clamped to it.</summary>
    private const long MinNanos = long.MinValue + 2;
    private const long MaxNanos = long.MaxValue - 1;

    /// <summary>
    /// A single-quoted string literal. InfluxQL's scanner accepts the escapes <c>\\</c>, <c>\'</c>, <c>\"</c> and
    /// <c>\n</c> and refuses a raw line break, so backslash, quote and line breaks are escaped.
    /// </summary>
    public static string Literal(string value) => Quote(value, '\'');

    /// <summary>A double-quoted identifier (measurement, tag or field name), escaped like a literal.</summary>
    public static string Identifier(string name) => Quote(name, '"');

    /// <summary>A time bound as integer nanoseconds since the epoch, the unit InfluxQL gives a bare integer.</summary>
    public static string Nanos(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTime.UnixEpoch.Ticks;
        var nanos = ticks > MaxNanos / 100 ? MaxNanos : ticks < MinNanos / 100 ? MinNanos : ticks * 100;
        return nanos.ToString(CultureInfo.InvariantCulture);
    }

    private static string Quote(string value, char quote)
    {
        var text = new StringBuilder(value.Length + 2).Append(quote);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': text.Append(@"\\"); break;
                case '\'': text.Append(@"\'"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append(@"\n"); break;
                // The scanner has no escape for a carriage return and refuses none either; keep it off the wire.
                case '\r': text.Append(@"\n"); break;
                default: text.Append(c); break;
            }
        }

        return text.Append(quote).ToString();
    }
}
