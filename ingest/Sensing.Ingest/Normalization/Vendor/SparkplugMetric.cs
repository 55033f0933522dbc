namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// One <c>Payload.Metric</c> of the Sparkplug B schema (sparkplug_b.proto), read in place: name (1), alias (2),
/// timestamp (3), datatype (4), is_null (7) and the scalar values int_value (10), long_value (11), float_value (12),
/// double_value (13), boolean_value (14). String, bytes, dataset and template values are recognised and not read:
/// no canonical metric holds them.
/// </summary>
internal ref struct SparkplugMetric
{
    // Sparkplug B datatypes (the numbers of the specification's DataType enumeration).
    public const uint Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4, UInt8 = 5, UInt16 = 6, UInt32 = 7, UInt64 = 8, Float = 9, Double = 10, Boolean = 11;

    private enum ValueField { None, Int, Long, Float, Double, Boolean, Other }

    public ReadOnlySpan<byte> Name;
    public bool HasName, HasAlias, HasTimestamp, HasDataType, IsNull;
    public ulong Alias, Timestamp;
    public uint DataType;
    private ValueField _field;
    private ulong _bits;

    public readonly bool NameIs(ReadOnlySpan<byte> name) => HasName && Name.SequenceEqual(name);

    /// <summary>False when no value field is present: a birth may declare a metric before it has a value.</summary>
    public readonly bool HasValue => _field != ValueField.None;

    public static bool TryRead(ReadOnlySpan<byte> bytes, out SparkplugMetric metric)
    {
        metric = default;
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadTag(out var field, out var wire))
        {
            ulong number;
            switch (field)
            {
                case 1 when wire == WireType.LengthDelimited:
                    if (!reader.TryReadBytes(out var name)) return false;
                    metric.Name = name;
                    metric.HasName = true;
                    break;
                case 2 when wire == WireType.Varint:
                    if (!reader.TryReadVarint(out metric.Alias)) return false;
                    metric.HasAlias = true;
                    break;
                case 3 when wire == WireType.Varint:
                    if (!reader.TryReadVarint(out metric.Timestamp)) return false;
                    metric.HasTimestamp = true;
                    break;
                case 4 when wire == WireType.Varint:
                    if (!reader.TryReadVarint(out number) || number > uint.MaxValue) return false;
                    metric.DataType = (uint)number;
                    metric.HasDataType = true;
                    break;
                case 7 when wire == WireType.Varint:
                    if (!reader.TryReadVarint(out number)) return false;
                    metric.IsNull = number != 0;
                    break;
                case 10 or 11 or 14 when wire == WireType.Varint:
                    if (!reader.TryReadVarint(out metric._bits)) return false;
                    metric._field = field switch { 10 => ValueField.Int, 11 => ValueField.Long, _ => ValueField.Boolean };
                    break;
                case 12 when wire == WireType.Fixed32:
                    if (!reader.TryReadFixed32(out var single)) return false;
                    metric._bits = single;
                    metric._field = ValueField.Float;
                    break;
                case 13 when wire == WireType.Fixed64:
                    if (!reader.TryReadFixed64(out metric._bits)) return false;
                    metric._field = ValueField.Double;
                    break;
                case 15 or 16 or 17 or 18 or 19 when wire == WireType.LengthDelimited:
                    if (!reader.TrySkip(wire)) return false;
                    metric._field = ValueField.Other;
                    break;
                case 1 or 2 or 3 or 4 or 7 or 10 or 11 or 12 or 13 or 14 or 15 or 16 or 17 or 18 or 19:
                    return false;   // a known field with the wrong wire type
                default:
                    if (!reader.TrySkip(wire)) return false;   // is_historical, is_transient, metadata, properties, extensions
                    break;
            }
        }
        return reader.End;
    }

    /// <summary>
    /// The value as a number, interpreted by <paramref name="dataType"/> (from the metric, or from its birth when a
    /// data message leaves it out). Signed types travel as two's complement in unsigned fields: Int8/16/32 are
    /// sign-extended from their width, Int64 reinterpreted. False for strings, bytes and other non-scalar values.
    /// </summary>
    public readonly bool TryValue(uint dataType, out double value)
    {
        value = 0;
        switch (_field)
        {
            case ValueField.Int or ValueField.Long:
                value = dataType switch
                {
                    Int8 => (sbyte)(byte)_bits,
                    Int16 => (short)(ushort)_bits,
                    Int32 => (int)(uint)_bits,
                    Int64 => (long)_bits,
                    UInt8 or UInt16 or UInt32 or UInt64 => _bits,
                    Boolean => _bits != 0 ? 1 : 0,
                    _ => double.NaN,
                };
                return !double.IsNaN(value);
            case ValueField.Float:
                value = BitConverter.Int32BitsToSingle((int)(uint)_bits);
                return dataType is Float or Double or 0 && double.IsFinite(value);
            case ValueField.Double:
                value = BitConverter.Int64BitsToDouble((long)_bits);
                return dataType is Float or Double or 0 && double.IsFinite(value);
            case ValueField.Boolean:
                value = _bits != 0 ? 1 : 0;
                return dataType is Boolean or 0;
            default:
                return false;
        }
    }
}
