using System.Globalization;
using System.Text.Json;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Tests.Formats;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>What one input did to a normalizer.</summary>
public enum FuzzOutcome { Accepted, Skipped, Refused }

/// <summary>
/// The formats table ingest starts with (<see cref="VendorFormats.Defaults"/>: every normalizer, routed by topic exactly
/// as in production) over the vendor tests' registry, and the properties every input must keep: the normalizer does not
/// throw, a refusal has a specific reason and appends nothing, and what is accepted is a valid canonical reading.
/// One rig is one ingest worker: normalizers keep state (Sparkplug sessions, label interning), so inputs run in order.
/// </summary>
public sealed class FuzzRig
{
    public static readonly DateTimeOffset ReceivedAt = new(2026, 11, 24, 2, 0, 0, TimeSpan.Zero);

    private readonly List<Reading> _readings = [];
    private readonly Dictionary<string, FormatTally> _tallies = new(StringComparer.Ordinal);

    public FuzzRig()
    {
        Registry = VendorWorld.NewRegistry();
        Context = VendorContext.For(Registry);
        Router = VendorFormats.Router(VendorFormats.Defaults, Registry, Context);
    }

    public DeviceRegistry Registry { get; }
    public VendorContext Context { get; }
    public FormatRouter Router { get; }

    public IReadOnlyDictionary<string, FormatTally> Tallies => _tallies;

    /// <summary>
    /// Runs one input through the normalizer its topic routes to; throws (failing the property) on a broken promise.
    /// A topic no filter matches is what the pipeline dead-letters as "no normalizer is configured for this topic".
    /// </summary>
    public FuzzOutcome Run(FuzzInput input, DateTimeOffset? receivedAt = null)
    {
        var normalizer = Router.Find(input.Topic);
        var tally = Tally(input.Format);
        if (normalizer is null)
        {
            tally.Count("refused", "no normalizer is configured for this topic");
            return FuzzOutcome.Refused;
        }
        _readings.Clear();
        _readings.Add(Sentinel);
        string? reason;
        try
        {
            reason = normalizer.Normalize(new IncomingMessage(input.Topic, input.Payload, receivedAt ?? ReceivedAt), _readings);
        }
        catch (Exception e)
        {
            throw new FuzzFailure($"normalizer {normalizer.Format} threw {e.GetType().Name}: {e.Message}\n  input: {input}", e);
        }
        if (_readings.Count == 0 || _readings[0] != Sentinel)
        {
            throw new FuzzFailure($"normalizer {normalizer.Format} touched readings it did not append\n  input: {input}");
        }
        if (reason is not null)
        {
            if (ReasonProblem(reason) is { } problem) throw new FuzzFailure($"normalizer {normalizer.Format}: {problem}: '{reason}'\n  input: {input}");
            if (_readings.Count != 1) throw new FuzzFailure($"normalizer {normalizer.Format} refused ('{reason}') but appended {_readings.Count - 1} readings\n  input: {input}");
            tally.Count("refused", reason);
            return FuzzOutcome.Refused;
        }
        for (var i = 1; i < _readings.Count; i++)
        {
            if (ReadingProblem(_readings[i]) is { } problem) throw new FuzzFailure($"normalizer {normalizer.Format} accepted an invalid reading ({problem}): {_readings[i]}\n  input: {input}");
        }
        var outcome = _readings.Count > 1 ? FuzzOutcome.Accepted : FuzzOutcome.Skipped;
        tally.Count(outcome == FuzzOutcome.Accepted ? "accepted" : "skipped", null);
        return outcome;
    }

    /// <summary>One message through the normalizer its topic routes to, as the format tests run theirs (for the findings' regression tests).</summary>
    public (string? Reason, List<Reading> Readings) Run(string topic, byte[] payload) =>
        VendorWorld.Run(Router.Find(topic) ?? throw new ArgumentException($"no format reads {topic}"), topic, payload);

    public (string? Reason, List<Reading> Readings) Run(string topic, string payload) => Run(topic, System.Text.Encoding.UTF8.GetBytes(payload));

    private FormatTally Tally(string format)
    {
        if (!_tallies.TryGetValue(format, out var tally)) _tallies[format] = tally = new FormatTally();
        return tally;
    }

    private static readonly Reading Sentinel = new("sentinel", "c0", null, null, "sentinel", DateTimeOffset.UnixEpoch, 0);

