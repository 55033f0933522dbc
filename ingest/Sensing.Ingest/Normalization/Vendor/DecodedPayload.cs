using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// The decoded payload of a LoRaWAN uplink (ChirpStack's <c>object</c>, The Things Stack's <c>decoded_payload</c>): what
/// the device profile's codec made of the radio bytes. Codecs are per vendor and user-editable, so ingest reads one
/// documented vocabulary and leaves the rest of the object alone:
/// <list type="table">
/// <item><term><c>occupied</c> (true/false or 1/0), optional <c>space</c></term><description><c>parking.occupied</c>, label the space (else the registry device id)</description></item>
/// <item><term><c>free</c> + <c>capacity</c>, optional <c>lot</c></term><description><c>parking.free</c> and <c>parking.capacity</c>, label the lot (else the device id)</description></item>
/// <item><term><c>volume_m3</c>, or <c>volume_l</c>, or <c>volume</c> + <c>unit</c> (<c>m3</c>, <c>L</c>)</term><description><c>water.total</c> in m³ (litres divided by 1000)</description></item>
/// <item><term><c>energy_kwh</c>, or <c>energy_wh</c>, or <c>energy</c> + <c>unit</c> (<c>kWh</c>, <c>Wh</c>)</term><description><c>electricity.total</c> in kWh</description></item>
/// </list>
/// A bare <c>volume</c> or <c>energy</c> without a unit is refused: a water meter's register in litres read as m³
/// would be a thousandfold leak. <c>battery</c> (a number) rides along as an attribute, with the frame counter.
/// </summary>
internal sealed class DecodedPayload
{
    private readonly StringInterner _labels = new(capacity: 4096);
    private readonly AttributeWriter _attributes = new();
    private Fields _f;

    public bool HasReadings => _f.Occupied is not null || _f.Free is not null || _f.Capacity is not null || _f.HasVolume || _f.HasEnergy;

