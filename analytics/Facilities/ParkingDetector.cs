using System.Globalization;
using Sensing.Analytics.Alerting;
using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// Raises <c>parking_full</c> for a lot counter whose free spaces stay at or below the full mark
/// (<see cref="ParkingOptions.FullFreeSpaces"/> or <see cref="ParkingOptions.FullFreeShare"/> of its capacity) for
/// <see cref="ParkingOptions.FullFor"/>, once per full spell (a lot that fills up again within the cool-down is the
/// same story); and <c>parking_overstay</c> for a space sensor occupied longer than its class allows
/// (<see cref="ParkingOptions.Overstays"/>), once per stay. Space sensors report changes, not a rhythm, so an overstay
/// is found by <see cref="Check"/> as the watermark passes the limit, or, if no check ran inside the stay, by the
/// reading that ends it; either way it is raised at the event time the limit was reached. Not thread-safe.
/// </summary>
public sealed class ParkingDetector : IReadingDetector
{
    private readonly ParkingOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly AlertCooldown _cooldown;
    private readonly Dictionary<(string Device, string Lot), LotState> _lots = new();
    private readonly Dictionary<(string Device, string Space), SpaceState> _spaces = new();
    private readonly Dictionary<(string Device, string Space), OverstayRule?> _rules = new();

    /// <param name="zone">The local clock of the alerts' summaries.</param>
    public ParkingDetector(ParkingOptions options, TimeZoneInfo zone)
    {
        _options = options;
        _zone = zone;
        _cooldown = new AlertCooldown(options.Cooldown);
    }

    public IReadOnlyList<Alert> Observe(in Reading reading)
    {
        switch (reading.Metric)
        {
            case Metrics.ParkingFree:
            case Metrics.ParkingCapacity:
                return Lot(reading) is { } full ? [full] : [];
            case Metrics.ParkingOccupied:
                return Space(reading) is { } overstay ? [overstay] : [];
            default:
                return [];
        }
    }

    public IReadOnlyList<Alert> Check(DateTimeOffset watermark)
    {
        _cooldown.Forget(watermark);
        List<Alert>? alerts = null;
        foreach (var ((device, space), state) in _spaces)
        {
            if (state.Since is not { } since || state.Alerted || watermark - since <= state.Rule.Limit) continue;
            state.Alerted = true;
            (alerts ??= []).Add(Overstay(device, space, state, since));
        }
        return alerts ?? (IReadOnlyList<Alert>)[];
    }

