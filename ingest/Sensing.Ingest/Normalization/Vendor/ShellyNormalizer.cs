using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Shelly Gen2+ devices (Plus/Pro/Gen3 plugs, relays, Pro 3EM/Pro EM meters) over their MQTT RPC channel:
/// <list type="bullet">
/// <item><c>&lt;id&gt;/events/rpc</c> with <c>{"src":"shellypro3em-…","method":"NotifyStatus","params":{"ts":1795130100.12,"emdata:0":{"total_act":123456.7}}}</c>
/// (<c>NotifyFullStatus</c> carries every component; <c>NotifyEvent</c> — button pushes and the like — is skipped);</item>
/// <item><c>&lt;id&gt;/status/&lt;component&gt;</c> (generic status notifications) whose payload is that component's status
/// object; it carries no time, so the broker receive time is used.</item>
/// </list>
/// Energy registers, all in Wh and stored as kWh in <c>electricity.total</c>: <c>switch:N</c>, <c>pm1:N</c>,
/// <c>cover:N</c>, <c>light:N</c> → <c>aenergy.total</c>; <c>em1data:N</c> → <c>total_act_energy</c>; <c>emdata:N</c>
/// (three phases summed by the device) → <c>total_act</c>. Channel 0 maps to source <c>shelly:&lt;id&gt;</c>, channel N
/// to <c>shelly:&lt;id&gt;/N</c>, each its own registry meter. NotifyStatus carries only what changed, so a message
/// without an energy register is skipped. When some channels of a message are registered and others not, the known
/// ones are stored and the unknown ones booked in quarantine without dead-lettering the message: a register is
/// cumulative, the next report brings the whole count anyway. Other topics the wide <c>+/status/#</c> filter catches
/// (ESPHome's and Home Assistant's <c>&lt;name&gt;/status</c>) are skipped.
/// </summary>
public sealed class ShellyNormalizer(VendorContext context) : VendorNormalizer(context)
{
    public const string Name = "shelly";
    private const int MaxChannels = 16;

    private readonly (int Channel, double WattHours, double? Power)[] _registers = new (int, double, double?)[MaxChannels];
    private readonly AttributeWriter _attributes = new();
    private int _count;

    public override string Format => Name;

    protected override string? NormalizeCore(in IncomingMessage message, List<Reading> readings)
    {
        var topic = message.Topic.AsSpan();
        Span<Range> parts = stackalloc Range[4];
        var segments = topic.Split(parts, '/');
        var payload = message.Payload.Span;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        _count = 0;
        DateTimeOffset? time = null;
        string? error;
        if (segments == 3 && topic[parts[1]].SequenceEqual("events") && topic[parts[2]].SequenceEqual("rpc"))
        {
            if (BeginObject(ref reader, payload) is { } notObject) return "shelly: " + notObject;
            error = ReadRpc(ref reader, out time, out var method);
            if (error is null && EndOfPayload(ref reader) is { } trailing) return "shelly: " + trailing;
            if (error is not null) return error;
            if (method is not ("NotifyStatus" or "NotifyFullStatus")) return null;   // NotifyEvent, or a reply to someone's call
        }
        else if (segments == 3 && topic[parts[1]].SequenceEqual("status"))
        {
            var component = topic[parts[2]];
            if (!IsMetered(component, out var kind, out var channel)) return null;   // sys, wifi, input:0…: nothing to store
            if (BeginObject(ref reader, payload) is { } notObject) return "shelly: " + notObject;
            error = ReadComponent(ref reader, kind, channel, component);
            if (error is null && EndOfPayload(ref reader) is { } trailing) return "shelly: " + trailing;
            if (error is not null) return error;
        }
        else
        {
            // The default filter +/status/# also catches other ecosystems' status topics (ESPHome's and Home
            // Assistant's <name>/status online/offline): not Shelly's, so not refused, just not read.
            return null;
        }
        if (_count == 0) return null;

        var id = topic[parts[0]];
        var at = time ?? message.ReceivedAt;
        string? firstUnknown = null;
        var stored = 0;
        Span<char> channelId = stackalloc char[VendorContext.MaxSourceLength];
        for (var i = 0; i < _count; i++)
        {
            var (channel, wattHours, power) = _registers[i];
            // Channel 0 is the device itself (most Shellys meter one channel); others get "/N".
            scoped ReadOnlySpan<char> sourceId = id;
            if (channel != 0)
            {
                if (!id.TryCopyTo(channelId) || id.Length + 1 >= channelId.Length
                    || !channel.TryFormat(channelId[(id.Length + 1)..], out var digits, default, System.Globalization.CultureInfo.InvariantCulture))
                {
                    return "shelly: device id is too long";
                }
                channelId[id.Length] = '/';
                sourceId = channelId[..(id.Length + 1 + digits)];
            }
            if (!Context.TryFind(Name, Name, sourceId, message, out var device, out var reason, listOnly: true))
            {
                firstUnknown ??= reason;
                continue;
            }
            if ((VendorContext.KindMismatch(Name, device, DeviceKind.Meter) ?? VendorContext.MissingHousehold(Name, device)) is { } refused) return refused;
            if (power is { } watts) _attributes.Number("power"u8, watts);
            readings.Add(new Reading(device.Id, device.Community, device.Grid, device.Household, Metrics.ElectricityTotal, at, wattHours / 1000d, null, _attributes.Take()));
            stored++;
        }
        if (stored > 0 || firstUnknown is null) return null;
        Context.Quarantine.Counted(Name);
        return firstUnknown;
    }

