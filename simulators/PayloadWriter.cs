using System.Buffers;
using System.Text.Json;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;

namespace Sensing.Simulators;

/// <summary>
/// Writes native-format payloads with one reused <see cref="Utf8JsonWriter"/> over one reused buffer. Each
/// method returns the payload as a view of that buffer, valid until the next call: a generator that hands
/// messages straight to a hash, a file or a pooled publish buffer allocates nothing per message, and a caller
/// that keeps payloads (the demo feed) copies with <c>ToArray()</c>.
/// Meters stamp <c>ts</c> as RFC 3339 in Beijing time, everything else as epoch milliseconds: the contract
/// accepts both, and the feeds exercise both.
/// Not thread-safe: one per enumeration.
/// </summary>
internal sealed class PayloadWriter : IFeedFormat
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly Utf8JsonWriter _json;

    public PayloadWriter() => _json = new Utf8JsonWriter(_buffer);

    public string Name => "native";

    /// <summary>The contract's topic: <c>sensing/{community}/{kind}/{device}</c>.</summary>
    public string Topic(string community, DeviceKind kind, string device) => $"sensing/{community}/{kind.Name()}/{device}";

    public ReadOnlyMemory<byte> Meter(DateTimeOffset time, MeterType type, double total, string household)
    {
        Start();
        _json.WriteString("ts", time.ToOffset(HouseholdConsumption.LocalOffset));
        _json.WriteString("type", type == MeterType.Water ? "water" : "electricity");
        // Registers show what a real dial shows: litres on a water meter, 10 Wh on an electricity meter.
        _json.WriteNumber("total", Math.Round(total, type == MeterType.Water ? 3 : 2));
        _json.WriteString("household", household);
        return Finish();
    }

    public ReadOnlyMemory<byte> Gate(DateTimeOffset time, string gateEvent, string direction, string? credential, string? household)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        _json.WriteString("event", gateEvent);
        _json.WriteString("direction", direction);
        if (credential is not null)
            _json.WriteString("credential", credential);
        if (household is not null)
            _json.WriteString("household", household);
        return Finish();
    }

    public ReadOnlyMemory<byte> Lot(DateTimeOffset time, string lot, int free, int capacity)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        _json.WriteString("lot", lot);
        _json.WriteNumber("free", free);
        _json.WriteNumber("capacity", capacity);
        return Finish();
    }

    public ReadOnlyMemory<byte> Camera(DateTimeOffset time, string cameraEvent, int? count, string zone)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        _json.WriteString("event", cameraEvent);
        if (count is { } n)
            _json.WriteNumber("count", n);
        _json.WriteString("zone", zone);
        return Finish();
    }

    /// <summary>
    /// A payload ingest must refuse, as broken firmware sends them: a field of the wrong JSON type
    /// (<c>"total":"n/a"</c>) or a required field left out. Truncated JSON needs no writer: the generator cuts
    /// a well-formed payload short.
    /// </summary>
    public ReadOnlyMemory<byte> Malformed(DeviceKind kind, bool wrongType, DateTimeOffset time, string? household)
    {
        Start();
        _json.WriteNumber("ts", time.ToUnixTimeMilliseconds());
        switch (kind)
        {
            case DeviceKind.Meter:
                _json.WriteString("type", "water");
                if (wrongType)
                    _json.WriteString("total", "n/a");
                if (household is not null)
                    _json.WriteString("household", household);
                break;
            case DeviceKind.Gate:
                _json.WriteString("event", "pass");
                if (wrongType)
                    _json.WriteNumber("direction", 1);
                break;
            case DeviceKind.Parking:
                _json.WriteString("lot", "P1");
                if (wrongType)
                    _json.WriteString("free", "many");
                _json.WriteNumber("capacity", 100);
                break;
            default:
                if (wrongType)
                {
                    _json.WriteString("event", "person");
                    _json.WriteString("count", "lots");
                }
                break;
        }
        return Finish();
    }

    private void Start()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _json.WriteStartObject();
    }

    private ReadOnlyMemory<byte> Finish()
    {
        _json.WriteEndObject();
        _json.Flush();
        return _buffer.WrittenMemory;
    }
}
