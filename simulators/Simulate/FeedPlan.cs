using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>A change to a meter's use over a window (ms from the run's start): welfare drop, away, guest, heat wave, leak, outing, season.</summary>
internal readonly record struct MeterModifier(long From, long To, MeterModifierKind Kind, double Value);

internal enum MeterModifierKind
{
    /// <summary>Use × Value (a welfare drop, a guest, away).</summary>
    Factor,
    /// <summary>Electricity × Value in the hot afternoon and evening (air conditioning), less at night; water × √Value.</summary>
    HeatWave,
    /// <summary>Use + Value per hour, day and night (a leak).</summary>
    Flow,
    /// <summary>Nobody home for a while: no water, electricity at the flat's base load (fridge, standby), Value × the usual level.</summary>
    Outing,
    /// <summary>A slow change of season: electricity × a factor moving linearly from 1 at From to Value at To; water a third as much.</summary>
    Season,
}

/// <summary>
/// One scripted device message: a forced gate, a fire, a flapping connection, or a resident's pass through a gate
/// (<paramref name="Direction"/>, and the credential and household when the gate recognised them).
/// </summary>
internal readonly record struct ScriptedEvent(long At, int Device, string Event, string? Direction = null, string? Credential = null, string? Household = null);

/// <summary>
/// Everything decided before the first message: which subjects the scenario's incidents hit, which devices
/// misbehave and how, and the ground truth of both. The generator only reads it, so the truth file and the
/// published stream cannot disagree.
/// </summary>
internal sealed class FeedPlan
{
    public const long None = long.MaxValue;

    private FeedPlan(SimulatedWorld world, DateTimeOffset start, TimeSpan duration, FaultRates faults)
    {
        World = world;
        Start = start;
        Duration = duration;
        Faults = faults;
        var devices = world.Devices.Count;
        SilentFrom = new long[devices];
        SilentTo = new long[devices];
        Array.Fill(SilentFrom, None);
        Array.Fill(SilentTo, None);
        SkewMs = new long[devices];
        ResetAt = new long[devices];
        Array.Fill(ResetAt, None);
        FullFrom = new long[devices];
        FullTo = new long[devices];
        Array.Fill(FullFrom, None);
        Array.Fill(FullTo, None);
        Modifiers = new MeterModifier[]?[devices];
    }

    public SimulatedWorld World { get; }
    public DateTimeOffset Start { get; }
    public TimeSpan Duration { get; }
    public FaultRates Faults { get; }
    public long DurationMs => (long)Duration.TotalMilliseconds;

    /// <summary>Ground truth: scenario incidents first, then injected device faults, each in onset order.</summary>
    public List<Incident> Truth { get; } = [];

    /// <summary>Away spells of the holiday confounders, for the exported registry.</summary>
    public List<AwaySpell> Away { get; } = [];

    // Per device, ms from the start; None when not applicable.
    public long[] SilentFrom { get; }
    public long[] SilentTo { get; }
    public long[] SkewMs { get; }
    public long[] ResetAt { get; }
    public long[] FullFrom { get; }
    public long[] FullTo { get; }
    public MeterModifier[]?[] Modifiers { get; }
    public List<ScriptedEvent> Script { get; } = [];

    /// <summary>
    /// Per household, the windows (ms from the start) in which its residents pass no gate on the generator's random draws:
    /// away, on a trip, or unable to go out. Null for a household that is always about.
    /// </summary>
    public List<(long From, long To)>?[] Absent { get; private set; } = [];

    // Per household, windows taken by a household incident (drop, away, trip, guest, a meter outage): a household hosts
    // several incidents over a long run, never two at once, and never one right after another.
    private readonly Dictionary<int, List<(long From, long To)>> _busy = [];