    private string? ReadRpc(ref Utf8JsonReader reader, out DateTimeOffset? time, out string? method)
    {
        time = null;
        method = null;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("method"u8))
            {
                reader.Read();
                method = reader.TokenType != JsonTokenType.String ? null
                    : reader.ValueTextEquals("NotifyStatus"u8) ? "NotifyStatus"
                    : reader.ValueTextEquals("NotifyFullStatus"u8) ? "NotifyFullStatus"
                    : "other";
                if (reader.TokenType != JsonTokenType.String) { reader.Skip(); error ??= "shelly: 'method' must be a string"; }
            }
            else if (reader.ValueTextEquals("params"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= "shelly: 'params' must be an object"; continue; }
                error = First(error, ReadParams(ref reader, out time));
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return error;
    }

    private string? ReadParams(ref Utf8JsonReader reader, out DateTimeOffset? time)
    {
        time = null;
        string? error = null;
        Span<char> name = stackalloc char[32];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("ts"u8))
            {
                reader.Read();
                if (!TryNumber(ref reader, out var seconds) || !VendorTime.TryFromUnixSeconds(seconds, out var at))
                {
                    error ??= "shelly: params.ts must be Unix seconds between 2000 and 2099";
                }
                else
                {
                    time = at;
                }
                continue;
            }
            var kind = default(Metered);
            var channel = 0;
            var metered = TryChars(ref reader, name, out var length) && IsMetered(name[..length], out kind, out channel);
            reader.Read();
            if (!metered)
            {
                reader.Skip();
                continue;
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                error ??= $"shelly: params.{name[..length].ToString()} must be an object";
                continue;
            }
            error = First(error, ReadComponent(ref reader, kind, channel, name[..length]));
        }
        return error;
    }

    private enum Metered { Energy, EmData, Em1Data }

    /// <summary>Parses <c>switch:0</c>, <c>pm1:2</c>, <c>emdata:0</c>…: true for the components that carry an energy register.</summary>
    private static bool IsMetered(ReadOnlySpan<char> component, out Metered kind, out int channel)
    {
        kind = default;
        channel = 0;
        var colon = component.IndexOf(':');
        if (colon <= 0 || !int.TryParse(component[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out channel)
            || channel is < 0 or >= 1000)
        {
            return false;
        }
        switch (component[..colon])
        {
            case "switch" or "pm1" or "cover" or "light": kind = Metered.Energy; return true;
            case "emdata": kind = Metered.EmData; return true;
            case "em1data": kind = Metered.Em1Data; return true;
            default: return false;
        }
    }

    /// <summary>Reads one component's status object (reader on its StartObject) and books its register, if it has one.</summary>
    private string? ReadComponent(ref Utf8JsonReader reader, Metered kind, int channel, scoped ReadOnlySpan<char> component)
    {
        double? wattHours = null;
        double? power = null;
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (kind == Metered.Energy && reader.ValueTextEquals("aenergy"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); error ??= $"shelly: {component.ToString()}.aenergy must be an object"; continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isTotal = reader.ValueTextEquals("total"u8);
                    reader.Read();
                    if (!isTotal) { reader.Skip(); continue; }
                    error = First(error, Register(ref reader, component, "aenergy.total", ref wattHours));
                }
            }
            else if (kind == Metered.Energy && reader.ValueTextEquals("apower"u8))
            {
                reader.Read();
                if (TryNumber(ref reader, out var watts)) power = watts;
            }
            else if ((kind == Metered.EmData && reader.ValueTextEquals("total_act"u8)) || (kind == Metered.Em1Data && reader.ValueTextEquals("total_act_energy"u8)))
            {
                reader.Read();
                error = First(error, Register(ref reader, component, kind == Metered.EmData ? "total_act" : "total_act_energy", ref wattHours));
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (error is null && wattHours is { } register)
        {
            if (_count == MaxChannels) return $"shelly: more than {MaxChannels} metered channels in one message";
            _registers[_count++] = (channel, register, power);
        }
        return error;
    }

    private static string? Register(ref Utf8JsonReader reader, scoped ReadOnlySpan<char> component, string field, ref double? wattHours)
    {
        if (!TryNumber(ref reader, out var value)) return $"shelly: {component.ToString()}.{field} must be a number (Wh)";
        if (value < 0) return $"shelly: {component.ToString()}.{field} must not be negative (it is a cumulative register)";
        wattHours = value;
        return null;
    }
}
