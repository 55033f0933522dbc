using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>Why a message differs from a healthy device's: what tests and the truth file need to tell apart.</summary>
internal enum MessageFault : byte
{
    None,
    /// <summary>The payload breaks the contract (truncated JSON, wrong type, missing field); ingest must dead-letter it.</summary>
    Malformed,
    /// <summary>Valid, but <c>ts</c> is hours off the event time (the device's clock is skewed).</summary>
    ClockSkew,
    /// <summary>Valid, but the register restarted from zero since the device's previous message.</summary>
    CounterReset,
}

/// <summary>
/// One generated message. <see cref="Payload"/> is a view of the generator's buffer, valid until the next
/// <see cref="FeedGenerator.TryNext"/>: copy it to keep it.
/// </summary>
/// <param name="Time">Event time (when it happened); the payload's <c>ts</c> equals it except under <see cref="MessageFault.ClockSkew"/>.</param>
internal readonly record struct SimulatedMessage(int Device, string Topic, ReadOnlyMemory<byte> Payload, DateTimeOffset Time, MessageFault Fault);

/// <summary>
/// Turns a <see cref="FeedPlan"/> into the message stream in event-time order: meters every 15 minutes
/// (cumulative registers), gate passes with morning and evening peaks, lot counters every minute, camera
/// heartbeats every 60 s and detections, scripted incident events, and the plan's faults.
/// </summary>
/// <remarks>
/// An agenda (<see cref="EventAgenda"/>) holds each source's next due time; the key packs milliseconds since the start and
/// the source index into one long, so equal times are broken by source index and the order — hence every byte —
/// is a function of the seed alone. Periodic sources keep exact cadences; random ones (gates, detections) draw
/// the next gap by thinning a Poisson process at its peak rate. Meter use is a pure function of
/// (seed, meter, hour), so a scenario never shifts another household's numbers. The per-message path allocates
/// nothing: topics are precomputed and payloads are written into one reused buffer.
/// </remarks>
internal sealed class FeedGenerator
{
    private const int SourceBits = 22;
    private const long SourceMask = (1L << SourceBits) - 1;
    private const long Second = 1000;
    private const long Minute = 60 * Second;
    private const long Hour = 60 * Minute;
    private const long Day = 24 * Hour;
    private const long MeterInterval = 15 * Minute;
    // A parking_full lot fills over this long before its onset (the onset is the moment it is full).
    private const long FillRamp = 30 * Minute;
    // Residents pass a gate about twice a day (out and back); ~2.5 residents per flat.
    private const double GatePassesPerHouseholdPerDay = 5.0;
    private const double DetectionsPerCameraPerSecond = 0.0025;

    // Gate traffic by local hour (mean 1): work days peak 7–9 (out) and 17–20 (in); rest days are flatter and later.
    private static readonly double[] s_gateWork = Normalize([0.1, 0.05, 0.03, 0.03, 0.05, 0.25, 1.0, 2.8, 2.6, 1.0, 0.7, 0.8, 1.0, 0.8, 0.7, 0.8, 1.1, 2.4, 2.8, 2.4, 1.3, 0.8, 0.5, 0.25]);
    private static readonly double[] s_gateRest = Normalize([0.15, 0.08, 0.04, 0.03, 0.04, 0.1, 0.35, 0.8, 1.3, 1.7, 1.8, 1.5, 1.3, 1.3, 1.5, 1.6, 1.6, 1.6, 1.5, 1.3, 1.1, 0.8, 0.5, 0.3]);
    // Lot occupancy by local hour: residents' cars overnight, out at work by day; visitors' lot the other way round.
    private static readonly double[] s_lotWork = [0.93, 0.94, 0.94, 0.94, 0.94, 0.93, 0.88, 0.70, 0.52, 0.46, 0.45, 0.45, 0.47, 0.47, 0.46, 0.47, 0.52, 0.62, 0.76, 0.86, 0.90, 0.92, 0.93, 0.93];
    private static readonly double[] s_lotRest = [0.93, 0.94, 0.94, 0.94, 0.94, 0.94, 0.92, 0.88, 0.80, 0.72, 0.66, 0.64, 0.65, 0.66, 0.66, 0.67, 0.70, 0.75, 0.82, 0.87, 0.90, 0.92, 0.93, 0.93];
    private static readonly double[] s_visitorsWork = [0.10, 0.08, 0.06, 0.06, 0.06, 0.08, 0.15, 0.30, 0.45, 0.55, 0.60, 0.55, 0.50, 0.55, 0.55, 0.50, 0.50, 0.55, 0.65, 0.70, 0.60, 0.40, 0.25, 0.15];
    private static readonly double[] s_visitorsRest = [0.15, 0.10, 0.08, 0.08, 0.08, 0.10, 0.15, 0.30, 0.55, 0.75, 0.85, 0.85, 0.80, 0.80, 0.85, 0.85, 0.80, 0.80, 0.85, 0.80, 0.65, 0.45, 0.30, 0.20];
    private static readonly double s_gatePeak = Math.Max(Max(s_gateWork), Max(s_gateRest));

