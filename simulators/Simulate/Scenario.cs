using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>Ground-truth kinds that are not alert kinds: situations that must not alarm, and injected device faults.</summary>
public static class TruthKinds
{
    public const string HolidayAway = "confounder:holiday_away";
    public const string Guest = "confounder:guest";
    public const string HeatWave = "confounder:heat_wave";
    public const string Trip = "confounder:trip";
    public const string Season = "confounder:season";
    public const string Flapping = "fault:flapping";
    public const string ClockSkew = "fault:clock_skew";
    public const string CounterReset = "fault:counter_reset";

    /// <summary>Kinds a scenario may ask for (faults come from the fault rates instead).</summary>
    internal static readonly string[] Injectable =
    [
        AlertKinds.LivingAloneDrop, AlertKinds.WaterLeak, AlertKinds.ParkingFull, AlertKinds.GateForced,
        AlertKinds.DeviceSilent, AlertKinds.CameraEvent, HolidayAway, Guest, HeatWave, Trip, Season,
    ];
}

/// <summary>
/// One labelled incident as published, and one line of the truth file. Subject is what an alert would name:
/// the household (welfare, away, guest), the device (leak meter, lot counter, gate, camera) or the community
/// (heat wave). Depth: for a welfare drop the fraction of usual use left (0.02 = 2 %); for a leak the added
/// flow in m³/h; for a guest or heat wave the factor on use; null otherwise.
/// </summary>
internal sealed record Incident(
    string Kind,
    string Subject,
    string Community,
    string? Grid,
    string? Household,
    string? Device,
    DateTimeOffset Onset,
    DateTimeOffset End,
    double? Depth,
    bool ExpectAlert)
{
    [JsonIgnore] public int CommunityIndex { get; init; } = -1;
    [JsonIgnore] public int HouseholdIndex { get; init; } = -1;
    [JsonIgnore] public int DeviceIndex { get; init; } = -1;
}

/// <summary>
/// What to inject, before subjects are chosen: from a preset or a scenario file. Offsets are from the
/// run's start. Shape of a scenario file:
/// <code>
/// {"incidents":[
///   {"kind":"living_alone_drop","community":"c1","onset":"+6h","duration":"12h","depth":0.05},
///   {"kind":"water_leak","subject":"c2-wm-0107","onset":"2026-11-01T02:00:00+08:00","duration":"8h","depth":0.04},
///   {"kind":"confounder:holiday_away","onset":"+1h","duration":"2d"}
/// ]}
/// </code>
/// A missing community means every community; a missing subject is chosen by the seed.
/// </summary>
/// <param name="Spread">Shift the onset per community by up to ±5 % of the run (presets), so onsets fall at different hours.</param>
/// <param name="Target">
/// Which subject fits when none is named: for <c>confounder:trip</c> <c>elderly</c> (default) or <c>family</c>; for
/// <c>device_silent</c> <c>camera</c> (default), <c>meter</c> (one meter of an elderly person living alone) or
/// <c>household</c> (both of its meters: a dead gateway).
/// </param>
/// <param name="Jitter">With <paramref name="Spread"/>: the width of the seeded shift instead of 10 % of the run.</param>
internal sealed record IncidentSpec(string Kind, string? Community, string? Subject, TimeSpan OnsetAfter, TimeSpan Duration, double? Depth, bool Spread = false, string? Target = null, TimeSpan? Jitter = null);

internal static class Scenarios
{
    public static readonly string[] Presets = ["none", "welfare-mix", "welfare-eval", "facilities", "all"];

    /// <summary>
    /// Built-in scenarios, scaled to the run so every incident starts and ends inside it (a welfare drop in a
    /// 30-minute run is short, but still labelled and published). Onsets differ per community by a seeded
    /// shift of up to 5 % of the run, so forty communities give forty onset hours.
    /// </summary>
    /// <param name="households">Households per community: <c>welfare-eval</c> sizes its incident counts by it.</param>
    public static IReadOnlyList<IncidentSpec> Preset(string name, TimeSpan run, int households = 2000) => name switch
    {
        "none" => [],
        "welfare-mix" => WelfareMix(run),
        "welfare-eval" => WelfareEval(run, households),
        "facilities" => Facilities(run),
        "all" => [.. WelfareMix(run), .. Facilities(run)],
        _ => throw new ArgumentException($"unknown scenario preset '{name}' (expected {string.Join(", ", Presets)}, or a .json file)"),
    };

