using System.Buffers.Binary;
using System.Text;

namespace Sensing.Ingest.Tests.Formats;

/// <summary>
/// Writes Sparkplug B payloads (sparkplug_b.proto, protobuf wire format) for the tests, field by field as the
/// specification numbers them, so samples are built from the schema rather than by the reader under test.
/// </summary>
internal static class SpType
{
    // The DataType numbers of the Sparkplug B specification.
    public const uint Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4, UInt8 = 5, UInt16 = 6, UInt32 = 7, UInt64 = 8, Float = 9, Double = 10, Boolean = 11, String = 12;
}

internal static class SparkplugWriter
{

    /// <summary>One metric; <paramref name="Value"/> is written in the field its datatype uses (int/long/float/double/boolean/string).</summary>
    public sealed record Metric(string? Name = null, ulong? Alias = null, ulong? Timestamp = null, uint? DataType = null, object? Value = null, bool IsNull = false);

    public static byte[] Payload(ulong? timestamp, ulong? seq, params Metric[] metrics)
    {
        var output = new List<byte>();
        if (timestamp is { } ts) { Tag(output, 1, 0); Varint(output, ts); }
        foreach (var metric in metrics)
        {
            Tag(output, 2, 2);
            Bytes(output, Encode(metric));
        }
        if (seq is { } s) { Tag(output, 3, 0); Varint(output, s); }
        // A field of a future schema version: readers must skip it.
        Tag(output, 4, 2);
        Bytes(output, Encoding.UTF8.GetBytes("uuid-of-schema"));
        return [.. output];
    }

    public static ulong Ms(DateTimeOffset time) => (ulong)time.ToUnixTimeMilliseconds();

    private static byte[] Encode(Metric m)
    {
        var output = new List<byte>();
        if (m.Name is { } name) { Tag(output, 1, 2); Bytes(output, Encoding.UTF8.GetBytes(name)); }
        if (m.Alias is { } alias) { Tag(output, 2, 0); Varint(output, alias); }
        if (m.Timestamp is { } ts) { Tag(output, 3, 0); Varint(output, ts); }
        if (m.DataType is { } type) { Tag(output, 4, 0); Varint(output, type); }
        if (m.IsNull) { Tag(output, 7, 0); Varint(output, 1); }
        switch (m.DataType, m.Value)
        {
            case (_, null):
                break;
            case (SpType.Int8 or SpType.Int16 or SpType.Int32, _):
                // Signed values travel as 32-bit two's complement in the unsigned int_value field.
                Tag(output, 10, 0);
                Varint(output, (uint)Convert.ToInt32(m.Value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case (SpType.UInt8 or SpType.UInt16 or SpType.UInt32 or null, int or uint or byte or ushort):
                Tag(output, 10, 0);
                Varint(output, Convert.ToUInt32(m.Value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case (SpType.Int64, _):
                Tag(output, 11, 0);
                Varint(output, unchecked((ulong)Convert.ToInt64(m.Value, System.Globalization.CultureInfo.InvariantCulture)));
                break;
            case (SpType.UInt64, _):
                Tag(output, 11, 0);
                Varint(output, Convert.ToUInt64(m.Value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case (SpType.Float, _):
                Tag(output, 12, 5);
                var f = new byte[4];
                BinaryPrimitives.WriteSingleLittleEndian(f, Convert.ToSingle(m.Value, System.Globalization.CultureInfo.InvariantCulture));
                output.AddRange(f);
                break;
            case (SpType.Double or null, double):
                Tag(output, 13, 1);
                var d = new byte[8];
                BinaryPrimitives.WriteDoubleLittleEndian(d, (double)m.Value);
                output.AddRange(d);
                break;
            case (SpType.Boolean or null, bool b):
                Tag(output, 14, 0);
                Varint(output, b ? 1UL : 0UL);
                break;
            case (SpType.String or null, string text):
                Tag(output, 15, 2);
                Bytes(output, Encoding.UTF8.GetBytes(text));
                break;
            default:
                throw new ArgumentException($"cannot write {m.Value} as datatype {m.DataType}");
        }
        return [.. output];
    }

    private static void Tag(List<byte> output, int field, int wireType) => Varint(output, (ulong)((field << 3) | wireType));

    private static void Bytes(List<byte> output, byte[] bytes)
    {
        Varint(output, (ulong)bytes.Length);
        output.AddRange(bytes);
    }

    private static void Varint(List<byte> output, ulong value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }
        output.Add((byte)value);
    }
}
