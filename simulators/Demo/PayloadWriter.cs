using System.Buffers;
using System.Text.Json;

namespace Sensing.Simulators;

/// <summary>
/// Writes native-format payloads with one reused <see cref="Utf8JsonWriter"/> over one reused buffer; the
/// only allocation per message is the exact-size payload array the publisher hands to MQTT.
/// Meters stamp <c>ts</c> as RFC 3339 in Beijing time, everything else as epoch milliseconds: the contract
/// accepts both, and the demo exercises both.
/// Not thread-safe: one per enumeration.
/// </summary>
internal sealed class PayloadWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly Utf8JsonWriter _json;

    public PayloadWriter() => _json = new Utf8JsonWriter(_buffer);

    public byte[] Meter(DateTimeOffset time, MeterType type, double total, string household)
    {
        Start();
        _json.WriteString("ts", time.ToOffset(HouseholdConsumption.LocalOffset));
        _json.WriteString("type", type == MeterType.Water ? "water" : "electricity");
        // Registers show what a real dial shows: litres on a water meter, 10 Wh on an electricity meter.
        _json.WriteNumber("total", Math.Round(total, type == MeterType.Water ? 3 : 2));
        _json.WriteString("household", household);
        return Finish();
    }

    public byte[] Gate(DateTimeOffset time, string gateEvent, string direction, string credential, string? household)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        _json.WriteString("event", gateEvent);
        _json.WriteString("direction", direction);
        _json.WriteString("credential", credential);
        if (household is not null)
            _json.WriteString("household", household);
        return Finish();
    }

    public byte[] Lot(DateTimeOffset time, string lot, int free, int capacity)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        _json.WriteString("lot", lot);
        _json.WriteNumber("free", free);
        _json.WriteNumber("capacity", capacity);
        return Finish();
    }

    public byte[] Camera(DateTimeOffset time, string cameraEvent, int? count, string zone)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        _json.WriteString("event", cameraEvent);
        if (count is { } n)
            _json.WriteNumber("count", n);
        _json.WriteString("zone", zone);
        return Finish();
    }

    private void Start()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _json.WriteStartObject();
    }

    private byte[] Finish()
    {
        _json.WriteEndObject();
        _json.Flush();
        return _buffer.WrittenSpan.ToArray();
    }
}