    // Drops at four depths, early and late in the run, long and short; and the situations that look like a drop or a
    // surge but are not an emergency.
    private static IncidentSpec[] WelfareMix(TimeSpan run) =>
    [
        Spec(AlertKinds.LivingAloneDrop, run, 0.10, 0.80, 0.02),
        Spec(AlertKinds.LivingAloneDrop, run, 0.25, 0.50, 0.05),
        Spec(AlertKinds.LivingAloneDrop, run, 0.40, 0.40, 0.10),
        Spec(AlertKinds.LivingAloneDrop, run, 0.55, 0.30, 0.30),
        Spec(TruthKinds.HolidayAway, run, 0.20, 0.60, null),
        Spec(TruthKinds.Guest, run, 0.30, 0.50, 1.8),
        Spec(TruthKinds.HeatWave, run, 0.15, 0.70, 1.4),
        Spec(TruthKinds.Trip, run, 0.65, 0.20, null),
        // The season turns over the whole run: electricity −30 % over 60 days, proportionally less in a shorter run.
        new(TruthKinds.Season, null, null, TimeSpan.Zero, run, 1 - 0.3 * Math.Min(1, run.TotalDays / 60)),
    ];

    /// <summary>
    /// The welfare detector's evaluation: many labelled incidents over a long run (30–90 days is what it is sized for),
    /// per community of <paramref name="households"/> (≈ 8 % elderly living alone):
    /// <list type="bullet">
    /// <item>about one welfare drop per elderly household per 30 days, at depths 0 (meters report zero use), 0.02, 0.05,
    /// 0.10, 0.20 and 0.30 of usual use, lasting 12 h to 3 days, onsets spread over the run after the first three days
    /// at any hour of day or night;</item>
    /// <item>confounders: registered holidays (away spells), unannounced trips of elderly people and of working families
    /// (they leave through a gate), guests, a heat wave every 30 days and a change of season over the whole run
    /// (electricity down 30 %);</item>
    /// <item>dead meters of elderly households, one meter or both (a gateway), for 2 h to 2 days.</item>
    /// </list>
    /// Everyday outings of elderly and retired residents come with every run (see <see cref="FeedPlan"/>); meter resets and
    /// missing readings come from the fault rates.
    /// </summary>
    private static List<IncidentSpec> WelfareEval(TimeSpan run, int households)
    {
        var specs = new List<IncidentSpec>();
        var months = run.TotalDays / 30;
        var elderly = households * 0.08;
        double[] depths = [0.0, 0.02, 0.05, 0.10, 0.20, 0.30];
        TimeSpan[] lengths = [TimeSpan.FromHours(12), TimeSpan.FromHours(18), TimeSpan.FromDays(1), TimeSpan.FromDays(2), TimeSpan.FromDays(3)];
        // Evenly spaced onsets from day 3 to the last day that fits the incident, each shifted by up to ± half a
        // spacing (seeded), so they fall at every hour and never in lockstep across communities.
        void Spread(string kind, int count, Func<int, TimeSpan> length, Func<int, double?> depth, string? target = null)
        {
            var first = TimeSpan.FromDays(Math.Min(3, run.TotalDays / 4));
            for (var i = 0; i < count; i++)
            {
                var duration = length(i);
                var span = run - duration - first;
                if (span <= TimeSpan.Zero)
                    continue;
                var spacing = span / count;
                specs.Add(new IncidentSpec(kind, null, null, first + spacing * (i + 0.5), duration, depth(i), Spread: true, Target: target, Jitter: spacing));
            }
        }
        Spread(AlertKinds.LivingAloneDrop, Math.Max(6, (int)Math.Round(elderly * months)), i => lengths[i % lengths.Length], i => depths[i * 7 % depths.Length]);
        Spread(TruthKinds.HolidayAway, Math.Max(1, (int)Math.Round(elderly * months * 0.25)), i => TimeSpan.FromDays(2 + i % 6), _ => null);
        Spread(TruthKinds.Trip, Math.Max(1, (int)Math.Round(elderly * months * 0.3)), i => TimeSpan.FromDays(1 + i % 4), _ => null, "elderly");
        Spread(TruthKinds.Trip, Math.Max(1, (int)Math.Round(households * 0.6 * months * 0.05)), i => TimeSpan.FromDays(2 + i % 3), _ => null, "family");
        Spread(TruthKinds.Guest, Math.Max(1, (int)Math.Round(elderly * months * 0.2)), i => TimeSpan.FromDays(1 + i % 5), _ => 1.8);
        Spread(TruthKinds.HeatWave, Math.Max(1, (int)Math.Round(months)), _ => TimeSpan.FromDays(4), _ => 1.4);
        Spread(AlertKinds.DeviceSilent, Math.Max(1, (int)Math.Round(elderly * months * 0.1)), i => TimeSpan.FromHours(2 + 23 * (i % 3)), _ => null, "meter");
        Spread(AlertKinds.DeviceSilent, Math.Max(1, (int)Math.Round(elderly * months * 0.05)), i => TimeSpan.FromHours(6 + 21 * (i % 3)), _ => null, "household");
        specs.Add(new IncidentSpec(TruthKinds.Season, null, null, TimeSpan.Zero, run, 0.7));
        return specs;
    }