    public static FeedPlan Create(SimulatedWorld world, DateTimeOffset start, TimeSpan duration, IReadOnlyList<IncidentSpec> scenario, FaultRates faults)
    {
        faults.Validate();
        var plan = new FeedPlan(world, start, duration, faults);
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (var s = 0; s < scenario.Count; s++)
        {
            var spec = scenario[s];
            for (var c = 0; c < world.Communities.Count; c++)
            {
                if (spec.Community is { } only && only != world.Communities[c].Id)
                    continue;
                plan.Inject(spec, s, c, used);
            }
        }
        plan.Truth.Sort((a, b) => a.Onset.CompareTo(b.Onset));
        var incidents = plan.Truth.Count;
        plan.InjectFaults(used);
        plan.Truth.Sort(incidents, plan.Truth.Count - incidents, Comparer<Incident>.Create((a, b) => a.Onset.CompareTo(b.Onset)));
        plan.PlanOutings();
        plan.Script.Sort((a, b) => a.At != b.At ? a.At.CompareTo(b.At)
            : a.Device != b.Device ? a.Device.CompareTo(b.Device)
            : string.CompareOrdinal(a.Household, b.Household));
        return plan;
    }

    private void Inject(IncidentSpec spec, int specIndex, int community, HashSet<string> used)
    {
        var seed = (ulong)World.Seed;
        var onset = spec.OnsetAfter;
        if (!spec.Spread && (onset < TimeSpan.Zero || onset >= Duration))
            throw new ArgumentException($"the {spec.Kind} incident's onset is outside the run ({Start:O} + {Duration})");
        if (spec.Spread)
        {
            // Presets shift each community's onset by up to ±5 % of the run (or ±Jitter/2), so onsets fall at different hours.
            var spread = spec.Jitter ?? Duration * 0.1;
            onset += spread * (Noise.Unit(Noise.Hash(seed, (ulong)community, 1000 + (ulong)specIndex)) - 0.5);
        }
        // Whole minutes: an onset a reader can check against a reading's time.
        var onsetMs = Math.Clamp((long)onset.TotalMinutes, 0, Math.Max(0, (long)Duration.TotalMinutes - 1)) * 60_000;
        var endMs = Math.Min(DurationMs, onsetMs + Math.Max(60_000, (long)spec.Duration.TotalMilliseconds / 60_000 * 60_000));
        var communityId = World.Communities[community].Id;
        var pick = Noise.Hash(seed, (ulong)community, 2000 + (ulong)specIndex);
        // The incident's subject: the device the scenario names, or one picked (deterministically) that fits.
        int DeviceFor(Func<SimulatedDevice, bool> fits) => spec.Subject is { } id ? FindDevice(id, community) : PickDevice(community, pick, used, fits);
        // A household incident's subject: the household named, or one of the kind asked for that is free at the time.
        int HouseholdFor(HouseholdKind kind) => spec.Subject is { } id
            ? FindHousehold(id, community)
            : PickHousehold(community, pick, h => World.Households[h].Kind == kind && IsFree(h, onsetMs, endMs)
                && !MetersOf(h).Exists(m => used.Contains(World.Devices[m].Id)));

        switch (spec.Kind)
        {
            case AlertKinds.LivingAloneDrop or TruthKinds.HolidayAway or TruthKinds.Guest or TruthKinds.Trip:
            {
                // Drops, away and guests hit elderly people living alone on purpose: they are the households the welfare
                // detector watches most closely, so a confounder there is the one that tests it. A trip may also be a
                // working family's (target "family"): the detector judges every household, less sensitively.
                var household = HouseholdFor(spec.Target == "family" ? HouseholdKind.WorkingFamily : HouseholdKind.ElderlyAlone);
                if (household < 0)
                    return;
                var h = World.Households[household];
                used.Add(h.Id);
                Occupy(household, onsetMs, endMs);
                var (depth, expect) = spec.Kind switch
                {
                    AlertKinds.LivingAloneDrop => (spec.Depth ?? 0.05, true),
                    TruthKinds.Guest => (spec.Depth ?? 1.8, false),
                    _ => (0.0, false),
                };
                var gone = spec.Kind is TruthKinds.HolidayAway or TruthKinds.Trip;
                foreach (var meter in MetersOf(household))
                {
                    // Away or on a trip: the fridge and standby keep ~20 % of electricity, the water is off.
                    var value = gone ? (World.Devices[meter].Meter == MeterType.Water ? 0.01 : 0.2) : depth;
                    AddModifier(meter, new MeterModifier(onsetMs, endMs, MeterModifierKind.Factor, value));
                }
                // Nobody who is away, or lies on the floor, passes a gate; one who leaves and comes back does, through a gate
                // that recognises them most of the time.
                if (spec.Kind != TruthKinds.Guest)
                    MarkAbsent(household, onsetMs, endMs);
                if (gone)
                {
                    Pass(community, household, onsetMs, "out", Noise.Hash(seed, Noise.Key(h.Id), 7000 + (ulong)onsetMs));
                    if (endMs < DurationMs)
                        Pass(community, household, endMs, "in", Noise.Hash(seed, Noise.Key(h.Id), 7001 + (ulong)endMs));
                }
                if (spec.Kind == TruthKinds.HolidayAway)
                    Away.Add(new AwaySpell(h.Id, At(onsetMs), At(endMs)));
                AddTruth(spec.Kind, h.Id, community, h.Grid, h.Id, null, onsetMs, endMs, gone ? null : depth, expect, household, -1);
                break;
            }
            case TruthKinds.Season:
            {
                // Over the run, the community's electricity moves to Value × where it began (autumn after the air
                // conditioning: 0.7), water a third as much; the whole run unless the spec says otherwise.
                var factor = spec.Depth ?? 0.7;
                for (var d = 0; d < World.Devices.Count; d++)
                {
                    if (World.Devices[d] is { Kind: DeviceKind.Meter } meter && meter.Community == community)
                        AddModifier(d, new MeterModifier(onsetMs, endMs, MeterModifierKind.Season, factor));
                }
                AddTruth(spec.Kind, communityId, community, null, null, null, onsetMs, endMs, factor, false, -1, -1);
                break;
            }
            case TruthKinds.HeatWave:
            {
                var factor = spec.Depth ?? 1.4;
                for (var d = 0; d < World.Devices.Count; d++)
                {
                    if (World.Devices[d] is { Kind: DeviceKind.Meter } meter && meter.Community == community)
                        AddModifier(d, new MeterModifier(onsetMs, endMs, MeterModifierKind.HeatWave, factor));
                }
                AddTruth(spec.Kind, communityId, community, null, null, null, onsetMs, endMs, factor, false, -1, -1);
                break;
            }
            case AlertKinds.WaterLeak:
            {
                // A leak is likeliest noticed where nobody would: an empty flat, or a family out at work.
                var device = DeviceFor(d =>
                    d is { Kind: DeviceKind.Meter, Meter: MeterType.Water } && World.Households[d.Household].Kind is HouseholdKind.EmptyFlat or HouseholdKind.WorkingFamily);
                if (device < 0)
                    return;
                var flow = spec.Depth ?? 0.04;
                AddModifier(device, new MeterModifier(onsetMs, endMs, MeterModifierKind.Flow, flow));
                AddDeviceTruth(spec.Kind, device, community, onsetMs, endMs, flow, used);
                break;
            }
            case AlertKinds.ParkingFull:
            {
                var device = DeviceFor(d => d.Kind == DeviceKind.Parking);
                if (device < 0)
                    return;
                FullFrom[device] = onsetMs;
                FullTo[device] = endMs;
                AddDeviceTruth(spec.Kind, device, community, onsetMs, endMs, null, used);
                break;
            }
            case AlertKinds.GateForced:
            {
                var device = DeviceFor(d => d.Kind == DeviceKind.Gate);
                if (device < 0)
                    return;
                Script.Add(new ScriptedEvent(onsetMs, device, "forced"));
                AddDeviceTruth(spec.Kind, device, community, onsetMs, Math.Min(DurationMs, onsetMs + 60_000), null, used);
                break;
            }
            case AlertKinds.DeviceSilent when spec.Target is "meter" or "household":
            {
                // A dead meter (or, for "household", the flat's gateway taking both meters) of an elderly person living
                // alone: what the welfare detector must not mistake for a drop in use. One truth line per silent meter.
                var household = HouseholdFor(HouseholdKind.ElderlyAlone);
                if (household < 0)
                    return;
                used.Add(World.Households[household].Id);
                Occupy(household, onsetMs, endMs);
                var meters = MetersOf(household);
                if (spec.Target == "meter")
                    meters = [meters[(int)(pick % (ulong)meters.Count)]];
                foreach (var meter in meters)
                {
                    SilentFrom[meter] = onsetMs;
                    SilentTo[meter] = endMs;
                    AddDeviceTruth(spec.Kind, meter, community, onsetMs, endMs, null, used);
                }
                break;
            }
            case AlertKinds.DeviceSilent:
            {
                var device = DeviceFor(d => d.Kind == DeviceKind.Camera);
                if (device < 0)
                    return;
                SilentFrom[device] = onsetMs;
                SilentTo[device] = endMs;
                AddDeviceTruth(spec.Kind, device, community, onsetMs, endMs, null, used);
                break;
            }
            case AlertKinds.CameraEvent:
            {
                // A fire: smoke first, then a fire detection every 30 s while it burns.
                var device = DeviceFor(d => d.Kind == DeviceKind.Camera);
                if (device < 0)
                    return;
                Script.Add(new ScriptedEvent(onsetMs, device, "smoke"));
                for (var t = onsetMs + 30_000; t < endMs; t += 30_000)
                    Script.Add(new ScriptedEvent(t, device, "fire"));
                AddDeviceTruth(spec.Kind, device, community, onsetMs, endMs, null, used);
                break;
            }
            default:
                throw new ArgumentException($"unknown incident kind '{spec.Kind}'");
        }
    }

