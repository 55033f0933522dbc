using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Sensing.Ingest.Spool;

/// <summary>A batch as the spool keeps it: the readings and dead letters of one pipeline round.</summary>
public sealed record SpoolBatch(IReadOnlyList<Reading> Readings, IReadOnlyList<DeadLetter> DeadLetters)
{
    private const byte Version = 1;

    /// <summary>
    /// Binary form: version, reading count, readings, dead-letter count, dead letters. Strings are
    /// length-prefixed UTF-8 with -1 for null; times are UTC ticks; all integers little-endian.
    /// </summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        WriteByte(output, Version);
        WriteInt(output, Readings.Count);
        foreach (var r in Readings)
        {
            WriteString(output, r.Device);
            WriteString(output, r.Community);
            WriteString(output, r.Grid);
            WriteString(output, r.Household);
            WriteString(output, r.Metric);
            WriteLong(output, r.Time.UtcTicks);
            WriteLong(output, BitConverter.DoubleToInt64Bits(r.Value));
            WriteString(output, r.Label);
            WriteString(output, r.Attributes);
        }
        WriteInt(output, DeadLetters.Count);
        foreach (var d in DeadLetters)
        {
            WriteString(output, d.Topic);
            WriteInt(output, d.Payload.Length);
            output.Write(d.Payload);
            WriteInt(output, d.PayloadBytes);
            WriteLong(output, d.ReceivedAt.UtcTicks);
            WriteString(output, d.Reason);
            WriteString(output, d.Format);
        }
    }

    public static SpoolBatch ReadFrom(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        if (reader.Byte() != Version) throw new InvalidDataException("unknown spool batch version");
        var readings = new Reading[reader.Int()];
        for (var i = 0; i < readings.Length; i++)
        {
            readings[i] = new Reading(
                reader.String()!, reader.String()!, reader.String(), reader.String(), reader.String()!,
                new DateTimeOffset(reader.Long(), TimeSpan.Zero), BitConverter.Int64BitsToDouble(reader.Long()),
                reader.String(), reader.String());
        }
        var deadLetters = new DeadLetter[reader.Int()];
        for (var i = 0; i < deadLetters.Length; i++)
        {
            var topic = reader.String()!;
            var payload = reader.Bytes(reader.Int()).ToArray();
            deadLetters[i] = new DeadLetter(topic, payload, reader.Int(), new DateTimeOffset(reader.Long(), TimeSpan.Zero), reader.String()!, reader.String()!);
        }
        return new SpoolBatch(readings, deadLetters);
    }

    private static void WriteByte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private static void WriteInt(IBufferWriter<byte> output, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    private static void WriteLong(IBufferWriter<byte> output, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    private static void WriteString(IBufferWriter<byte> output, string? value)
    {
        if (value is null)
        {
            WriteInt(output, -1);
            return;
        }
        var length = Encoding.UTF8.GetByteCount(value);
        WriteInt(output, length);
        Encoding.UTF8.GetBytes(value, output.GetSpan(length));
        output.Advance(length);
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public byte Byte() { var b = _rest[0]; _rest = _rest[1..]; return b; }
        public int Int() { var v = BinaryPrimitives.ReadInt32LittleEndian(_rest); _rest = _rest[4..]; return v; }
        public long Long() { var v = BinaryPrimitives.ReadInt64LittleEndian(_rest); _rest = _rest[8..]; return v; }

        public ReadOnlySpan<byte> Bytes(int length)
        {
            var bytes = _rest[..length];
            _rest = _rest[length..];
            return bytes;
        }

        public string? String()
        {
            var length = Int();
            return length < 0 ? null : Encoding.UTF8.GetString(Bytes(length));
        }
    }
}
