using System.Buffers.Binary;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>Protocol Buffers wire types (the low three bits of a field's tag).</summary>
internal enum WireType { Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 }

/// <summary>
/// A forward-only reader of the Protocol Buffers wire format over a span: tags, varints, fixed 32/64-bit values and
/// length-delimited fields, nothing else. Sparkplug B needs no more, and reading the bytes in place keeps a DDATA
/// message allocation-free (a generated Google.Protobuf class would build an object per metric). Every method
/// returns false on truncated or malformed input instead of throwing; <see cref="Position"/> says where it stopped.
/// A failure is sticky: once a read has failed the reader is never at its <see cref="End"/> and reads no more. (A
/// varint that never ends used to consume the rest of the payload, so the reader stood at the end and a loop
/// ignoring a failed skip took the garbage for a clean payload: found by fuzzing.)
/// </summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;
    private bool _failed;

    public readonly int Position => _position;

    /// <summary>True when everything was read and nothing failed.</summary>
    public readonly bool End => !_failed && _position >= _data.Length;

    private bool Fail()
    {
        _failed = true;
        return false;
    }

    /// <summary>Reads the next field's tag. False at the end of the data or for an invalid tag (field 0, wire type 6/7).</summary>
    public bool TryReadTag(out int field, out WireType type)
    {
        field = 0;
        type = default;
        if (_failed || _position >= _data.Length || !TryReadVarint(out var tag)) return false;
        field = (int)(tag >> 3);
        type = (WireType)(tag & 7);
        return field > 0 && tag >> 3 <= int.MaxValue && (int)type is <= 5 || Fail();
    }

    public bool TryReadVarint(out ulong value)
    {
        value = 0;
        if (_failed) return false;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length) return Fail();
            var b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                // The tenth byte may only carry the last bit of a 64-bit value.
                return shift < 63 || b <= 1 || Fail();
            }
        }
        return Fail();
    }

    public bool TryReadFixed32(out uint value)
    {
        value = 0;
        if (_failed || _data.Length - _position < 4) return Fail();
        value = BinaryPrimitives.ReadUInt32LittleEndian(_data[_position..]);
        _position += 4;
        return true;
    }

    public bool TryReadFixed64(out ulong value)
    {
        value = 0;
        if (_failed || _data.Length - _position < 8) return Fail();
        value = BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return true;
    }

    public bool TryReadBytes(out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadVarint(out var length) || length > (ulong)(_data.Length - _position)) return Fail();
        value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return true;
    }

    /// <summary>Skips a field's value of the given wire type; groups (deprecated, unused by Sparkplug) are refused.</summary>
    public bool TrySkip(WireType type) => type switch
    {
        WireType.Varint => TryReadVarint(out _),
        WireType.Fixed64 => TryReadFixed64(out _),
        WireType.LengthDelimited => TryReadBytes(out _),
        WireType.Fixed32 => TryReadFixed32(out _),
        _ => Fail(),
    };
}
