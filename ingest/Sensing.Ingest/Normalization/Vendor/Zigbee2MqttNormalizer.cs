using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Zigbee2MQTT device state messages: topic <c>zigbee2mqtt/&lt;friendly name&gt;</c>, payload the device's whole state
/// (<code>{"energy":12.34,"power":45.1,"voltage":229,"current":0.2,"state":"ON","linkquality":96,"last_seen":"2026-11-20T07:15:00+08:00"}</code>).
/// The device is <c>z2m:&lt;friendly name&gt;</c>, and its registered kind says what the message means:
/// <list type="bullet">
/// <item>meter — <c>energy</c> (kWh, a smart plug's or DIN meter's register) → <c>electricity.total</c>; <c>water_leak</c>
/// (a leak sensor of the household) → <c>water.leak</c> 1/0;</item>
/// <item>parking — <c>occupancy</c> (a presence sensor over one space) → <c>parking.occupied</c>, label the device id.</item>
/// </list>
/// The time is <c>last_seen</c> when Zigbee2MQTT is configured to add it (ISO 8601 or epoch milliseconds), else the
/// broker receive time. Fields without a canonical meaning (<c>contact</c>, <c>battery</c>, <c>linkquality</c>…) are not
/// stored; a message with none of the mapped fields is skipped without looking the device up. The bridge's own topics
/// (<c>zigbee2mqtt/bridge</c>, and <c>bridge/…</c>, <c>…/availability</c>, <c>…/set</c>, <c>…/get</c> when a wider filter
/// routes them here) are skipped on purpose: they describe the coordinator and the network, not a device's readings.
/// </summary>
public sealed class Zigbee2MqttNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "zigbee2mqtt";
    private const string SourcePrefix = "z2m";

    private readonly AttributeWriter _attributes = new();

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        var slash = topic.IndexOf('/');
        if (slash <= 0 || slash == topic.Length - 1) return "zigbee2mqtt: topic must be zigbee2mqtt/<friendly name>";
        var name = topic[(slash + 1)..];
        var last = name.LastIndexOf('/') is var at and >= 0 ? name[(at + 1)..] : name;
        if (name.SequenceEqual("bridge") || name.StartsWith("bridge/") || last is "availability" or "set" or "get") return null;

        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        if (BeginObject(ref reader, payload) is { } notObject) return "zigbee2mqtt: " + notObject;
        double? energy = null, power = null, voltage = null, current = null;
        bool? occupancy = null, leak = null;
        DateTimeOffset? time = null;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("energy"u8)) error = First(error, Number(ref reader, "energy", ref energy));
            else if (reader.ValueTextEquals("power"u8)) error = First(error, Number(ref reader, "power", ref power));
            else if (reader.ValueTextEquals("voltage"u8)) error = First(error, Number(ref reader, "voltage", ref voltage));
            else if (reader.ValueTextEquals("current"u8)) error = First(error, Number(ref reader, "current", ref current));
            else if (reader.ValueTextEquals("occupancy"u8)) error = First(error, Bool(ref reader, "occupancy", ref occupancy));
            else if (reader.ValueTextEquals("water_leak"u8)) error = First(error, Bool(ref reader, "water_leak", ref leak));
            else if (reader.ValueTextEquals("last_seen"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out var ms) && VendorTime.TryFromUnixMilliseconds(ms, out var epoch)) time = epoch;
                else if (VendorTime.TryRead(ref reader, Context.TimeZone, out var iso, out _) && VendorTime.InRange(iso)) time = iso;
                else if (reader.TokenType != JsonTokenType.Null) { reader.Skip(); error ??= "zigbee2mqtt: 'last_seen' must be an ISO 8601 time or epoch milliseconds"; }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (EndOfPayload(ref reader) is { } trailing) return "zigbee2mqtt: " + trailing;
        if (error is not null) return error;
        if (energy is null && occupancy is null && leak is null) return null;   // a contact, a button, a bulb…: nothing canonical
        if (energy is < 0) return "zigbee2mqtt: 'energy' must not be negative (it is a cumulative register in kWh)";

        if (!Context.TryFind(Name, SourcePrefix, name, message, out var device, out var reason)) return reason;
        var at2 = time ?? message.ReceivedAt;
        switch (device.Kind)
        {
            case DeviceKind.Meter:
                if (energy is null && leak is null) return null;
                if (VendorContext.MissingHousehold(Name, device) is { } noHousehold) return noHousehold;
                if (energy is { } kwh)
                {
                    if (power is { } w) _attributes.Number("power"u8, w);
                    if (voltage is { } v) _attributes.Number("voltage"u8, v);
                    if (current is { } a) _attributes.Number("current"u8, a);
                    readings.Add(new Reading(device.Id, device.Community, device.Grid, device.Household, Metrics.ElectricityTotal, at2, kwh, null, _attributes.Take()));
                }
                if (leak is { } wet)
                {
                    readings.Add(new Reading(device.Id, device.Community, device.Grid, device.Household, Metrics.WaterLeak, at2, wet ? 1 : 0));
                }
                return null;
            case DeviceKind.Parking:
                if (occupancy is not { } occupied) return null;
                readings.Add(new Reading(device.Id, device.Community, device.Grid, null, Metrics.ParkingOccupied, at2, occupied ? 1 : 0, device.Id));
                return null;
            default:
                return $"zigbee2mqtt: device {device.Id} (source {device.Source}) is registered as a {device.Kind.Name()}; zigbee2mqtt messages map to meters (energy, water_leak) and parking spaces (occupancy)";
        }
    }

    private static string? Number(ref Utf8JsonReader reader, string field, ref double? value)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (!TryNumber(ref reader, out var number)) return $"zigbee2mqtt: '{field}' must be a number";
        value = number;
        return null;
    }

    private static string? Bool(ref Utf8JsonReader reader, string field, ref bool? value)
    {
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.True: value = true; return null;
            case JsonTokenType.False: value = false; return null;
            case JsonTokenType.Null: return null;
            default: reader.Skip(); return $"zigbee2mqtt: '{field}' must be true or false";
        }
    }
}
