using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>A change to a meter's use over a window (ms from the run's start): welfare drop, away, guest, heat wave, leak.</summary>
internal readonly record struct MeterModifier(long From, long To, MeterModifierKind Kind, double Value);

internal enum MeterModifierKind
{
    /// <summary>Use × Value (a welfare drop, a guest, away).</summary>
    Factor,
    /// <summary>Electricity × Value in the hot afternoon and evening (air conditioning), less at night; water × √Value.</summary>
    HeatWave,
    /// <summary>Use + Value per hour, day and night (a leak).</summary>
    Flow,
}

/// <summary>One scripted device message: a forced gate, a fire, a flapping connection.</summary>
internal readonly record struct ScriptedEvent(long At, int Device, string Event);

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
        plan.Script.Sort((a, b) => a.At != b.At ? a.At.CompareTo(b.At) : a.Device.CompareTo(b.Device));
        return plan;
    }

    private void Inject(IncidentSpec spec, int specIndex, int community, HashSet<string> used)
    {
        var seed = (ulong)World.Seed;
        var onset = spec.OnsetAfter;
        if (!spec.Spread && (onset < TimeSpan.Zero || onset >= Duration))
            throw new ArgumentException($"the {spec.Kind} incident's onset is outside the run ({Start:O} + {Duration})");
        if (spec.Spread)
            onset += Duration * (0.1 * (Noise.Unit(Noise.Hash(seed, (ulong)community, 1000 + (ulong)specIndex)) - 0.5));
        // Whole minutes: an onset a reader can check against a reading's time.
        var onsetMs = Math.Clamp((long)onset.TotalMinutes, 0, Math.Max(0, (long)Duration.TotalMinutes - 1)) * 60_000;
        var endMs = Math.Min(DurationMs, onsetMs + Math.Max(60_000, (long)spec.Duration.TotalMilliseconds / 60_000 * 60_000));
        var communityId = World.Communities[community].Id;
        var pick = Noise.Hash(seed, (ulong)community, 2000 + (ulong)specIndex);
        // The incident's subject: the device the scenario names, or one picked (deterministically) that fits.
        int DeviceFor(Func<SimulatedDevice, bool> fits) => spec.Subject is { } id ? FindDevice(id, community) : PickDevice(community, pick, used, fits);

        switch (spec.Kind)
        {
            case AlertKinds.LivingAloneDrop or TruthKinds.HolidayAway or TruthKinds.Guest:
            {
                // Away and guest hit elderly people living alone on purpose: they are the only households the welfare
                // detector watches, so a confounder anywhere else could never show a false alarm.
                var household = spec.Subject is { } id ? FindHousehold(id, community) : PickHousehold(community, pick, used, h => h.Kind == HouseholdKind.ElderlyAlone);
                if (household < 0)
                    return;
                var h = World.Households[household];
                used.Add(h.Id);
                var (modifierKind, depth, expect) = spec.Kind switch
                {
                    AlertKinds.LivingAloneDrop => (MeterModifierKind.Factor, spec.Depth ?? 0.05, true),
                    TruthKinds.Guest => (MeterModifierKind.Factor, spec.Depth ?? 1.8, false),
                    // Away: the fridge and standby keep ~20 % of electricity, the water is off.
                    _ => (MeterModifierKind.Factor, 0.0, false),
                };
                foreach (var meter in MetersOf(household))
                {
                    used.Add(World.Devices[meter].Id);
                    var value = spec.Kind == TruthKinds.HolidayAway ? (World.Devices[meter].Meter == MeterType.Water ? 0.01 : 0.2) : depth;
                    AddModifier(meter, new MeterModifier(onsetMs, endMs, modifierKind, value));
                }
                if (spec.Kind == TruthKinds.HolidayAway)
                    Away.Add(new AwaySpell(h.Id, At(onsetMs), At(endMs)));
                AddTruth(spec.Kind, h.Id, community, h.Grid, h.Id, null, onsetMs, endMs, spec.Kind == TruthKinds.HolidayAway ? null : depth, expect, household, -1);
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

    private IEnumerable<int> MetersOf(int household)
    {
        for (var d = 0; d < World.Devices.Count; d++)
        {
            if (World.Devices[d].Household == household)
                yield return d;
        }
    }

    // Picks deterministically: start at a seeded position in the community and take the first free candidate.
    private int PickHousehold(int community, ulong pick, HashSet<string> used, Func<SimulatedHousehold, bool> fits)
    {
        var candidates = new List<int>();
        for (var i = 0; i < World.Households.Count; i++)
        {
            if (World.Households[i].Community == community && fits(World.Households[i]) && !used.Contains(World.Households[i].Id))
                candidates.Add(i);
        }
        return candidates.Count == 0 ? -1 : candidates[(int)(pick % (ulong)candidates.Count)];
    }

    private int PickDevice(int community, ulong pick, HashSet<string> used, Func<SimulatedDevice, bool> fits)
    {
        var candidates = new List<int>();
        for (var i = 0; i < World.Devices.Count; i++)
        {
            if (World.Devices[i].Community == community && fits(World.Devices[i]) && !used.Contains(World.Devices[i].Id))
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