    private readonly FeedPlan _plan;
    private readonly SimulatedDevice[] _devices;
    private readonly SimulatedHousehold[] _households;
    private readonly int[] _cameras;
    private readonly int _scriptSource;
    private readonly ulong _seed;
    private readonly long _startUnixMs;
    private readonly long _durationMs;
    private readonly DateTimeOffset _start;
    private readonly long _firstLocalDay;
    private readonly bool[] _restDays;
    private readonly EventAgenda _agenda = new(SourceBits);
    private readonly IFeedFormat _writer;
    private readonly long _meterInterval;
    private readonly long _lotInterval;
    private readonly long _heartbeatInterval;

    private readonly DeviceState[] _state;
    // Per community, the working families (household indices): who the random gate passes belong to.
    private readonly int[][] _families;
    private readonly double[] _peakPerMs;
    private readonly bool[] _visitorsLot;

    private ulong _random;
    private long _sequence;
    private int _scriptCursor;

    public FeedGenerator(FeedPlan plan, IFeedFormat? format = null, FeedCadence? cadence = null)
    {
        _plan = plan;
        _writer = format ?? new PayloadWriter();
        cadence ??= FeedCadence.Default;
        _meterInterval = (long)cadence.MeterEvery.TotalMilliseconds;
        _lotInterval = (long)cadence.LotEvery.TotalMilliseconds;
        _heartbeatInterval = (long)cadence.HeartbeatEvery.TotalMilliseconds;
        _devices = [.. plan.World.Devices];
        _households = [.. plan.World.Households];
        _seed = (ulong)plan.World.Seed;
        _random = Noise.Hash(_seed, 0x5EED, 0);
        _start = plan.Start;
        _startUnixMs = plan.Start.ToUnixTimeMilliseconds();
        _durationMs = plan.DurationMs;
        var localOffsetMs = (long)ChinaCalendar.LocalOffset.TotalMilliseconds;
        _firstLocalDay = FloorDiv(_startUnixMs + localOffsetMs, Day);
        _restDays = new bool[_durationMs / Day + 2];
        for (var i = 0; i < _restDays.Length; i++)
            _restDays[i] = ChinaCalendar.IsRestDay(DateOnly.FromDateTime(DateTime.UnixEpoch.AddDays(_firstLocalDay + i)));

        _families = new int[plan.World.Communities.Count][];
        for (var c = 0; c < _families.Length; c++)
        {
            var community = c;
            _families[c] = [.. Enumerable.Range(0, _households.Length).Where(h => _households[h].Community == community && _households[h].Kind == HouseholdKind.WorkingFamily)];
        }
        var count = _devices.Length;
        _state = new DeviceState[count];
        _peakPerMs = new double[count];
        _visitorsLot = new bool[count];
        var cameras = new List<int>();
        for (var d = 0; d < count; d++)
        {
            var device = _devices[d];
            var key = _state[d].Key = Noise.Key(device.Id);
            _state[d].SilentFrom = plan.SilentFrom[d];
            _state[d].SilentTo = plan.SilentTo[d];
            _state[d].SkewMs = plan.SkewMs[d];
            _state[d].ResetAt = plan.ResetAt[d];
            _state[d].Modifiers = plan.Modifiers[d];
            _state[d].Household = device.Household >= 0 ? _households[device.Household].Id : null;
            _state[d].Topic = _writer.Topic(plan.World.Communities[device.Community].Id, device.Kind, device.Id);
            _state[d].Kind = device.Kind;
            _state[d].Meter = device.Meter;
            switch (device.Kind)
            {
                case DeviceKind.Meter:
                    var kind = _households[device.Household].Kind;
                    _state[d].Level = HouseholdProfiles.Level(kind, device.Meter) * (0.7 + 0.6 * Noise.Unit(Noise.Hash(_seed, key, 1)));
                    _state[d].Amplitude = 0.10 + 0.15 * Noise.Unit(Noise.Hash(_seed, key, 2));
                    _state[d].ShapeWork = HouseholdProfiles.Shape(kind, device.Meter, restDay: false);
                    _state[d].ShapeRest = HouseholdProfiles.Shape(kind, device.Meter, restDay: true);
                    _state[d].Total = device.Meter == MeterType.Water
                        ? 40 + 900 * Noise.Unit(Noise.Hash(_seed, key, 3))
                        : 800 + 20_000 * Noise.Unit(Noise.Hash(_seed, key, 3));
                    break;
                case DeviceKind.Gate:
                    var gates = Math.Max(1, plan.World.Options.Gates);
                    _peakPerMs[d] = plan.World.Options.Households * GatePassesPerHouseholdPerDay / gates / Day * s_gatePeak;
                    break;
                case DeviceKind.Parking:
                    // With three or more lots the last is the visitors' lot (see SimulatedWorld).
                    _visitorsLot[d] = plan.World.Options.Lots >= 3 && device.Label == $"P{plan.World.Options.Lots}";
                    break;
                case DeviceKind.Camera:
                    _peakPerMs[d] = DetectionsPerCameraPerSecond * cadence.DetectionFactor / Second * s_gatePeak;
                    cameras.Add(d);
                    break;
            }
        }
        _cameras = [.. cameras];
        _scriptSource = count + _cameras.Length;

        for (var d = 0; d < count; d++)
        {
            var phase = (long)(Noise.Unit(Noise.Hash(_seed, _state[d].Key, 6)) * 60) * Second;
            switch (_devices[d].Kind)
            {
                case DeviceKind.Meter:
                    // Meters report on their own phase within the interval, so a community's readings are spread, not a burst.
                    // (× 1.0 at the default cadence: the same bytes as before cadences were an option.)
                    var first = (long)(Noise.Unit(Noise.Hash(_seed, _state[d].Key, 7)) * 15 * 60 * (_meterInterval / (double)MeterInterval)) * Second;
                    _state[d].LastReading = first;
                    Schedule(d, first);
                    break;
                case DeviceKind.Gate:
                    ScheduleRandom(d, d, 0);
                    break;
                case DeviceKind.Parking:
                case DeviceKind.Camera:
                    Schedule(d, phase);
                    break;
            }
        }
        for (var c = 0; c < _cameras.Length; c++)
            ScheduleRandom(count + c, _cameras[c], 0);
        if (plan.Script.Count > 0)
            Schedule(_scriptSource, plan.Script[0].At);
    }