    private static IncidentSpec[] Facilities(TimeSpan run) =>
    [
        Spec(AlertKinds.WaterLeak, run, 0.20, 0.60, 0.04),
        Spec(AlertKinds.ParkingFull, run, 0.35, 0.20, null),
        Spec(AlertKinds.GateForced, run, 0.50, 0.0, null),
        Spec(AlertKinds.DeviceSilent, run, 0.30, 0.30, null),
        Spec(AlertKinds.CameraEvent, run, 0.60, 0.05, null),
    ];

    private static IncidentSpec Spec(string kind, TimeSpan run, double onset, double duration, double? depth) =>
        new(kind, null, null, run * onset, run * duration, depth, Spread: true);

    /// <summary>Reads a scenario file (shape in <see cref="IncidentSpec"/>); absolute onsets become offsets from <paramref name="start"/>.</summary>
    public static IReadOnlyList<IncidentSpec> ReadFile(string path, DateTimeOffset start)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var specs = new List<IncidentSpec>();
        foreach (var item in document.RootElement.GetProperty("incidents").EnumerateArray())
        {
            var kind = item.GetProperty("kind").GetString() ?? throw new FormatException("incident without 'kind'");
            if (Array.IndexOf(TruthKinds.Injectable, kind) < 0)
                throw new FormatException($"unknown incident kind '{kind}' (expected {string.Join(", ", TruthKinds.Injectable)})");
            var onsetText = item.TryGetProperty("onset", out var o) ? o.GetString() ?? "+0m" : "+0m";
            var onset = onsetText.StartsWith('+')
                ? Durations.Parse(onsetText[1..])
                : DateTimeOffset.Parse(onsetText, CultureInfo.InvariantCulture) - start;
            var duration = item.TryGetProperty("duration", out var d) ? Durations.Parse(d.GetString() ?? "0m") : TimeSpan.Zero;
            specs.Add(new IncidentSpec(
                kind,
                item.TryGetProperty("community", out var c) ? c.GetString() : null,
                item.TryGetProperty("subject", out var s) ? s.GetString() : null,
                onset,
                duration,
                item.TryGetProperty("depth", out var depth) && depth.ValueKind == JsonValueKind.Number ? depth.GetDouble() : null,
                Target: item.TryGetProperty("target", out var target) ? target.GetString() : null));
        }
        return specs;
    }
}

/// <summary>Durations as people type them: <c>30m</c>, <c>6h</c>, <c>1d</c>, <c>90s</c>, or a TimeSpan (<c>01:30:00</c>).</summary>
internal static class Durations
{
    public static TimeSpan Parse(string text)
    {
        if (text.Length >= 2 && double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            switch (text[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
            return span;
        throw new FormatException($"'{text}' is not a duration (e.g. 30m, 6h, 1d)");
    }
}
