using System.Buffers.Binary;

namespace Sensing.Simulators.Replay;

/// <summary>
/// The recording file format (<c>.rec</c>), version 1. Written by <see cref="RecordingWriter"/>, read by
/// <see cref="RecordingReader"/>.
/// <code>
/// file    := header body
/// header  := "SREC" (4 bytes) | version u8 = 1 | compression u8 = 1 (Brotli) | reserved u16 = 0
///          | start time: i64 little-endian UTC ticks                           -- 16 bytes, NOT compressed
/// body    := Brotli stream of: record* end
/// record  := length varint (of what follows, always ≥ 3) | delta varint (zigzag) | flags u8
///          | topic varint [ topic-length varint | topic UTF-8 ] | payload (the rest of the record)
/// end     := varint 0
/// </code>
/// <list type="bullet">
/// <item><c>delta</c>: receive time in ticks (100 ns) since the previous record's, the first record's since the
/// header's start time. Zigzag-signed, because a receive clock may step back (NTP) and the file must still say
/// exactly what was seen.</item>
/// <item><c>flags</c>: bits 0–1 QoS (0–2), bit 2 retain; bits 3–7 are zero in version 1.</item>
/// <item><c>topic</c>: 0 means "a new topic follows, and it gets the next id" (ids count up from 1 in order of
/// first appearance); k ≥ 1 refers to topic id k. A device publishing every minute for a day costs its
/// topic once, then one byte per message.</item>
/// <item><c>varint</c>: unsigned LEB128, as in protobuf.</item>
/// </list>
/// The header stays uncompressed so a file can be recognized (and its start read) without a decoder. The
/// length prefix lets a reader know a record is whole before parsing it, which is how a cut-off last record
/// is told apart from a damaged one; the explicit end record is how a complete file is told apart from one
/// that was cut exactly between records (Ctrl+C is handled and writes it; a killed process or a dead machine
/// does not).
/// Brotli rather than GZip: on this traffic (short JSON objects repeating field names and device ids) Brotli at
/// quality 5 compresses markedly better than Deflate at a similar speed, and both support a mid-stream flush,
/// so every periodic flush leaves a prefix that decodes on its own.
/// </summary>
internal static class RecordingFormat
{
    public const int HeaderLength = 16;
    public const byte Version = 1;
    public const byte BrotliCompression = 1;

    /// <summary>Brotli quality 5 and a 4 MiB window: most of the ratio of quality 11 at a fraction of its cost.</summary>
    public const int BrotliQuality = 5;
    public const int BrotliWindow = 22;

    /// <summary>A record is at most this long (MQTT's own payload limit is 256 MiB); a longer length means damage.</summary>
    public const int MaxRecordLength = 256 * 1024 * 1024 + 64 * 1024;

    public const byte QosMask = 0b011;
    public const byte RetainFlag = 0b100;

    public static ReadOnlySpan<byte> Magic => "SREC"u8;

    public static void WriteHeader(Span<byte> destination, DateTimeOffset start)
    {
        Magic.CopyTo(destination);
        destination[4] = Version;
        destination[5] = BrotliCompression;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], start.UtcTicks);
    }

    /// <summary>Unsigned LEB128: 7 bits per byte, low bits first, high bit set on every byte but the last.</summary>
    public static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    /// <summary>Reads a varint; 0 when <paramref name="source"/> ends inside it, -1 when it runs past 10 bytes (damage).</summary>
    public static int TryReadVarint(ReadOnlySpan<byte> source, out ulong value)
    {
        value = 0;
        for (var i = 0; i < source.Length; i++)
        {
            if (i == 10)
                return -1;
            var b = source[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if (b < 0x80)
                return i + 1;
        }
        return source.Length >= 10 ? -1 : 0;
    }

    /// <summary>Zigzag: 0, -1, 1, -2 … map to 0, 1, 2, 3 … so small steps back stay one byte.</summary>
    public static ulong Zigzag(long value) => (ulong)((value << 1) ^ (value >> 63));

    public static long Unzigzag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
}