    /// <summary>Messages generated so far.</summary>
    public long Count => _sequence;

    /// <summary>The next message in event-time order, or false at the end of the run.</summary>
    public bool TryNext(out SimulatedMessage message)
    {
        while (_agenda.TryDequeue(out var key))
        {
            var ms = key >> SourceBits;
            var source = (int)(key & SourceMask);
            if (source < _devices.Length)
            {
                if (Device(source, ms, out message))
                    return true;
            }
            else if (source < _scriptSource)
            {
                var device = _cameras[source - _devices.Length];
                ScheduleRandom(source, device, ms);
                if (!IsSilent(device, ms))
                {
                    var u = NextUnit();
                    var vehicle = u < (_devices[device].Label is "garage-entry" or "north-lot" or "south-lot" ? 0.6 : 0.1);
                    var people = 1 + (u < 0.3 ? 1 : 0) + (u < 0.08 ? 1 : 0);
                    message = Emit(device, ms, DeviceKind.Camera, _writer.Camera(Time(device, ms), vehicle ? "vehicle" : "person", people, _devices[device].Label), null);
                    return true;
                }
            }
            else
            {
                var scripted = _plan.Script[_scriptCursor++];
                if (_scriptCursor < _plan.Script.Count)
                    Schedule(_scriptSource, _plan.Script[_scriptCursor].At);
                var device = _devices[scripted.Device];
                var payload = device.Kind == DeviceKind.Gate
                    ? _writer.Gate(Time(scripted.Device, ms), scripted.Event, scripted.Direction ?? "in", scripted.Credential, scripted.Household)
                    : _writer.Camera(Time(scripted.Device, ms), scripted.Event, null, device.Label);
                message = Emit(scripted.Device, ms, device.Kind, payload, null);
                return true;
            }
        }
        message = default;
        return false;
    }

