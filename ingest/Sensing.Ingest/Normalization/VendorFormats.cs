using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Normalization;

/// <summary>
/// The wire formats ingest reads, and the topics each one is read from by default (the contract's "Vendor formats").
/// <c>Ingest:Formats</c> starts from <see cref="Defaults"/>; see <see cref="IngestOptions.Formats"/>.
/// </summary>
public static class VendorFormats
{
    /// <summary>The format value that switches a topic filter off.</summary>
    public const string Off = "off";

    public static readonly string[] Names =
    [
        NativeName, FrigateNormalizer.Name, TasmotaNormalizer.Name, ShellyNormalizer.Name, ChirpStackNormalizer.Name,
        TheThingsStackNormalizer.Name, Zigbee2MqttNormalizer.Name, SparkplugNormalizer.Name, HikvisionNormalizer.Name,
    ];

    public const string NativeName = "native";

    public static readonly IReadOnlyDictionary<string, string> Defaults = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["sensing/#"] = NativeName,
        ["frigate/#"] = FrigateNormalizer.Name,
        ["tele/+/SENSOR"] = TasmotaNormalizer.Name,
        ["+/events/rpc"] = ShellyNormalizer.Name,
        ["+/status/#"] = ShellyNormalizer.Name,
        ["application/+/device/+/event/up"] = ChirpStackNormalizer.Name,
        ["v3/+/devices/+/up"] = TheThingsStackNormalizer.Name,
        ["zigbee2mqtt/+"] = Zigbee2MqttNormalizer.Name,
        ["spBv1.0/#"] = SparkplugNormalizer.Name,
        ["hikvision/+/event"] = HikvisionNormalizer.Name,
    };

    /// <summary>The enabled routes (filter → format), <c>off</c> and empty values left out, sorted by filter.</summary>
    public static IReadOnlyList<(string Filter, string Format)> Enabled(IReadOnlyDictionary<string, string> formats) =>
        [.. formats
            .Where(kv => !string.IsNullOrWhiteSpace(kv.Value) && !string.Equals(kv.Value.Trim(), Off, StringComparison.OrdinalIgnoreCase))
            .Select(kv => (kv.Key.Trim(), kv.Value.Trim().ToLowerInvariant()))
            .OrderBy(r => r.Item1, StringComparer.Ordinal)];

    /// <summary>Every problem with a formats table, for a start-up error; empty when it is fine.</summary>
    public static IReadOnlyList<string> Problems(IReadOnlyDictionary<string, string> formats)
    {
        var problems = new List<string>();
        foreach (var (filter, format) in Enabled(formats))
        {
            if (!Names.Contains(format, StringComparer.Ordinal))
            {
                problems.Add($"Ingest:Formats: '{filter}' names unknown format '{format}' (expected {string.Join(", ", Names)} or off)");
            }
            if (FilterProblem(filter) is { } problem)
            {
                problems.Add($"Ingest:Formats: '{filter}' {problem}");
            }
        }
        return problems;
    }

    /// <summary>What is wrong with an MQTT topic filter, or null.</summary>
    public static string? FilterProblem(string filter)
    {
        if (filter.Length == 0) return "is empty";
        if (filter.StartsWith('$')) return "must not start with $ (broker-internal and shared-subscription topics)";
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level.Contains('#') && (level != "#" || i != levels.Length - 1)) return "may use # only as the whole last level";
            if (level.Contains('+') && level != "+") return "may use + only as a whole level";
            if (level.Contains('\0')) return "must not contain NUL";
        }
        return null;
    }

    /// <summary>A normalizer of the named format; one instance serves all of that format's filters.</summary>
    public static IPayloadNormalizer Create(string format, DeviceRegistry registry, VendorContext context) => format switch
    {
        NativeName => new NativeNormalizer(registry),
        FrigateNormalizer.Name => new FrigateNormalizer(context),
        TasmotaNormalizer.Name => new TasmotaNormalizer(context),
        ShellyNormalizer.Name => new ShellyNormalizer(context),
        ChirpStackNormalizer.Name => new ChirpStackNormalizer(context),
        TheThingsStackNormalizer.Name => new TheThingsStackNormalizer(context),
        Zigbee2MqttNormalizer.Name => new Zigbee2MqttNormalizer(context),
        SparkplugNormalizer.Name => new SparkplugNormalizer(context),
        HikvisionNormalizer.Name => new HikvisionNormalizer(context),
        _ => throw new ArgumentException($"unknown format '{format}' (expected {string.Join(", ", Names)})", nameof(format)),
    };

    /// <summary>The router for a formats table (assumed free of <see cref="Problems"/>).</summary>
    public static FormatRouter Router(IReadOnlyDictionary<string, string> formats, DeviceRegistry registry, VendorContext context)
    {
        var normalizers = new Dictionary<string, IPayloadNormalizer>(StringComparer.Ordinal);
        var routes = new List<(string, IPayloadNormalizer)>();
        foreach (var (filter, format) in Enabled(formats))
        {
            if (!normalizers.TryGetValue(format, out var normalizer))
            {
                normalizers[format] = normalizer = Create(format, registry, context);
            }
            routes.Add((filter, normalizer));
        }
        return new FormatRouter(routes);
    }
}
