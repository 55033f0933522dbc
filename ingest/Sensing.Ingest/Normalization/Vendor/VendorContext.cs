using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Ingest.Quarantine;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// What every vendor normalizer shares: the registry (a vendor device is found by its source id, never created), the
/// quarantine for sources nobody registered, the local time zone for devices that send local times without an offset
/// (<c>Sensing:TimeZone</c>), and the counters of deliberately skipped messages. Thread-safe; the normalizers
/// themselves are not (one pipeline worker each).
/// </summary>
public sealed class VendorContext(DeviceRegistry registry, QuarantineBook quarantine, TimeZoneInfo timeZone, FormatCounters counters, ILogger? logger = null)
{
    /// <summary>Longest source id accepted: real ones are short (<c>chirpstack:</c> + 16 hex digits); longer is garbage.</summary>
    public const int MaxSourceLength = 160;

    public DeviceRegistry Registry { get; } = registry;
    public QuarantineBook Quarantine { get; } = quarantine;
    public TimeZoneInfo TimeZone { get; } = timeZone;
    public FormatCounters Counters { get; } = counters;

    /// <summary>For protocol trouble worth a line in the log (a Sparkplug sequence gap), not for bad messages: those are dead-lettered.</summary>
    public ILogger Logger { get; } = logger ?? NullLogger.Instance;

    /// <summary>A context for tests and benchmarks: fresh quarantine and counters, the given zone (default Asia/Shanghai).</summary>
    public static VendorContext For(DeviceRegistry registry, TimeZoneInfo? timeZone = null) =>
        new(registry, new QuarantineBook(), timeZone ?? TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"), new FormatCounters());

    /// <summary>
    /// Finds the registry device of the vendor source <c>{prefix}:{id}</c>. Allocation-free for a registered source.
    /// For an unknown one the message is quarantined: false, with the quarantine reason, and the source booked.
    /// <paramref name="lowerCase"/> folds the id (EUIs and MACs arrive in either case from different tools).
    /// With <paramref name="listOnly"/> an unknown source is listed but not counted as a quarantined message: for
    /// messages that are kept anyway because they also name registered devices.
    /// </summary>
    public bool TryFind(string format, ReadOnlySpan<char> prefix, ReadOnlySpan<char> id, in IncomingMessage message,
        out Device device, out string? reason, bool lowerCase = false, bool listOnly = false)
    {
        device = null!;
        Span<char> buffer = stackalloc char[MaxSourceLength];
        if (id.IsEmpty)
        {
            reason = $"{format}: the device id is empty";
            return false;
        }
        if (prefix.Length + 1 + id.Length > buffer.Length)
        {
            reason = $"{format}: device id of {id.Length} characters is too long for a source id (at most {MaxSourceLength - prefix.Length - 1})";
            return false;
        }
        prefix.CopyTo(buffer);
        buffer[prefix.Length] = ':';
        var idPart = buffer.Slice(prefix.Length + 1, id.Length);
        if (lowerCase) id.ToLowerInvariant(idPart);
        else id.CopyTo(idPart);
        var source = buffer[..(prefix.Length + 1 + id.Length)];
        if (!NativeNormalizer.IsCleanText(idPart) || idPart.Contains(' '))
        {
            reason = $"{format}: device id must not contain spaces or control characters or end with a backslash";
            return false;
        }
        if (Registry.FindBySource(source) is { } found)
        {
            device = found;
            reason = null;
            return true;
        }
        var text = source.ToString();
        if (listOnly) Quarantine.Note(text, format, message.Topic, message.ReceivedAt);
        else Quarantine.Hold(text, format, message.Topic, message.ReceivedAt);
        reason = QuarantineBook.Reason(text);
        return false;
    }

    /// <summary>A specific reason when the registry says the device is another kind than what this message reports.</summary>
    public static string? KindMismatch(string format, Device device, DeviceKind expected) =>
        device.Kind == expected
            ? null
            : $"{format}: device {device.Id} (source {device.Source}) is registered as a {device.Kind.Name()}, but this message carries {expected.Name()} readings";

    /// <summary>Meters need a household for consumption and welfare; a vendor payload never names one, the registry must.</summary>
    public static string? MissingHousehold(string format, Device device) =>
        device.Household is not null
            ? null
            : $"{format}: meter {device.Id} (source {device.Source}) has no household in the registry; register it with one";
}

/// <summary>
/// Counters of the vendor formats for <c>/metrics</c>: messages deliberately not stored (bridge and status topics,
/// snapshots, detections outside the canonical vocabulary) per format, and Sparkplug sequence gaps per edge node.
/// </summary>
public sealed class FormatCounters : IMetricsSource
{
    private readonly ConcurrentDictionary<string, Counter> _skipped = new(StringComparer.Ordinal);
    private long _sequenceGaps;

    public void Skipped(string format) => _skipped.GetOrAdd(format, static _ => new Counter()).Add();

    public long SkippedOf(string format) => _skipped.TryGetValue(format, out var c) ? c.Value : 0;

    public void SequenceGap() => Interlocked.Increment(ref _sequenceGaps);

    public long SequenceGaps => Interlocked.Read(ref _sequenceGaps);

    public void Collect(ICollection<MetricSample> samples)
    {
        foreach (var (format, counter) in _skipped.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            samples.Add(new("sensing_messages_skipped_total", "Vendor messages acknowledged without readings on purpose (bridge/status topics, snapshots, events outside the canonical vocabulary).",
                "counter", counter.Value, $"format=\"{format}\""));
        }
        samples.Add(new("sensing_sparkplug_sequence_gaps_total", "Sparkplug B messages whose seq did not follow the previous one of the same edge node (lost or reordered messages).",
            "counter", SequenceGaps));
    }

    private sealed class Counter
    {
        private long _value;
        public long Value => Interlocked.Read(ref _value);
        public void Add() => Interlocked.Increment(ref _value);
    }
}