    private void InjectFaults(HashSet<string> used)
    {
        var seed = (ulong)World.Seed;
        var f = Faults;
        for (var d = 0; d < World.Devices.Count; d++)
        {
            var device = World.Devices[d];
            // A scenario's subject keeps clean data: its label must describe what was published, nothing else.
            if (used.Contains(device.Id) || (device.Household >= 0 && used.Contains(World.Households[device.Household].Id)))
                continue;
            var key = Noise.Key(device.Id);
            var draw = Noise.Unit(Noise.Hash(seed, key, 3000));
            var at = (long)(DurationMs * Noise.Unit(Noise.Hash(seed, key, 3001))) / 1000 * 1000;
            var length = Noise.Unit(Noise.Hash(seed, key, 3002));
            if ((draw -= f.Silent) < 0)
            {
                var end = Math.Min(DurationMs, at + (long)TimeSpan.FromHours(1 + 5 * length).TotalMilliseconds);
                SilentFrom[d] = at;
                SilentTo[d] = end;
                // Cut short by the end of the run, a silence may be too brief to be one (a meter misses a reading
                // every 15 minutes anyway): only an hour or more is expected to alert.
                AddDeviceTruth(AlertKinds.DeviceSilent, d, device.Community, at, end, null, null, expect: end - at >= 3_600_000);
            }
            else if ((draw -= f.Flapping) < 0)
            {
                if (device.Kind != DeviceKind.Camera)
                    continue;
                var end = Math.Min(DurationMs, at + (long)TimeSpan.FromMinutes(5 + 15 * length).TotalMilliseconds);
                var online = false;
                for (var (t, i) = (at, 0UL); t < end; i++)
                {
                    Script.Add(new ScriptedEvent(t, d, online ? "online" : "offline"));
                    online = !online;
                    t += 2_000 + (long)(18_000 * Noise.Unit(Noise.Hash(seed, key, 4000 + i)));
                }
                AddDeviceTruth(TruthKinds.Flapping, d, device.Community, at, end, null, null);
            }
            else if ((draw -= f.ClockSkew) < 0)
            {
                var hours = (1 + (int)(8 * length)) * (Noise.Hash(seed, key, 3003) % 2 == 0 ? 1 : -1);
                SkewMs[d] = hours * 3_600_000L;
                AddDeviceTruth(TruthKinds.ClockSkew, d, device.Community, 0, DurationMs, hours, null);
            }
            else if ((draw -= f.CounterReset) < 0)
            {
                if (device.Kind != DeviceKind.Meter)
                    continue;
                ResetAt[d] = at;
                AddDeviceTruth(TruthKinds.CounterReset, d, device.Community, at, at, null, null);
            }
        }
    }

