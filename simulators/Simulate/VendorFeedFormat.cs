using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>
/// A compound whose devices speak their vendors' formats, as ingest's vendor normalizers read them (the main README's
/// "Vendor formats"): electricity meters as Tasmota plugs (<c>tele/&lt;device&gt;/SENSOR</c>, local time without offset),
/// water meters and parking lot counters as ChirpStack v4 uplinks (decoded <c>volume_l</c>, <c>free</c>/<c>capacity</c>),
/// gates as Hikvision access controllers (<c>AccessControllerEvent</c> minor types). <c>tasmota</c>, <c>chirpstack</c> and
/// <c>hikvision</c> switch one of them on; <c>vendors</c> all three. Whatever a chosen vendor does not cover stays native,
/// and so do cameras: Frigate spreads one camera over several topics (events, stats), which a one-topic-per-device feed
/// cannot say. The registry written with <c>--registry-out</c> maps each vendor device by its <see cref="Source"/>.
/// What the vendor formats cannot carry is lost on the way, as it would be: a gate pass's household (Hikvision names a
/// person, not a household) and a plate credential (sent as a card). Not thread-safe, like <see cref="PayloadWriter"/>.
/// </summary>
internal sealed class VendorFeedFormat : IFeedFormat
{
    private readonly PayloadWriter _native = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _json;
    private readonly bool _tasmota, _chirpStack, _hikvision;
    private Encoded _last;
    private long _serial = 1000;

    private enum Encoded { Native, Tasmota, ChirpStackWater, ChirpStackLot, Hikvision }

    public VendorFeedFormat(string name)
    {
        Name = name;
        _tasmota = name is "tasmota" or "vendors";
        _chirpStack = name is "chirpstack" or "vendors";
        _hikvision = name is "hikvision" or "vendors";
        _json = new Utf8JsonWriter(_buffer);
    }

    public static readonly string[] Names = ["tasmota", "chirpstack", "hikvision", "vendors"];

    public string Name { get; }

    // Simulated ids say what a meter measures: c3-wm-0042 water, c3-em-0042 electricity (SimulatedWorld).
    private static bool IsElectricity(string device) => device.Contains("-em-", StringComparison.Ordinal);

    private Encoded For(DeviceKind kind, string device) => kind switch
    {
        DeviceKind.Meter when _tasmota && IsElectricity(device) => Encoded.Tasmota,
        DeviceKind.Meter when _chirpStack && !IsElectricity(device) => Encoded.ChirpStackWater,
        DeviceKind.Parking when _chirpStack => Encoded.ChirpStackLot,
        DeviceKind.Gate when _hikvision => Encoded.Hikvision,
        _ => Encoded.Native,
    };

    /// <summary>A LoRaWAN DevEUI for a simulated device: 16 hex digits derived from its id, the same every run.</summary>
    public static string DevEui(string device) => Noise.Key(device).ToString("x16", CultureInfo.InvariantCulture);

    public string Topic(string community, DeviceKind kind, string device) => For(kind, device) switch
    {
        Encoded.Tasmota => $"tele/{device}/SENSOR",
        Encoded.ChirpStackWater => $"application/sensing-water/device/{DevEui(device)}/event/up",
        Encoded.ChirpStackLot => $"application/sensing-parking/device/{DevEui(device)}/event/up",
        Encoded.Hikvision => $"hikvision/{device}/event",
        _ => _native.Topic(community, kind, device),
    };

    public string? Source(DeviceKind kind, string device) => For(kind, device) switch
    {
        Encoded.Tasmota => "tasmota:" + device,
        Encoded.ChirpStackWater or Encoded.ChirpStackLot => "chirpstack:" + DevEui(device),
        Encoded.Hikvision => "hikvision:" + device,
        _ => null,
    };