    private bool Device(int d, long ms, out SimulatedMessage message)
    {
        var device = _devices[d];
        switch (_state[d].Kind)
        {
            case DeviceKind.Meter:
            {
                Schedule(d, ms + _meterInterval);
                var reset = _state[d].ResetAt;
                if (reset > _state[d].LastReading && reset <= ms)
                {
                    _state[d].Total = Between(d, reset, ms);
                    _state[d].ResetPending = true;
                }
                else
                {
                    _state[d].Total += Between(d, _state[d].LastReading, ms);
                }
                _state[d].LastReading = ms;
                // A lost reading (radio, gateway): the register goes on, so the next reading carries the gap's use.
                if (IsSilent(d, ms) || IsLost(d, ms))
                    break;
                var household = _state[d].Household!;
                message = Emit(d, ms, DeviceKind.Meter, _writer.Meter(Time(d, ms), _state[d].Meter, _state[d].Total, household), household);
                return true;
            }
            case DeviceKind.Gate:
            {
                ScheduleRandom(d, d, ms);
                if (IsSilent(d, ms))
                    break;
                var hour = LocalHour(ms);
                // Out in the morning, home in the evening.
                var outbound = hour is >= 5 and < 11 ? 0.75 : hour is >= 16 and < 22 ? 0.25 : 0.5;
                var direction = NextUnit() < outbound ? "out" : "in";
                var u = NextUnit();
                var denied = u < 0.02;
                var credential = u < 0.55 ? "face" : u < 0.85 ? "card" : u < 0.95 ? "qr" : "plate";
                // Residents identify; a QR code is a visitor's pass and a denied attempt belongs to nobody known. These
                // random passes are working families' (and their visitors'): people at home all day pass on their
                // outings, scripted by the plan, and nobody passes while away or unable to go out.
                string? household = null;
                if (!denied && credential != "qr" && _families[device.Community] is { Length: > 0 } families)
                {
                    var h = families[(int)(NextUnit() * families.Length)];
                    household = _plan.IsAbsent(h, ms, ms + 1) ? null : _households[h].Id;
                }
                message = Emit(d, ms, DeviceKind.Gate, _writer.Gate(Time(d, ms), denied ? "denied" : "pass", direction, credential, household), null);
                return true;
            }
            case DeviceKind.Parking:
            {
                Schedule(d, ms + _lotInterval);
                if (IsSilent(d, ms))
                    break;
                var free = Free(d, ms);
                message = Emit(d, ms, DeviceKind.Parking, _writer.Lot(Time(d, ms), device.Label, free, device.Capacity), null);
                return true;
            }
            case DeviceKind.Camera:
            {
                Schedule(d, ms + _heartbeatInterval);
                if (IsSilent(d, ms))
                    break;
                message = Emit(d, ms, DeviceKind.Camera, _writer.Camera(Time(d, ms), "online", null, device.Label), null);
                return true;
            }
        }
        message = default;
        return false;
    }

    /// <summary>Applies the per-message faults (malformed payloads, pending counter-reset flag) and counts the message.</summary>
    private SimulatedMessage Emit(int d, long ms, DeviceKind kind, ReadOnlyMemory<byte> payload, string? household)
    {
        var sequence = _sequence++;
        var fault = _state[d].SkewMs != 0 ? MessageFault.ClockSkew : MessageFault.None;
        var rate = _plan.Faults.Malformed;
        var draw = rate > 0 ? Noise.Hash(_seed, (ulong)sequence, 5000) : 0;
        if (rate > 0 && Noise.Unit(draw) < rate)
        {
            fault = MessageFault.Malformed;
            payload = (draw & 3) switch
            {
                // Cut mid-field: what a gateway sends when its buffer overflows.
                0 => payload[..(payload.Length * 2 / 3)],
                1 => _writer.Malformed(kind, wrongType: true, Time(d, ms), household),
                _ => _writer.Malformed(kind, wrongType: false, Time(d, ms), household),
            };
        }
        else if (_state[d].ResetPending)
        {
            _state[d].ResetPending = false;
            fault = MessageFault.CounterReset;
        }
        return new SimulatedMessage(d, _state[d].Topic, payload, _start.AddMilliseconds(ms), fault);
    }

