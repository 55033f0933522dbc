namespace Sensing.Ingest.Tests.Hostile;

/// <summary>
/// The hand-made malformed payloads of <c>Hostile/Corpus/&lt;format&gt;/</c> (what each one is: <c>Corpus/README.md</c>).
/// A file's name says which topic it is sent on: native files start with the device kind (<c>meter-</c>, <c>gate-</c>…),
/// Frigate ones with <c>events-</c>, <c>count-</c> or <c>stats-</c>, Sparkplug ones with the message type and device
/// (<c>ddata-meter7-</c>); the others go to a registered device's topic of their format.
/// </summary>
public static class Corpus
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Hostile", "Corpus");

    public static IEnumerable<(string Format, string Topic, byte[] Payload)> Load()
    {
        foreach (var file in Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var format = Path.GetFileName(Path.GetDirectoryName(file)!);
            if (format == "Corpus") continue;
            yield return (format, TopicFor(format, Path.GetFileName(file)), File.ReadAllBytes(file));
        }
    }

    /// <summary>Every file as (format, file name, topic, payload), for a theory row each.</summary>
    public static IEnumerable<(string Format, string Name, string Topic, byte[] Payload)> Files() =>
        Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)!) != "Corpus")
            .Select(f => (Path.GetFileName(Path.GetDirectoryName(f)!), Path.GetFileName(f), TopicFor(Path.GetFileName(Path.GetDirectoryName(f)!), Path.GetFileName(f)), File.ReadAllBytes(f)));

    public static string TopicFor(string format, string name) => format switch
    {
        "native" => name.Split('-')[0] switch
        {
            "meter" => "sensing/c1/meter/c1-wm-0042",
            "gate" => "sensing/c1/gate/c1-gate-01",
            "parking" => "sensing/c1/parking/c1-park-01",
            _ => "sensing/c1/camera/c1-cam-07",
        },
        "frigate" => name.Split('-')[0] switch
        {
            "count" => "frigate/front_door/person",
            "stats" => "frigate/stats",
            _ => "frigate/events",
        },
        "tasmota" => "tele/meter-17/SENSOR",
        "shelly" => name.StartsWith("channel", StringComparison.Ordinal) || name.StartsWith("many", StringComparison.Ordinal)
            ? "shellypro4pm-aa/events/rpc" : "shellypro3em-abc/events/rpc",
        "chirpstack" => "application/a1/device/0004a30b001c0530/event/up",
        "tts" => "v3/parking@ttn/devices/space-a018/up",
        "zigbee2mqtt" => "zigbee2mqtt/kitchen_plug",
        "sparkplug" => $"spBv1.0/c1/{name.Split('-')[0].ToUpperInvariant()}/plant1/{name.Split('-')[1]}",
        "hikvision" => "hikvision/ds-k1t671-e1/event",
        _ => throw new ArgumentException($"corpus folder '{format}' is not a format"),
    };
}