    public ReadOnlyMemory<byte> Meter(DateTimeOffset time, MeterType type, double total, string household)
    {
        if (type == MeterType.Electricity && _tasmota)
        {
            _last = Encoded.Tasmota;
            Start();
            // Tasmota stamps local wall-clock time without an offset; ingest reads it in Sensing:TimeZone.
            _json.WriteString("Time", time.ToOffset(HouseholdConsumption.LocalOffset).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
            _json.WriteStartObject("ENERGY");
            _json.WriteNumber("Total", Math.Round(total, 3));
            _json.WriteEndObject();
            return Finish();
        }
        if (type == MeterType.Water && _chirpStack)
        {
            _last = Encoded.ChirpStackWater;
            StartUplink(time);
            // A water meter's register in litres, with the unit in the field name, as ingest requires.
            _json.WriteNumber("volume_l", Math.Round(total * 1000, 1));
            return FinishUplink();
        }
        _last = Encoded.Native;
        return _native.Meter(time, type, total, household);
    }

    public ReadOnlyMemory<byte> Gate(DateTimeOffset time, string gateEvent, string direction, string? credential, string? household)
    {
        if (!_hikvision)
        {
            _last = Encoded.Native;
            return _native.Gate(time, gateEvent, direction, credential, household);
        }
        _last = Encoded.Hikvision;
        // Major type 5 minor codes of the HCNetSDK tables; a plate is not an access-controller credential: sent as a card.
        var minor = (gateEvent, credential) switch
        {
            ("forced", _) => 0x1b,
            ("held_open", _) => 0x1c,
            ("denied", "face") => 0x4c,
            ("denied", "qr") => 0x9d,
            ("denied", _) => 0x06,
            (_, "face") => 0x4b,
            (_, "qr") => 0x9c,
            _ => 0x01,
        };
        return Hikvision(time, minor, gateEvent is "forced" or "held_open" ? null : direction == "out" ? 2 : 1, wrongType: false);
    }

    public ReadOnlyMemory<byte> Lot(DateTimeOffset time, string lot, int free, int capacity)
    {
        if (!_chirpStack)
        {
            _last = Encoded.Native;
            return _native.Lot(time, lot, free, capacity);
        }
        _last = Encoded.ChirpStackLot;
        StartUplink(time);
        _json.WriteNumber("free", free);
        _json.WriteNumber("capacity", capacity);
        _json.WriteString("lot", lot);
        return FinishUplink();
    }

    public ReadOnlyMemory<byte> Camera(DateTimeOffset time, string cameraEvent, int? count, string zone)
    {
        _last = Encoded.Native;
        return _native.Camera(time, cameraEvent, count, zone);
    }

    /// <summary>A refusal in the format of the message it replaces (the generator asks right after writing the good one).</summary>
    public ReadOnlyMemory<byte> Malformed(DeviceKind kind, bool wrongType, DateTimeOffset time, string? household)
    {
        switch (_last)
        {
            case Encoded.Tasmota when kind == DeviceKind.Meter:
                Start();
                _json.WriteString("Time", time.ToOffset(HouseholdConsumption.LocalOffset).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
                _json.WriteStartObject("ENERGY");
                if (wrongType) _json.WriteString("Total", "n/a");
                else _json.WriteNumber("Power", 40);
                _json.WriteEndObject();
                return Finish();
            case Encoded.ChirpStackWater when kind == DeviceKind.Meter:
                StartUplink(time);
                if (wrongType) _json.WriteString("volume_l", "n/a");
                else _json.WriteNumber("volume", 12.5);   // no unit: litres or m³?
                return FinishUplink();
            case Encoded.ChirpStackLot when kind == DeviceKind.Parking:
                StartUplink(time);
                if (wrongType) _json.WriteString("free", "many");
                _json.WriteNumber("capacity", 100);
                return FinishUplink();
            case Encoded.Hikvision when kind == DeviceKind.Gate:
                return Hikvision(time, 0x4b, 1, wrongType, missing: !wrongType);
            default:
                return _native.Malformed(kind, wrongType, time, household);
        }
    }

    private ReadOnlyMemory<byte> Hikvision(DateTimeOffset time, int minor, int? reader, bool wrongType, bool missing = false)
    {
        Start();
        _json.WriteString("ipAddress", "10.0.3.31");
        _json.WriteString("dateTime", time.ToOffset(HouseholdConsumption.LocalOffset).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture));
        _json.WriteNumber("activePostCount", 1);
        _json.WriteString("eventType", "AccessControllerEvent");
        _json.WriteString("eventState", "active");
        if (!missing)
        {
            _json.WriteStartObject("AccessControllerEvent");
            _json.WriteNumber("majorEventType", 5);
            if (wrongType) _json.WriteString("subEventType", minor.ToString(CultureInfo.InvariantCulture));
            else _json.WriteNumber("subEventType", minor);
            if (reader is { } r) _json.WriteNumber("cardReaderNo", r);
            _json.WriteNumber("doorNo", 1);
            _json.WriteNumber("serialNo", _serial++);
            _json.WriteEndObject();
        }
        return Finish();
    }

    private void StartUplink(DateTimeOffset time)
    {
        Start();
        _json.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        // The DevEUI travels in the topic; a real uplink repeats it in deviceInfo, which a payload writer without
        // the device cannot, and ingest reads the topic's when deviceInfo has none.
        _json.WriteStartObject("deviceInfo");
        _json.WriteString("applicationName", "sensing");
        _json.WriteEndObject();
        _json.WriteNumber("fCnt", time.ToUnixTimeSeconds() / 60 % 65536);
        _json.WriteNumber("fPort", 2);
        _json.WriteString("data", "AQ==");
        _json.WriteStartObject("object");
    }

    private ReadOnlyMemory<byte> FinishUplink()
    {
        _json.WriteEndObject();
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