    private void AddModifier(int device, MeterModifier modifier) =>
        Modifiers[device] = Modifiers[device] is { } existing ? [.. existing, modifier] : [modifier];

    private void AddDeviceTruth(string kind, int device, int community, long onsetMs, long endMs, double? depth, HashSet<string>? used, bool? expect = null)
    {
        var d = World.Devices[device];
        used?.Add(d.Id);
        var household = d.Household >= 0 ? World.Households[d.Household].Id : null;
        // Alert kinds are expected to alert; confounders and faults that are not silences must not.
        expect ??= !kind.Contains(':', StringComparison.Ordinal);
        AddTruth(kind, d.Id, community, d.Grid, household, d.Id, onsetMs, endMs, depth, expect.Value, d.Household, device);
    }

    private void AddTruth(string kind, string subject, int community, string? grid, string? household, string? device, long onsetMs, long endMs, double? depth, bool expect, int householdIndex, int deviceIndex) =>
        Truth.Add(new Incident(kind, subject, World.Communities[community].Id, grid, household, device, At(onsetMs), At(endMs), depth, expect)
        {
            CommunityIndex = community,
            HouseholdIndex = householdIndex,
            DeviceIndex = deviceIndex,
        });

    private DateTimeOffset At(long ms) => Start.AddMilliseconds(ms);