    /// <summary>The time a device writes into <c>ts</c>: the event time, or hours off it for a skewed clock.</summary>
    private DateTimeOffset Time(int d, long ms) => _start.AddMilliseconds(ms + _state[d].SkewMs);

    private bool IsSilent(int d, long ms) => ms >= _state[d].SilentFrom && ms < _state[d].SilentTo;

    private bool IsLost(int d, long ms) =>
        _plan.Faults.Loss > 0 && Noise.Unit(Noise.Hash(_seed, _state[d].Key, 0x1055_0000UL + (ulong)(ms / _meterInterval))) < _plan.Faults.Loss;

    /// <summary>A meter's use between two instants (ms from the start), integrated over hours and modifier windows.</summary>
    private double Between(int d, long from, long to)
    {
        var total = 0.0;
        var modifiers = _state[d].Modifiers;
        var cursor = from;
        while (cursor < to)
        {
            var absolute = _startUnixMs + cursor;
            var end = Math.Min(to, (FloorDiv(absolute, Hour) + 1) * Hour - _startUnixMs);
            if (modifiers is not null)
            {
                foreach (var m in modifiers)
                {
                    if (m.From > cursor && m.From < end)
                        end = m.From;
                    if (m.To > cursor && m.To < end)
                        end = m.To;
                }
            }
            total += Rate(d, cursor, modifiers) * (end - cursor) / Hour;
            cursor = end;
        }
        return total;
    }

    /// <summary>Use per hour at <paramref name="ms"/>: level × the household's shape for the local hour and day type × hourly noise, then modifiers.</summary>
    private double Rate(int d, long ms, MeterModifier[]? modifiers)
    {
        var local = _startUnixMs + ms + (long)ChinaCalendar.LocalOffset.TotalMilliseconds;
        var hour = (int)(FloorMod(local, Day) / Hour);
        var rest = _restDays[FloorDiv(local, Day) - _firstLocalDay];
        var shape = (rest ? _state[d].ShapeRest : _state[d].ShapeWork)[hour];
        var u = Noise.Unit(Noise.Hash(_seed, _state[d].Key, (ulong)FloorDiv(_startUnixMs + ms, Hour) + 16));
        var rate = _state[d].Level * shape * Math.Max(0.2, 1 + _state[d].Amplitude * 1.7 * (2 * u - 1));
        if (modifiers is null)
            return rate;
        // Out of the flat first: what is left is the base load, which the other modifiers then scale like any use.
        foreach (var m in modifiers)
        {
            if (m.Kind == MeterModifierKind.Outing && ms >= m.From && ms < m.To)
                rate = _state[d].Meter == MeterType.Water ? 0 : _state[d].Level * m.Value * (0.95 + 0.1 * u);
        }
        var flow = 0.0;
        foreach (var m in modifiers)
        {
            if (ms < m.From || ms >= m.To)
                continue;
            switch (m.Kind)
            {
                case MeterModifierKind.Season:
                    var f = 1 + (m.Value - 1) * (ms - m.From) / Math.Max(1.0, m.To - m.From);
                    rate *= _state[d].Meter == MeterType.Electricity ? f : 1 + (f - 1) / 3;
                    break;
                case MeterModifierKind.Factor:
                    rate *= m.Value;
                    break;
                case MeterModifierKind.HeatWave:
                    // Air conditioning: the full factor from noon to 22:00, a third of it at night; showers add some water.
                    rate *= _state[d].Meter == MeterType.Electricity
                        ? hour is >= 12 and < 22 ? m.Value : 1 + (m.Value - 1) / 3
                        : 1 + (m.Value - 1) / 2;
                    break;
                case MeterModifierKind.Flow:
                    flow += m.Value;
                    break;
            }
        }
        return rate + flow;
    }

