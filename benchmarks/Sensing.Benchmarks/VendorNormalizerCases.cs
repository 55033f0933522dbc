using System.Buffers.Binary;
using System.Text;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Registry;

namespace Sensing.Benchmarks;

/// <summary>
/// One vendor-format message as the device sends it (payloads like the samples of the format tests), with the most
/// its normalizer may allocate per message. As for the native cases, a registered device's reading costs nothing; what
/// is allocated is the attributes string (a Tasmota meter's power/voltage/current, a camera's score and event id, a
/// LoRaWAN frame counter and battery, a gate's credential, code and serial). On x64 a string of n chars takes
/// 22 + 2n bytes rounded up to 8.
/// </summary>
public sealed record VendorNormalizerCase(string Name, string Format, string Topic, byte[] Payload, int BudgetBytes)
{
    public static readonly DateTimeOffset ReceivedAt = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static IReadOnlyList<VendorNormalizerCase> All { get; } =
    [
        // {"score":0.958984375,"frigate_id":"1795130100.475377-mxklsc"} is 61 chars: 22 + 122 = 144 B.
        new("frigate-new", FrigateNormalizer.Name, "frigate/events", Utf8(
            """{"type":"new","before":{"id":"1795130100.475377-mxklsc","camera":"front_door","label":"person","top_score":0.9,"false_positive":false,"start_time":1795130100.475377,"current_zones":[]},"after":{"id":"1795130100.475377-mxklsc","camera":"front_door","frame_time":1795130106.77,"label":"person","sub_label":null,"top_score":0.958984375,"false_positive":false,"start_time":1795130100.475377,"end_time":null,"score":0.87890625,"box":[432,496,544,854],"area":40096,"current_zones":["driveway"],"entered_zones":["driveway"],"has_snapshot":true,"stationary":false}}"""), 144),
        new("frigate-update", FrigateNormalizer.Name, "frigate/events", Utf8(
            """{"type":"update","after":{"id":"1795130100.475377-mxklsc","camera":"front_door","label":"person","top_score":0.95,"false_positive":false,"start_time":1795130100.475377,"current_zones":["driveway","yard"]}}"""), 0),
        // {"power":45,"voltage":229,"current":0.227} is 42 chars: 106 → 112 B.
        new("tasmota", TasmotaNormalizer.Name, "tele/meter-17/SENSOR", Utf8(
            """{"Time":"2026-11-20T07:15:00","ENERGY":{"TotalStartTime":"2025-03-01T10:00:00","Total":123.456,"Yesterday":3.2,"Today":1.1,"Period":4,"Power":45,"ApparentPower":52,"ReactivePower":26,"Factor":0.87,"Voltage":229,"Current":0.227}}"""), 112),
        new("shelly-emdata", ShellyNormalizer.Name, "shellypro3em-abc/events/rpc", Utf8(
            """{"src":"shellypro3em-abc","dst":"shellypro3em-abc/events","method":"NotifyStatus","params":{"ts":1795130100.12,"emdata:0":{"id":0,"total_act":123456.7,"total_act_ret":0.0}}}"""), 0),
        // {"battery":3.6,"f_cnt":42} is 26 chars: 74 → 80 B.
        new("chirpstack", ChirpStackNormalizer.Name, "application/a1/device/0004a30b001c0530/event/up", Utf8(
            """{"deduplicationId":"3ac7e3c4-4401-4b8d-9386-a5c902f9202d","time":"2026-11-20T07:15:00.123456+08:00","deviceInfo":{"tenantId":"52f14cd4","applicationId":"a1","deviceName":"space-0530","devEui":"0004a30b001c0530","tags":{}},"devAddr":"01e2f3a4","adr":true,"dr":5,"fCnt":42,"fPort":2,"confirmed":false,"data":"AQ==","object":{"occupied":true,"battery":3.6},"rxInfo":[{"gatewayId":"0016c001ff10a235","rssi":-97,"snr":7.5}],"txInfo":{"frequency":868100000}}"""), 80),
        // {"f_cnt":42} is 12 chars: 46 → 48 B.
        new("tts-water", TheThingsStackNormalizer.Name, "v3/water@ttn/devices/wm-0044/up", Utf8(
            """{"end_device_ids":{"device_id":"wm-0044","application_ids":{"application_id":"water"},"dev_eui":"70B3D5E75E005678"},"received_at":"2026-11-19T23:15:00.223456789Z","uplink_message":{"f_port":1,"f_cnt":42,"frm_payload":"AQ==","decoded_payload":{"volume_m3":12.345},"rx_metadata":[{"gateway_ids":{"gateway_id":"gw-1"},"rssi":-101,"snr":6.2}],"received_at":"2026-11-19T23:15:00.123456789Z"}}"""), 48),
        // {"power":45.1,"voltage":229,"current":0.2} is 42 chars: 112 B.
        new("zigbee2mqtt-plug", Zigbee2MqttNormalizer.Name, "zigbee2mqtt/kitchen_plug", Utf8(
            """{"energy":12.34,"power":45.1,"voltage":229,"current":0.2,"state":"ON","linkquality":96,"last_seen":"2026-11-20T07:15:00+08:00"}"""), 112),
        new("zigbee2mqtt-contact", Zigbee2MqttNormalizer.Name, "zigbee2mqtt/front_door", Utf8("""{"contact":false,"battery":90,"voltage":2900,"linkquality":102}"""), 0),
        new("sparkplug-ddata", SparkplugNormalizer.Name, "spBv1.0/c1/DDATA/plant1/meter7", SparkplugDData(), 0),
        // {"credential":"face","event_code":75,"serial":1842} is 51 chars: 124 → 128 B.
        new("hikvision-pass", HikvisionNormalizer.Name, "hikvision/ds-k1t671-e1/event", Utf8(
            """{"ipAddress":"10.0.3.31","portNo":80,"protocol":"HTTP","macAddress":"24:0f:9b:12:34:56","channelID":1,"dateTime":"2026-11-20T07:15:00+08:00","activePostCount":1,"eventType":"AccessControllerEvent","eventState":"active","eventDescription":"Access Controller Event","AccessControllerEvent":{"deviceName":"Access Controller","majorEventType":5,"subEventType":75,"cardReaderNo":1,"doorNo":1,"serialNo":1842,"currentVerifyMode":"cardOrFace","currentEvent":true}}"""), 128),
    ];