    private List<int>[]? _meters;

    /// <summary>The household's meters (device indices), from a lookup built once: outings ask for every household's.</summary>
    private List<int> MetersOf(int household)
    {
        if (_meters is null)
        {
            _meters = new List<int>[World.Households.Count];
            for (var h = 0; h < _meters.Length; h++)
                _meters[h] = [];
            for (var d = 0; d < World.Devices.Count; d++)
            {
                if (World.Devices[d].Household >= 0)
                    _meters[World.Devices[d].Household].Add(d);
            }
        }
        return _meters[household];
    }

    // Picks deterministically: a seeded choice among the community's households that fit.
    private int PickHousehold(int community, ulong pick, Func<int, bool> fits)
    {
        var candidates = new List<int>();
        for (var i = 0; i < World.Households.Count; i++)
        {
            if (World.Households[i].Community == community && fits(i))
                candidates.Add(i);
        }
        return candidates.Count == 0 ? -1 : candidates[(int)(pick % (ulong)candidates.Count)];
    }

    /// <summary>
    /// Whether a household has no incident within a day of [from, to): one household may host several incidents over a
    /// long run (a drop in week two, a trip in week six), but the detector's view of each must not bleed into the next.
    /// </summary>
    private bool IsFree(int household, long from, long to)
    {
        const long margin = 24 * 3_600_000L;
        if (!_busy.TryGetValue(household, out var taken))
            return true;
        foreach (var (busyFrom, busyTo) in taken)
        {
            if (from < busyTo + margin && busyFrom < to + margin)
                return false;
        }
        return true;
    }

    private void Occupy(int household, long from, long to)
    {
        if (!_busy.TryGetValue(household, out var taken))
            _busy[household] = taken = [];
        taken.Add((from, to));
    }

    private void MarkAbsent(int household, long from, long to)
    {
        if (Absent.Length == 0)
            Absent = new List<(long From, long To)>?[World.Households.Count];
        (Absent[household] ??= []).Add((from, to));
    }

    /// <summary>
    /// A resident's pass through one of the community's gates. Most passes are recognised (face or card, with the
    /// household); about one in seven is not (a neighbour holds the door, a visitor's QR code), so the welfare detector
    /// cannot count on seeing every coming and going.
    /// </summary>
    private void Pass(int community, int household, long at, string direction, ulong draw)
    {
        var gates = GatesOf(community);
        if (gates.Count == 0 || at >= DurationMs)
            return;
        var gate = gates[(int)(Noise.Mix(draw) % (ulong)gates.Count)];
        var u = Noise.Unit(draw);
        var (credential, id) = u < 0.55 ? ("face", World.Households[household].Id)
            : u < 0.86 ? ("card", World.Households[household].Id)
            : ((string?)null, (string?)null);
        Script.Add(new ScriptedEvent(at, gate, "pass", direction, credential, id));
    }

    private readonly Dictionary<int, List<int>> _gates = [];

    private List<int> GatesOf(int community)
    {
        if (!_gates.TryGetValue(community, out var gates))
        {
            gates = [];
            for (var d = 0; d < World.Devices.Count; d++)
            {
                if (World.Devices[d] is { Kind: DeviceKind.Gate } gate && gate.Community == community)
                    gates.Add(d);
            }
            _gates[community] = gates;
        }
        return gates;
    }