    /// <summary>
    /// What makes a dead-letter reason useless, or null. A reason must say what is wrong, so an operator can act on it:
    /// not empty, not the pipeline's catch-all for a normalizer that threw, no exception type names, one line.
    /// </summary>
    public static string? ReasonProblem(string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason)) return "empty reason";
        if (reason.StartsWith("normalizer ", StringComparison.Ordinal) && reason.Contains(" failed: ", StringComparison.Ordinal)) return "the normalizer threw (the pipeline's catch-all)";
        if (reason.Contains("Exception", StringComparison.Ordinal)) return "an exception's name instead of a reason";
        if (reason.Length < 12) return "too short to say what is wrong";
        if (reason.Contains('\n') || reason.Contains('\r')) return "more than one line";
        return null;
    }

    private static readonly HashSet<string> s_metrics = new(StringComparer.Ordinal)
    {
        Metrics.WaterTotal, Metrics.ElectricityTotal, Metrics.WaterLeak, Metrics.GatePass, Metrics.GateDenied, Metrics.GateForced, Metrics.GateHeldOpen,
        Metrics.ParkingOccupied, Metrics.ParkingFree, Metrics.ParkingCapacity,
    };

    private static readonly DateTimeOffset s_earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset s_latest = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// What makes a reading invalid for the store and analytics, or null: ids and labels a store can key on, a metric of
    /// the canonical schema, a finite value in its range, a time within 2000–2099, attributes that are a JSON object.
    /// </summary>
    public static string? ReadingProblem(Reading r)
    {
        if (!NativeNormalizer.IsCleanText(r.Device)) return "device id";
        if (!NativeNormalizer.IsCleanText(r.Community)) return "community";
        if (r.Grid is not null && !NativeNormalizer.IsCleanText(r.Grid)) return "grid";
        if (r.Household is not null && !NativeNormalizer.IsCleanText(r.Household)) return "household";
        if (r.Label is not null && !NativeNormalizer.IsCleanText(r.Label)) return "label";
        if (HasLoneSurrogate(r.Device) || HasLoneSurrogate(r.Label) || HasLoneSurrogate(r.Household)) return "lone surrogate in an id";
        if (!s_metrics.Contains(r.Metric) && !(r.Metric.StartsWith(Metrics.CameraPrefix, StringComparison.Ordinal) && r.Metric.Length > Metrics.CameraPrefix.Length)) return $"metric '{r.Metric}'";
        if (!double.IsFinite(r.Value)) return "value not finite";
        if (r.Value < 0) return "negative value";
        if (r.Metric is Metrics.ParkingOccupied or Metrics.WaterLeak && r.Value is not (0 or 1)) return "a 0/1 metric with another value";
        if (r.Time < s_earliest || r.Time >= s_latest) return "time outside 2000–2099";
        if (r.Time.Offset != TimeSpan.Zero) return "time not in UTC";
        if (r.Attributes is not null)
        {
            try
            {
                using var document = JsonDocument.Parse(r.Attributes);
                if (document.RootElement.ValueKind != JsonValueKind.Object) return "attributes not a JSON object";
            }
            catch (JsonException)
            {
                return "attributes not JSON";
            }
        }
        return null;
    }

    private static bool HasLoneSurrogate(string? text)
    {
        if (text is null) return false;
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return true;
        }
        return false;
    }

    /// <summary>One line per format: inputs, accepted, skipped, refused, and the most common reasons (digits folded).</summary>
    public string Report(int reasons = 4)
    {
        var lines = new List<string>();
        foreach (var (format, tally) in _tallies.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{format,-12} inputs {tally.Inputs,8}  accepted {tally.Of("accepted"),7}  skipped {tally.Of("skipped"),7}  refused {tally.Of("refused"),7}  distinct reasons {tally.Reasons.Count}"));
            foreach (var (reason, count) in tally.Reasons.OrderByDescending(kv => kv.Value).Take(reasons))
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"    {count,7}  {reason}"));
            }
        }
        return string.Join('\n', lines);
    }
}

/// <summary>Counts of one format's outcomes, and its refusal reasons with digits folded (so "byte 17" and "byte 18" are one reason).</summary>
public sealed class FormatTally
{
    private readonly Dictionary<string, long> _outcomes = new(StringComparer.Ordinal);

    public long Inputs { get; private set; }

    /// <summary>Bounded: a reason that embeds input (an unknown device id) would otherwise make this grow with the run.</summary>
    public Dictionary<string, long> Reasons { get; } = new(StringComparer.Ordinal);

    public long Of(string outcome) => _outcomes.GetValueOrDefault(outcome);

    public void Count(string outcome, string? reason)
    {
        Inputs++;
        _outcomes[outcome] = Of(outcome) + 1;
        if (reason is null) return;
        var folded = Fold(reason);
        if (Reasons.ContainsKey(folded) || Reasons.Count < 500) Reasons[folded] = Reasons.GetValueOrDefault(folded) + 1;
    }

    private static string Fold(string reason)
    {
        var head = reason.Length > 90 ? reason[..90] + "…" : reason;
        return string.Concat(head.Select(c => char.IsAsciiDigit(c) ? '#' : c));
    }
}

/// <summary>A broken promise found by the fuzzer (thrown from the property, so FsCheck reports the input).</summary>
public sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);
