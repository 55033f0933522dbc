using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Sensing.Telemetry;

namespace Sensing.Storage.Influx;

/// <summary>
/// Writes InfluxDB line protocol (<c>measurement,tag=v field=1 1763593200000</c>) as UTF-8 straight into a buffer
/// writer: no string per point, only the buffer's growth.
/// <para>
/// Escaping follows the line protocol reference: in a measurement, comma and space; in tag keys, tag values and
/// field keys, comma, equals sign and space; in string field values, double quote and backslash; each escaped with a
/// backslash. Line protocol cannot carry a newline in any of these, and a tag value ending in a backslash would
/// escape the separator after it, so both are refused rather than written as something else.
/// </para>
/// </summary>
internal static class LineProtocol
{
    private static readonly SearchValues<char> MeasurementSpecials = SearchValues.Create(", \n\r");
    private static readonly SearchValues<char> KeySpecials = SearchValues.Create(",= \n\r");
    private static readonly SearchValues<char> StringSpecials = SearchValues.Create("\"\\\n\r");

    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;

    /// <summary>Writes one reading as one line (see <see cref="InfluxSchema"/> for the layout).</summary>
    public static void WriteReading(IBufferWriter<byte> writer, in Reading reading, InfluxPrecision precision)
    {
        if (!double.IsFinite(reading.Value))
        {
            throw new ArgumentException($"Reading of {reading.Device} {reading.Metric} has a value line protocol cannot carry: {reading.Value}.", nameof(reading));
        }

        var measurement = InfluxSchema.MeasurementOf(reading.Metric);
        var householdIsTag = ReferenceEquals(measurement, InfluxSchema.Meter);

        Measurement(writer, measurement);
        // Sorted by key (bytewise), as the line protocol reference advises for write performance.
        Tag(writer, InfluxSchema.CommunityTag, reading.Community);
        Tag(writer, InfluxSchema.DeviceTag, reading.Device);
        Tag(writer, InfluxSchema.GridTag, reading.Grid);
        if (householdIsTag)
        {
            Tag(writer, InfluxSchema.HouseholdTag, reading.Household);
        }

        Tag(writer, InfluxSchema.LabelTag, reading.Label);
        Tag(writer, InfluxSchema.MetricTag, reading.Metric);

        Field(writer, first: true, InfluxSchema.ValueField, reading.Value);
        if (reading.Attributes is { Length: > 0 } attributes)
        {
            Field(writer, first: false, InfluxSchema.AttributesField, attributes);
        }

        if (!householdIsTag && reading.Household is { Length: > 0 } household)
        {
            Field(writer, first: false, InfluxSchema.HouseholdField, household);
        }

        Timestamp(writer, reading.Time, precision);
    }

    /// <summary>Starts a line with its measurement name.</summary>
    public static void Measurement(IBufferWriter<byte> writer, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        RefuseTrailingBackslash(name, "measurement");
        WriteEscaped(writer, name, MeasurementSpecials, "measurement");
    }

    /// <summary>Appends <c>,key=value</c>; a null or empty value writes nothing (line protocol has no empty tag values).</summary>
    public static void Tag(IBufferWriter<byte> writer, string key, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        RefuseTrailingBackslash(value, key);
        WriteByte(writer, (byte)',');
        WriteKey(writer, key);
        WriteByte(writer, (byte)'=');
        WriteEscaped(writer, value, KeySpecials, key);
    }