    /// <summary>
    /// A lot counter sends free and capacity as a pair with one time; the pair is judged once, when its second half
    /// arrives, so the order ingest stored them in does not matter.
    /// </summary>
    private Alert? Lot(in Reading reading)
    {
        var time = reading.Time.ToUniversalTime();
        var key = (reading.Device, reading.Label ?? "");
        if (!_lots.TryGetValue(key, out var lot)) _lots[key] = lot = new LotState();
        if (time < lot.JudgedAt) return null;
        if (reading.Metric == Metrics.ParkingFree)
        {
            lot.Free = reading.Value;
            lot.FreeAt = time;
        }
        else
        {
            lot.Capacity = reading.Value;
            lot.CapacityAt = time;
        }
        if (lot.FreeAt != time || lot.CapacityAt != time || lot.JudgedAt == time) return null;
        lot.JudgedAt = time;

        var mark = FullMark(lot.Capacity);
        if (lot.Free > mark)
        {
            lot.FullSince = null;
            lot.Alerted = false;
            return null;
        }
        if (lot.FullSince is null)
        {
            lot.FullSince = time;
            lot.FreeAtStart = lot.Free;
        }
        var since = lot.FullSince.Value;
        if (lot.Alerted || time - since < _options.FullFor) return null;
        lot.Alerted = true;
        var subject = $"{reading.Device}/{key.Item2}";
        if (!_cooldown.Admit(AlertKinds.ParkingFull, subject, time)) return null;

        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "Lot {0} ({1}) has had at most {2:0} of {3:0} spaces free for {4:0} min, since {5:HH:mm}: {6:0} free now.",
            key.Item2, reading.Device, mark, lot.Capacity, (time - since).TotalMinutes, TimeZoneInfo.ConvertTime(since, _zone).DateTime, lot.Free);
        return new Alert
        {
            Id = Alert.MakeId(AlertKinds.ParkingFull, subject, since),
            Kind = AlertKinds.ParkingFull,
            Severity = AlertSeverity.Warning,
            Community = reading.Community,
            Grid = reading.Grid,
            Device = reading.Device,
            StartedAt = since,
            RaisedAt = time,
            Evidence = new AlertEvidence(summary,
            [
                // Expected: more free than the full mark; observed: the free count when it filled and now.
                new EvidencePoint(since, Metrics.ParkingFree, mark, lot.FreeAtStart),
                new EvidencePoint(time, Metrics.ParkingFree, mark, lot.Free),
            ]),
        };
    }

    /// <summary>The most free spaces at which a lot of <paramref name="capacity"/> counts as full.</summary>
    public double FullMark(double capacity) => Math.Max(_options.FullFreeSpaces, Math.Floor(capacity * _options.FullFreeShare));

    private Alert? Space(in Reading reading)
    {
        var label = reading.Label ?? "";
        if (Rule(reading.Device, label) is not { } rule) return null;
        var time = reading.Time.ToUniversalTime();
        var key = (reading.Device, label);
        if (!_spaces.TryGetValue(key, out var state)) _spaces[key] = state = new SpaceState(rule, reading.Community, reading.Grid);
        if (time < state.Last) return null;
        state.Last = time;
        if (reading.Value > 0)
        {
            // A repeated "occupied" is the same stay; the first one we saw is its start.
            state.Since ??= time;
            return null;
        }
        Alert? missed = null;
        if (state.Since is { } since && !state.Alerted && time - since > rule.Limit)
            missed = Overstay(reading.Device, label, state, since);
        state.Since = null;
        state.Alerted = false;
        return missed;
    }

    private Alert Overstay(string device, string space, SpaceState state, DateTimeOffset since)
    {
        var subject = $"{device}/{space}";
        var raisedAt = since + state.Rule.Limit;
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "Space {0} ({1}) has been occupied since {2:MM-dd HH:mm}, longer than the {3:0.#} h its class allows.",
            space, device, TimeZoneInfo.ConvertTime(since, _zone).DateTime, state.Rule.Limit.TotalHours);
        return new Alert
        {
            Id = Alert.MakeId(AlertKinds.ParkingOverstay, subject, since),
            Kind = AlertKinds.ParkingOverstay,
            Severity = state.Rule.Severity,
            Community = state.Community,
            Grid = state.Grid,
            Device = device,
            StartedAt = since,
            RaisedAt = raisedAt,
            Evidence = new AlertEvidence(summary,
            [
                new EvidencePoint(raisedAt, "parking.occupied_hours", Math.Round(state.Rule.Limit.TotalHours, 2), Math.Round(state.Rule.Limit.TotalHours, 2)),
            ]),
        };
    }

    /// <summary>The first rule matching a space, looked up once per space.</summary>
    private OverstayRule? Rule(string device, string space)
    {
        if (_rules.TryGetValue((device, space), out var known)) return known;
        OverstayRule? found = null;
        foreach (var rule in _options.Overstays)
        {
            if (Glob.Matches(rule.Spaces, space) && (rule.Devices is null || Glob.Matches(rule.Devices, device)))
            {
                found = rule;
                break;
            }
        }
        _rules[(device, space)] = found;
        return found;
    }

    private sealed class LotState
    {
        public double Free;
        public double Capacity;
        public DateTimeOffset FreeAt = DateTimeOffset.MinValue;
        public DateTimeOffset CapacityAt = DateTimeOffset.MinValue;
        public DateTimeOffset JudgedAt = DateTimeOffset.MinValue;
        public DateTimeOffset? FullSince;
        public double FreeAtStart;
        public bool Alerted;
    }

    private sealed class SpaceState(OverstayRule rule, string community, string? grid)
    {
        public OverstayRule Rule { get; } = rule;
        public string Community { get; } = community;
        public string? Grid { get; } = grid;
        public DateTimeOffset Last { get; set; } = DateTimeOffset.MinValue;
        public DateTimeOffset? Since { get; set; }
        public bool Alerted { get; set; }
    }
}

/// <summary>Patterns of configuration: <c>*</c> matches any run of characters, everything else itself (ordinal).</summary>
internal static class Glob
{
    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        var star = pattern.IndexOf('*');
        if (star < 0) return pattern.SequenceEqual(text);
        var head = pattern[..star];
        if (!text.StartsWith(head, StringComparison.Ordinal)) return false;
        var rest = pattern[(star + 1)..];
        text = text[head.Length..];
        // Try every position for what follows the star (patterns are short and few).
        for (var i = 0; i <= text.Length; i++)
        {
            if (Matches(rest, text[i..])) return true;
        }
        return false;
    }
}
