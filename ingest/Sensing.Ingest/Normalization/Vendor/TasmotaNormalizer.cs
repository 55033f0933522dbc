using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Tasmota energy monitors (smart plugs, DIN-rail meters): topic <c>tele/&lt;topic&gt;/SENSOR</c>, published every
/// TelePeriod (300 s by default):
/// <code>{"Time":"2026-11-20T07:15:00","ENERGY":{"TotalStartTime":"2025-01-01T00:00:00","Total":123.456,"Yesterday":1.2,"Today":0.4,"Power":45,"Voltage":229,"Current":0.21}}</code>
/// <c>ENERGY.Total</c> is the cumulative register in kWh and becomes <c>electricity.total</c> of the registry device
/// whose source is <c>tasmota:&lt;topic&gt;</c> (its household comes from the registry); power, voltage and current
/// ride along as attributes. Several channels or phases send <c>Total</c> as an array: their sum is the device's register.
/// <c>Time</c> is the device's local wall-clock time with no offset (unless SetOption52 adds one): it is read in
/// <c>Sensing:TimeZone</c>. Until NTP answers Tasmota says 1970: then the broker receive time is used and the device's
/// own time kept as the <c>device_time</c> attribute. A SENSOR message without an ENERGY block (a temperature
/// sensor) is skipped on purpose; a register that went down (EnergyReset, a new plug) is the consumption stage's
/// business, which counts it as a reset.
/// </summary>
public sealed class TasmotaNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "tasmota";

    private readonly AttributeWriter _attributes = new();

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[4];
        if (topic.Split(parts, '/') != 3 || !topic[parts[0]].SequenceEqual("tele") || !topic[parts[2]].SequenceEqual("SENSOR"))
        {
            return "tasmota: topic must be tele/<topic>/SENSOR";
        }
        var device = topic[parts[1]];

        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "tasmota: " + notObject;

        _attributes.Clear();
        DateTimeOffset? time = null;
        var timeLocalUnset = false;
        Span<char> deviceTime = stackalloc char[32];
        var deviceTimeLength = 0;
        double? total = null;
        string? error = null;
        var hasEnergy = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("Time"u8))
            {
                reader.Read();
                if (!VendorTime.TryRead(ref reader, Context.TimeZone, out var parsed, out _))
                {
                    error ??= "tasmota: 'Time' must be an ISO 8601 time (local, as Tasmota sends it, or with an offset)";
                    reader.Skip();
                }
                else if (!VendorTime.InRange(parsed))
                {
                    // The clock is not set yet: keep what it said, use the receive time.
                    timeLocalUnset = true;
                    TryChars(ref reader, deviceTime, out deviceTimeLength);
                }
                else
                {
                    time = parsed;
                }
            }
            else if (reader.ValueTextEquals("ENERGY"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    error ??= "tasmota: 'ENERGY' must be an object";
                    continue;
                }
                hasEnergy = true;
                error = First(error, ReadEnergy(ref reader, out total));
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (EndOfPayload(ref reader) is { } trailing) return "tasmota: " + trailing;
        if (error is not null) return error;
        if (!hasEnergy) return null;   // not an energy monitor's message: nothing of ours in it
        if (total is not { } register) return "tasmota: ENERGY has no 'Total' (kWh register)";

        if (!Context.TryFind(Name, Name, device, message, out var known, out var reason)) return reason;
        if ((VendorContext.KindMismatch(Name, known, DeviceKind.Meter) ?? VendorContext.MissingHousehold(Name, known)) is { } refused) return refused;
        if (timeLocalUnset) _attributes.String("device_time"u8, deviceTime[..deviceTimeLength]);
        readings.Add(new Reading(known.Id, known.Community, known.Grid, known.Household, Metrics.ElectricityTotal,
            time ?? message.ReceivedAt, register, null, _attributes.Take()));
        return null;
    }

    private string? ReadEnergy(ref Utf8JsonReader reader, out double? total)
    {
        total = null;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("Total"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    // One register per channel or phase (SetOption129): the device's register is their sum.
                    var sum = 0d;
                    var count = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (!TryNumber(ref reader, out var part) || part < 0) error ??= "tasmota: ENERGY.Total array must hold non-negative numbers (kWh)";
                        sum += part;
                        count++;
                    }
                    if (count == 0) error ??= "tasmota: ENERGY.Total array is empty";
                    total = sum;
                }
                else if (!TryNumber(ref reader, out var value))
                {
                    error ??= "tasmota: ENERGY.Total must be a number (kWh)";
                }
                else if (value < 0)
                {
                    error ??= "tasmota: ENERGY.Total must not be negative (it is a cumulative register)";
                }
                else
                {
                    total = value;
                }
            }
            else if (reader.ValueTextEquals("Power"u8)) Keep(ref reader, "power"u8);
            else if (reader.ValueTextEquals("Voltage"u8)) Keep(ref reader, "voltage"u8);
            else if (reader.ValueTextEquals("Current"u8)) Keep(ref reader, "current"u8);
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return error;
    }

    /// <summary>Keeps a single-number diagnostic as an attribute; arrays (per phase) and other shapes are left out.</summary>
    private void Keep(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var value) && double.IsFinite(value))
        {
            _attributes.Number(name, value);
        }
        else
        {
            reader.Skip();
        }
    }
}