    /// <summary>Appends a float field: <c> key=1.5</c> (first) or <c>,key=1.5</c>.</summary>
    public static void Field(IBufferWriter<byte> writer, bool first, string key, double value)
    {
        FieldKey(writer, first, key);
        var span = writer.GetSpan(32);
        // "R" is the shortest text that parses back to the same double; a bare "12" is a float in line protocol.
        if (!value.TryFormat(span, out var written, "R", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("A double did not fit 32 bytes.");
        }

        writer.Advance(written);
    }

    /// <summary>Appends an integer field: <c>key=42i</c>.</summary>
    public static void Field(IBufferWriter<byte> writer, bool first, string key, long value)
    {
        FieldKey(writer, first, key);
        var span = writer.GetSpan(21);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        span[written] = (byte)'i';
        writer.Advance(written + 1);
    }

    /// <summary>Appends a string field: <c>key="text"</c> with double quotes and backslashes escaped.</summary>
    public static void Field(IBufferWriter<byte> writer, bool first, string key, string value)
    {
        FieldKey(writer, first, key);
        WriteByte(writer, (byte)'"');
        WriteEscaped(writer, value, StringSpecials, key);
        WriteByte(writer, (byte)'"');
    }

    /// <summary>Appends bytes as a base64 string field: <c>key="AAEC"</c> (base64 needs no escaping).</summary>
    public static void Base64Field(IBufferWriter<byte> writer, bool first, string key, ReadOnlySpan<byte> bytes)
    {
        FieldKey(writer, first, key);
        WriteByte(writer, (byte)'"');
        var span = writer.GetSpan(Base64.GetMaxEncodedToUtf8Length(bytes.Length));
        Base64.EncodeToUtf8(bytes, span, out _, out var written);
        writer.Advance(written);
        WriteByte(writer, (byte)'"');
    }

    /// <summary>Ends the line with the timestamp in the given precision and a newline.</summary>
    public static void Timestamp(IBufferWriter<byte> writer, DateTimeOffset time, InfluxPrecision precision) =>
        Timestamp(writer, ToEpoch(time, precision));

    /// <summary>Ends the line with a raw epoch timestamp (in the request's precision) and a newline.</summary>
    public static void Timestamp(IBufferWriter<byte> writer, long epoch)
    {
        var span = writer.GetSpan(22);
        span[0] = (byte)' ';
        epoch.TryFormat(span[1..], out var written, default, CultureInfo.InvariantCulture);
        span[written + 1] = (byte)'\n';
        writer.Advance(written + 2);
    }

    /// <summary>Time since the Unix epoch in the precision's unit, floored (so pre-1970 milliseconds round down too).</summary>
    public static long ToEpoch(DateTimeOffset time, InfluxPrecision precision)
    {
        var ticks = time.UtcTicks - UnixEpochTicks;
        return precision switch
        {
            InfluxPrecision.Nanoseconds => checked(ticks * 100),
            InfluxPrecision.Milliseconds => FloorDiv(ticks, TimeSpan.TicksPerMillisecond),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
        };
    }

    /// <summary>An epoch figure in the precision's unit back to a UTC time.</summary>
    public static DateTimeOffset FromEpoch(long epoch, InfluxPrecision precision) => precision switch
    {
        InfluxPrecision.Nanoseconds => new DateTimeOffset(UnixEpochTicks + FloorDiv(epoch, 100), TimeSpan.Zero),
        InfluxPrecision.Milliseconds => new DateTimeOffset(UnixEpochTicks + epoch * TimeSpan.TicksPerMillisecond, TimeSpan.Zero),
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    /// <summary>The <c>precision</c> parameter of 1.x <c>/write</c> (<c>n</c>, <c>ms</c>).</summary>
    public static string V1Parameter(InfluxPrecision precision) => precision == InfluxPrecision.Nanoseconds ? "n" : "ms";

    /// <summary>The <c>precision</c> parameter of <c>/api/v2/write</c> (<c>ns</c>, <c>ms</c>).</summary>
    public static string V2Parameter(InfluxPrecision precision) => precision == InfluxPrecision.Nanoseconds ? "ns" : "ms";

    /// <summary>The <c>epoch</c> parameter of <c>/query</c> (<c>ns</c>, <c>ms</c>).</summary>
    public static string EpochParameter(InfluxPrecision precision) => precision == InfluxPrecision.Nanoseconds ? "ns" : "ms";

    private static long FloorDiv(long value, long divisor)
    {
        var quotient = Math.DivRem(value, divisor, out var remainder);
        return remainder < 0 ? quotient - 1 : quotient;
    }

    private static void FieldKey(IBufferWriter<byte> writer, bool first, string key)
    {
        WriteByte(writer, first ? (byte)' ' : (byte)',');
        WriteKey(writer, key);
        WriteByte(writer, (byte)'=');
    }

    private static void WriteKey(IBufferWriter<byte> writer, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        RefuseTrailingBackslash(key, "key");
        WriteEscaped(writer, key, KeySpecials, "key");
    }

    private static void WriteEscaped(IBufferWriter<byte> writer, ReadOnlySpan<char> text, SearchValues<char> specials, string what)
    {
        while (true)
        {
            var at = text.IndexOfAny(specials);
            WriteUtf8(writer, at < 0 ? text : text[..at]);
            if (at < 0)
            {
                return;
            }

            var special = text[at];
            if (special is '\n' or '\r')
            {
                ThrowNewline(what);
            }

            var span = writer.GetSpan(2);
            span[0] = (byte)'\\';
            span[1] = (byte)special; // every special is ASCII
            writer.Advance(2);
            text = text[(at + 1)..];
        }
    }

    private static void WriteUtf8(IBufferWriter<byte> writer, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        var span = writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        writer.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private static void WriteByte(IBufferWriter<byte> writer, byte value)
    {
        writer.GetSpan(1)[0] = value;
        writer.Advance(1);
    }

    private static void RefuseTrailingBackslash(string text, string what)
    {
        if (text.EndsWith('\\'))
        {
            ThrowTrailingBackslash(what);
        }
    }

    // Cold paths out of the writer's loop.
    private static void ThrowNewline(string what) =>
        throw new ArgumentException($"Line protocol cannot carry a line break in {what}.");

    private static void ThrowTrailingBackslash(string what) =>
        throw new ArgumentException($"Line protocol cannot carry a {what} that ends with a backslash.");
}