    /// <summary>Free spaces: the lot's occupancy curve with a little noise, or full during a parking_full incident.</summary>
    private int Free(int d, long ms)
    {
        var device = _devices[d];
        var capacity = device.Capacity;
        var from = _plan.FullFrom[d];
        if (ms >= from && ms < _plan.FullTo[d])
            return 0;
        var occupancy = Occupancy(d, ms) + 0.012 * (2 * Noise.Unit(Noise.Hash(_seed, _state[d].Key, (ulong)(ms / Minute) + 64)) - 1);
        if (from != FeedPlan.None && ms >= from - FillRamp && ms < from)
        {
            var filled = (double)(ms - (from - FillRamp)) / FillRamp;
            occupancy += (1 - occupancy) * filled;
        }
        return capacity - Math.Clamp((int)Math.Round(capacity * occupancy), 0, capacity);
    }

    private double Occupancy(int d, long ms)
    {
        var local = _startUnixMs + ms + (long)ChinaCalendar.LocalOffset.TotalMilliseconds;
        var rest = _restDays[FloorDiv(local, Day) - _firstLocalDay];
        var curve = _visitorsLot[d] ? rest ? s_visitorsRest : s_visitorsWork : rest ? s_lotRest : s_lotWork;
        var inDay = FloorMod(local, Day);
        var hour = (int)(inDay / Hour);
        var fraction = (double)(inDay % Hour) / Hour;
        return curve[hour] + (curve[(hour + 1) % 24] - curve[hour]) * fraction;
    }

    private int LocalHour(long ms) => (int)(FloorMod(_startUnixMs + ms + (long)ChinaCalendar.LocalOffset.TotalMilliseconds, Day) / Hour);

    private bool IsRestDay(long ms) => _restDays[FloorDiv(_startUnixMs + ms + (long)ChinaCalendar.LocalOffset.TotalMilliseconds, Day) - _firstLocalDay];

    /// <summary>Thinning: draw gaps at the peak rate and keep an event with probability rate(t)/peak.</summary>
    private void ScheduleRandom(int source, int device, long after)
    {
        var peak = _peakPerMs[device];
        if (peak <= 0)
            return;
        var t = after;
        while (true)
        {
            t += 1 + (long)(-Math.Log(1 - NextUnit()) / peak);
            if (t >= _durationMs)
                return;
            var shape = IsRestDay(t) ? s_gateRest : s_gateWork;
            if (NextUnit() * s_gatePeak < shape[LocalHour(t)])
                break;
        }
        Schedule(source, t);
    }

    private void Schedule(int source, long ms)
    {
        if (ms < _durationMs)
            _agenda.Enqueue((ms << SourceBits) | (source & SourceMask));
    }

    /// <summary>SplitMix64 over a counter: the one sequential stream, drawn in agenda order, which is itself seed-determined.</summary>
    private double NextUnit()
    {
        _random += 0x9E3779B97F4A7C15UL;
        return Noise.Unit(Noise.Mix(_random));
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : (a - b + 1) / b;

    private static long FloorMod(long a, long b) => a - FloorDiv(a, b) * b;

    private static double Max(double[] values)
    {
        var max = double.MinValue;
        foreach (var v in values)
            max = Math.Max(max, v);
        return max;
    }

    private static double[] Normalize(double[] shape)
    {
        var sum = 0.0;
        foreach (var v in shape)
            sum += v;
        var result = new double[shape.Length];
        for (var i = 0; i < shape.Length; i++)
            result[i] = shape[i] * shape.Length / sum;
        return result;
    }

    /// <summary>
    /// One device's generator state, kept together: a message then touches a cache line or two instead of a dozen
    /// arrays, which matters with 176,000 devices visited in phase order (effectively at random).
    /// </summary>
    private struct DeviceState
    {
        public ulong Key;
        public double Level;
        public double Amplitude;
        public double Total;
        public long LastReading;
        public long SilentFrom;
        public long SilentTo;
        public long SkewMs;
        public long ResetAt;
        public bool ResetPending;
        public MeterModifier[]? Modifiers;
        public double[] ShapeWork;
        public double[] ShapeRest;
        public string? Household;
        public string Topic;
        public DeviceKind Kind;
        public MeterType Meter;
    }
}