    public IncomingMessage Message => new(Topic, Payload, ReceivedAt);

    public IPayloadNormalizer CreateNormalizer() => VendorFormats.Create(Format, SeededRegistry(), VendorContext.For(SeededRegistry()));

    /// <summary>Every case's vendor device registered (with a household for the meters), as in steady state.</summary>
    public static DeviceRegistry SeededRegistry()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Household("h-0042", "c1", "g1", ElderlyLivingAlone: true));
        Device[] devices =
        [
            new("cam-front", DeviceKind.Camera, "c1", "g1", Source: "frigate:front_door"),
            new("em-0042", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "tasmota:meter-17"),
            new("em-0043", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "shelly:shellypro3em-abc"),
            new("park-0530", DeviceKind.Parking, "c1", "g1", Source: "chirpstack:0004a30b001c0530"),
            new("wm-0044", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "tts:70b3d5e75e005678"),
            new("plug-z1", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "z2m:kitchen_plug"),
            new("wm-0045", DeviceKind.Meter, "c1", "g1", "h-0042", Source: "sparkplug:c1/plant1/meter7"),
            new("gate-east", DeviceKind.Gate, "c1", "g1", Source: "hikvision:ds-k1t671-e1"),
        ];
        foreach (var device in devices) registry.Upsert(device);
        return registry;
    }

    public override string ToString() => Name;

    /// <summary>
    /// A Sparkplug B DDATA with one named metric (so no birth is needed), written field by field from the schema:
    /// Payload{timestamp=1, metrics=2 {name=1 "water.total", timestamp=3, datatype=4 Double(10), double_value=13}, seq=3}.
    /// </summary>
    private static byte[] SparkplugDData()
    {
        var metric = new List<byte>();
        Field(metric, 1, 2); Bytes(metric, Encoding.UTF8.GetBytes("water.total"));
        Field(metric, 3, 0); Varint(metric, 1_795_130_100_000);
        Field(metric, 4, 0); Varint(metric, 10);
        Field(metric, 13, 1);
        var value = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(value, 12.5);
        metric.AddRange(value);
        var payload = new List<byte>();
        Field(payload, 1, 0); Varint(payload, 1_795_130_100_000);
        Field(payload, 2, 2); Bytes(payload, [.. metric]);
        Field(payload, 3, 0); Varint(payload, 1);
        return [.. payload];

        static void Field(List<byte> output, int number, int wireType) => Varint(output, (ulong)((number << 3) | wireType));
        static void Bytes(List<byte> output, byte[] bytes) { Varint(output, (ulong)bytes.Length); output.AddRange(bytes); }
        static void Varint(List<byte> output, ulong v) { for (; v >= 0x80; v >>= 7) output.Add((byte)(v | 0x80)); output.Add((byte)v); }
    }
}