    /// <summary>
    /// Everyday outings of people at home all day (elderly living alone, retired couples): to the market in the morning,
    /// a walk or the clinic in the afternoon, one to three hours each, on most days. While out, the flat uses no water
    /// and only its base load of electricity, which from the meters alone looks like a short drop in use; the residents
    /// pass a gate on the way out and back (recognised most of the time). No outing while the household is away or
    /// unable to go out (a welfare drop). Each day's outings are a pure function of (seed, household, day).
    /// </summary>
    private void PlanOutings()
    {
        var seed = (ulong)World.Seed;
        var localOffsetMs = (long)ChinaCalendar.LocalOffset.TotalMilliseconds;
        var startMs = Start.ToUnixTimeMilliseconds();
        var firstDay = (startMs + localOffsetMs) / Day;
        var lastDay = (startMs + DurationMs + localOffsetMs) / Day;
        for (var i = 0; i < World.Households.Count; i++)
        {
            var household = World.Households[i];
            if (household.Kind is not (HouseholdKind.ElderlyAlone or HouseholdKind.RetiredCouple))
                continue;
            var key = Noise.Key(household.Id);
            var meters = MetersOf(i);
            // The flat's base load: fridge and standby, 30–50 % of its usual hourly electricity.
            var baseLoad = 0.3 + 0.2 * Noise.Unit(Noise.Hash(seed, key, 6000));
            for (var day = firstDay; day <= lastDay; day++)
            {
                // Morning (08:00–10:30 start, 1–3 h) on 55 % of days, afternoon (14:30–17:00, 1–2.5 h) on 45 %.
                for (var k = 0UL; k < 2; k++)
                {
                    var draw = Noise.Hash(seed, key, 6001 + (ulong)(day * 4) + k);
                    if (Noise.Unit(draw) >= (k == 0 ? 0.55 : 0.45))
                        continue;
                    var startHour = k == 0 ? 8.0 + 2.5 * Noise.Unit(Noise.Mix(draw)) : 14.5 + 2.5 * Noise.Unit(Noise.Mix(draw));
                    var hours = k == 0 ? 1.0 + 2.0 * Noise.Unit(Noise.Mix(draw + 1)) : 1.0 + 1.5 * Noise.Unit(Noise.Mix(draw + 1));
                    var from = day * Day - localOffsetMs - startMs + (long)(startHour * 60) * 60_000;
                    var to = from + (long)(hours * 60) * 60_000;
                    if (from < 0 || to > DurationMs || IsAbsent(i, from - 30 * 60_000, to + 30 * 60_000))
                        continue;
                    foreach (var meter in meters)
                        AddModifier(meter, new MeterModifier(from, to, MeterModifierKind.Outing, baseLoad));
                    Pass(household.Community, i, from, "out", Noise.Hash(seed, key, 6100 + (ulong)from));
                    Pass(household.Community, i, to, "in", Noise.Hash(seed, key, 6101 + (ulong)to));
                }
            }
        }
    }

    private const long Day = 24 * 3_600_000L;

    /// <summary>Whether the household is away or unable to go out at any time in [from, to).</summary>
    public bool IsAbsent(int household, long from, long to)
    {
        if (Absent.Length == 0 || Absent[household] is not { } windows)
            return false;
        foreach (var (absentFrom, absentTo) in windows)
        {
            if (from < absentTo && absentFrom < to)
                return true;
        }
        return false;
    }

    private int PickDevice(int community, ulong pick, HashSet<string> used, Func<SimulatedDevice, bool> fits)
    {
        var candidates = new List<int>();
        for (var i = 0; i < World.Devices.Count; i++)
        {
            var device = World.Devices[i];
            if (device.Community == community && fits(device) && !used.Contains(device.Id)
                && (device.Household < 0 || !used.Contains(World.Households[device.Household].Id)))
                candidates.Add(i);
        }
        return candidates.Count == 0 ? -1 : candidates[(int)(pick % (ulong)candidates.Count)];
    }

    // A named subject lives in one community: -1 (nothing to inject) while the caller walks the others.
    private int FindHousehold(string id, int community)
    {
        for (var i = 0; i < World.Households.Count; i++)
        {
            if (World.Households[i].Id == id)
                return World.Households[i].Community == community ? i : -1;
        }
        throw new ArgumentException($"scenario subject '{id}' is not a household of the simulated world");
    }

    private int FindDevice(string id, int community)
    {
        for (var i = 0; i < World.Devices.Count; i++)
        {
            if (World.Devices[i].Id == id)
                return World.Devices[i].Community == community ? i : -1;
        }
        throw new ArgumentException($"scenario subject '{id}' is not a device of the simulated world");
    }
}