    /// <summary>Reads the decoded object (reader on its StartObject, left on its EndObject); null or the first problem.</summary>
    public string? Read(ref Utf8JsonReader reader, string format, string objectName)
    {
        _f = default;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("occupied"u8))
            {
                reader.Read();
                _f.Occupied = reader.TokenType switch
                {
                    JsonTokenType.True => true,
                    JsonTokenType.False => false,
                    JsonTokenType.Number when reader.TryGetInt32(out var bit) && bit is 0 or 1 => bit == 1,
                    _ => null,
                };
                if (_f.Occupied is null) { reader.Skip(); error ??= $"{format}: {objectName}.occupied must be true/false or 1/0"; }
            }
            else if (reader.ValueTextEquals("space"u8)) error = First(error, Label(ref reader, ref _f.Space, format, objectName, "space"));
            else if (reader.ValueTextEquals("lot"u8)) error = First(error, Label(ref reader, ref _f.Lot, format, objectName, "lot"));
            else if (reader.ValueTextEquals("free"u8)) error = First(error, Number(ref reader, ref _f.Free, format, objectName, "free"));
            else if (reader.ValueTextEquals("capacity"u8)) error = First(error, Number(ref reader, ref _f.Capacity, format, objectName, "capacity"));
            else if (reader.ValueTextEquals("volume_m3"u8)) error = First(error, Number(ref reader, ref _f.VolumeM3, format, objectName, "volume_m3"));
            else if (reader.ValueTextEquals("volume_l"u8)) error = First(error, Number(ref reader, ref _f.VolumeL, format, objectName, "volume_l"));
            else if (reader.ValueTextEquals("volume"u8)) error = First(error, Number(ref reader, ref _f.Volume, format, objectName, "volume"));
            else if (reader.ValueTextEquals("energy_kwh"u8)) error = First(error, Number(ref reader, ref _f.EnergyKwh, format, objectName, "energy_kwh"));
            else if (reader.ValueTextEquals("energy_wh"u8)) error = First(error, Number(ref reader, ref _f.EnergyWh, format, objectName, "energy_wh"));
            else if (reader.ValueTextEquals("energy"u8)) error = First(error, Number(ref reader, ref _f.Energy, format, objectName, "energy"));
            else if (reader.ValueTextEquals("unit"u8))
            {
                reader.Read();
                _f.Unit = reader.TokenType != JsonTokenType.String ? Unit.Wrong
                    : reader.ValueTextEquals("m3"u8) || reader.ValueTextEquals("m³"u8) ? Unit.CubicMetres
                    : reader.ValueTextEquals("L"u8) || reader.ValueTextEquals("l"u8) || reader.ValueTextEquals("litre"u8) || reader.ValueTextEquals("liter"u8) ? Unit.Litres
                    : reader.ValueTextEquals("kWh"u8) || reader.ValueTextEquals("kwh"u8) ? Unit.KilowattHours
                    : reader.ValueTextEquals("Wh"u8) || reader.ValueTextEquals("wh"u8) ? Unit.WattHours
                    : Unit.Wrong;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("battery"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var battery) && double.IsFinite(battery)) _f.Battery = battery;
                else reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return error;
    }

    /// <summary>
    /// The registers and parking figures of the decoded object as readings of <paramref name="device"/>; null, or why
    /// they cannot be (a unit missing, the device registered as another kind). Appends nothing on a refusal.
    /// </summary>
    public string? Emit(string format, string objectName, Device device, DateTimeOffset time, long? frameCounter, List<Reading> readings)
    {
        var f = _f;
        double? water = null, energy = null;
        if (f.Unit == Unit.Wrong && (f.Volume is not null || f.Energy is not null))
        {
            return $"{format}: {objectName}.unit must be m3 or L (volume), kWh or Wh (energy)";
        }
        if (f.HasVolume)
        {
            if (f.VolumeM3 is { } m3) water = m3;
            else if (f.VolumeL is { } litres) water = litres / 1000d;
            else if (f.Unit == Unit.CubicMetres) water = f.Volume;
            else if (f.Unit == Unit.Litres) water = f.Volume / 1000d;
            else return $"{format}: {objectName}.volume has no unit: send volume_m3 or volume_l, or add \"unit\":\"m3\" or \"unit\":\"L\"";
        }
        if (f.HasEnergy)
        {
            if (f.EnergyKwh is { } kwh) energy = kwh;
            else if (f.EnergyWh is { } wh) energy = wh / 1000d;
            else if (f.Unit == Unit.KilowattHours) energy = f.Energy;
            else if (f.Unit == Unit.WattHours) energy = f.Energy / 1000d;
            else return $"{format}: {objectName}.energy has no unit: send energy_kwh or energy_wh, or add \"unit\":\"kWh\" or \"unit\":\"Wh\"";
        }
        if (water is < 0 || energy is < 0) return $"{format}: a meter register in {objectName} must not be negative";
        var parking = f.Occupied is not null || f.Free is not null || f.Capacity is not null;
        if (parking && (water is not null || energy is not null)) return $"{format}: {objectName} mixes parking and meter fields";
        if ((VendorContext.KindMismatch(format, device, parking ? DeviceKind.Parking : DeviceKind.Meter)
            ?? (parking ? null : VendorContext.MissingHousehold(format, device))) is { } refused)
        {
            return refused;
        }
        if (parking && (f.Free is null) != (f.Capacity is null)) return $"{format}: {objectName} needs both 'free' and 'capacity'";
        if (f.Free is { } free && f.Capacity is { } capacity)
        {
            if (free < 0 || capacity < 0) return $"{format}: {objectName}.free and .capacity must not be negative";
            if (free > capacity) return $"{format}: {objectName}.free must not exceed .capacity";
        }

        if (f.Battery is { } battery) _attributes.Number("battery"u8, battery);
        if (frameCounter is { } fCnt) _attributes.Number("f_cnt"u8, fCnt);
        var attributes = _attributes.Take();
        if (f.Occupied is { } occupied)
        {
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingOccupied, time, occupied ? 1 : 0, f.Space ?? device.Id, attributes));
        }
        if (f.Free is { } lotFree && f.Capacity is { } lotCapacity)
        {
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingFree, time, lotFree, f.Lot ?? device.Id, attributes));
            readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingCapacity, time, lotCapacity, f.Lot ?? device.Id, attributes));
        }
        if (water is { } waterTotal)
        {
            readings.Add(new Reading(device.Id, device.Community, device.Grid, device.Household, Metrics.WaterTotal, time, waterTotal, null, attributes));
        }
        if (energy is { } energyTotal)
        {
            readings.Add(new Reading(device.Id, device.Community, device.Grid, device.Household, Metrics.ElectricityTotal, time, energyTotal, null, attributes));
        }
        return null;
    }

    private string? Label(ref Utf8JsonReader reader, ref string? value, string format, string objectName, string field)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.String) { reader.Skip(); return $"{format}: {objectName}.{field} must be a string"; }
        value = _labels.Intern(ref reader);
        return NativeNormalizer.IsCleanText(value) ? null : $"{format}: {objectName}.{field} must not be empty or contain control characters";
    }

    private static string? Number(ref Utf8JsonReader reader, ref double? value, string format, string objectName, string field)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var number) && double.IsFinite(number))
        {
            value = number;
            return null;
        }
        reader.Skip();
        return $"{format}: {objectName}.{field} must be a number";
    }

    /// <summary>The first of two problems; see <see cref="VendorNormalizer"/>'s First for why not <c>??=</c>.</summary>
    private static string? First(string? known, string? next) => known ?? next;

    private enum Unit { None, CubicMetres, Litres, KilowattHours, WattHours, Wrong }

    private struct Fields
    {
        public bool? Occupied;
        public string? Space, Lot;
        public double? Free, Capacity, VolumeM3, VolumeL, Volume, EnergyKwh, EnergyWh, Energy, Battery;
        public Unit Unit;
        public readonly bool HasVolume => VolumeM3 is not null || VolumeL is not null || Volume is not null;
        public readonly bool HasEnergy => EnergyKwh is not null || EnergyWh is not null || Energy is not null;
    }
}
