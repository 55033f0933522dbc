using System.Runtime.CompilerServices;
using Sensing.Telemetry;

namespace Sensing.Simulators;

/// <summary>
/// One run of the live feed: a time-ordered agenda of the next event per source, slept through on the
/// injected <see cref="TimeProvider"/>. Periodic sources (meters, lot counts, heartbeats) keep their cadence;
/// random ones (gate passes, detections) draw their next gap after each emission, so a binding rate cap
/// thins them out instead of building an ever-growing backlog.
/// </summary>
internal sealed class LiveFeed
{
    private static readonly TimeSpan s_meterInterval = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan s_lotInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_heartbeatInterval = TimeSpan.FromSeconds(30);
    // Every camera reports online within the first seconds, so the "cameras online" tile fills at once.
    private static readonly TimeSpan s_firstHeartbeatsWithin = TimeSpan.FromSeconds(3);
    private const double GatePassesPerSecondPerCommunity = 0.9;
    private const double DetectionsPerSecondPerCamera = 0.06;

    private static readonly string[] s_zones =
        ["east-gate", "west-gate", "north-lot", "south-lot", "lobby-1", "lobby-2", "playground", "bike-shed", "garage-entry", "square", "path-3", "fire-lane"];

    private enum Source { Meter, Gate, Lot, Heartbeat, Detection }

    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly PayloadWriter _writer = new();
    private readonly PriorityQueue<(Source Source, int Index), (long Due, long Sequence)> _agenda = new();
    private long _sequence;

    private readonly MeterFeed[] _meters;
    private readonly DateTimeOffset[] _meterTimes;
    private readonly double[] _meterTotals;
    private readonly CommunityTraffic[] _communities;
    private readonly LotCounter[] _lots;
    private readonly CameraFeed[] _cameras;
    private readonly int _silentCamera;

    public LiveFeed(RegistrySnapshot world, int seed, MeterFeed[] meters, (DateTimeOffset Time, double Total)[] registers, string? silentCamera, TimeProvider time)
    {
        _time = time;
        _random = new Random(seed);
        _meters = meters;
        _meterTimes = [.. registers.Select(r => r.Time)];
        _meterTotals = [.. registers.Select(r => r.Total)];
        _communities = [.. world.Communities.Select(c => new CommunityTraffic(
            [.. world.Devices.Where(d => d.Community == c.Id && d.Kind == DeviceKind.Gate).Select(DemoFeed.Topic)],
            [.. world.Households.Where(h => h.Community == c.Id).Select(h => h.Id)]))
            .Where(c => c.GateTopics.Length > 0)];
        _lots = [.. world.Devices.Where(d => d.Kind == DeviceKind.Parking).Select(d =>
        {
            var lot = DemoWorld.LotOf(d);
            // A big residents' lot and a small visitors' lot, sized by the seed.
            var spread = (int)(Noise.Unit(Noise.Hash((ulong)seed, Noise.Key(d.Id), 4)) * 40);
            var capacity = lot == "P1" ? 120 + 2 * spread : 60 + spread;
            return new LotCounter(DemoFeed.Topic(d), lot, capacity);
        })];
        _cameras = [.. world.Devices.Where(d => d.Kind == DeviceKind.Camera).Select(d =>
            new CameraFeed(d.Id, DemoFeed.Topic(d), s_zones[(int)(Noise.Key(d.Id) % (ulong)s_zones.Length)]))];
        _silentCamera = Array.FindIndex(_cameras, c => c.Id == silentCamera);
    }

    public async IAsyncEnumerable<FeedMessage> RunAsync(double maxMessagesPerSecond, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = _time.GetUtcNow();
        var silentFrom = start + DemoFeed.SilentAfter;
        var spacing = maxMessagesPerSecond > 0 ? TimeSpan.FromSeconds(1 / maxMessagesPerSecond) : TimeSpan.Zero;
        Schedule(start, spacing);

        var nextAllowed = start;
        while (_agenda.TryDequeue(out var item, out var priority))
        {
            var due = new DateTimeOffset(Math.Max(priority.Due, nextAllowed.UtcTicks), TimeSpan.Zero);
            var wait = due - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();

            var now = _time.GetUtcNow();
            nextAllowed = now + spacing;
            var dueTime = new DateTimeOffset(priority.Due, TimeSpan.Zero);
            var message = item.Source switch
            {
                Source.Meter => MeterReading(item.Index, dueTime, now),
                Source.Gate => GatePass(item.Index, now),
                Source.Lot => LotCount(item.Index, dueTime, now),
                Source.Heartbeat => item.Index == _silentCamera && now >= silentFrom ? null : Heartbeat(item.Index, dueTime, now),
                Source.Detection => item.Index == _silentCamera && now >= silentFrom ? null : Detection(item.Index, now),
                _ => null,
            };
            if (message is not null)
                yield return message;
        }
    }

    private void Schedule(DateTimeOffset start, TimeSpan spacing)
    {
        for (var i = 0; i < _meters.Length; i++)
            Enqueue(Source.Meter, i, start + s_meterInterval * i / _meters.Length);
        for (var i = 0; i < _communities.Length; i++)
            Enqueue(Source.Gate, i, start + Gap(GatePassesPerSecondPerCommunity * GateRhythm(start)));
        for (var i = 0; i < _lots.Length; i++)
        {
            _lots[i].Free = (int)Math.Round(_lots[i].Capacity * TargetFreeShare(start));
            Enqueue(Source.Lot, i, start + s_lotInterval * i / _lots.Length);
        }
        for (var i = 0; i < _cameras.Length; i++)
        {
            Enqueue(Source.Heartbeat, i, start + s_firstHeartbeatsWithin * i / _cameras.Length);
            Enqueue(Source.Detection, i, start + Gap(DetectionsPerSecondPerCamera * CameraRhythm(start)));
        }
    }

    private FeedMessage? MeterReading(int index, DateTimeOffset due, DateTimeOffset now)
    {
        Enqueue(Source.Meter, index, due + s_meterInterval);
        // A stored reading newer than the clock (a skewed clock on a previous run) must not be contradicted:
        // stay quiet until the clock passes it rather than stamp an older time.
        if (now <= _meterTimes[index])
            return null;
        var meter = _meters[index];
        _meterTotals[index] += meter.Consumption.Between(_meterTimes[index], now);
        _meterTimes[index] = now;
        return new FeedMessage(meter.Topic, _writer.Meter(now, meter.Type, _meterTotals[index], meter.Device.Household!).ToArray(), now);
    }

    private FeedMessage GatePass(int index, DateTimeOffset now)
    {
        Enqueue(Source.Gate, index, now + Gap(GatePassesPerSecondPerCommunity * GateRhythm(now)));
        var community = _communities[index];
        var topic = community.GateTopics[_random.Next(community.GateTopics.Length)];
        var hour = now.ToOffset(HouseholdConsumption.LocalOffset).Hour;
        // Residents leave in the morning and come home in the evening.
        var outShare = hour is >= 6 and < 10 ? 0.7 : hour is >= 16 and < 21 ? 0.3 : 0.5;
        var direction = _random.NextDouble() < outShare ? "out" : "in";
        var draw = _random.NextDouble();
        var credential = draw < 0.5 ? "face" : draw < 0.75 ? "card" : draw < 0.85 ? "qr" : "plate";
        var denied = _random.NextDouble() < 0.02;
        // QR codes are visitors' passes and a denied credential is nobody's: neither names a household.
        var household = denied || credential == "qr" ? null : community.Households[_random.Next(community.Households.Length)];
        return new FeedMessage(topic, _writer.Gate(now, denied ? "denied" : "pass", direction, credential, household).ToArray(), now);
    }

    private FeedMessage LotCount(int index, DateTimeOffset due, DateTimeOffset now)
    {
        Enqueue(Source.Lot, index, due + s_lotInterval);
        var lot = _lots[index];
        // Drift a tenth of the way toward the hour's usual occupancy, plus a car or two either way. Two spaces
        // always stay free: a full lot raises parking_full, which the demo keeps for a scenario to plant.
        var target = lot.Capacity * TargetFreeShare(now);
        var step = (int)Math.Round((target - lot.Free) * 0.1 + Gaussian() * 1.5);
        lot.Free = Math.Clamp(lot.Free + step, 2, lot.Capacity);
        return new FeedMessage(lot.Topic, _writer.Lot(now, lot.Lot, lot.Free, lot.Capacity).ToArray(), now);
    }

    private FeedMessage Heartbeat(int index, DateTimeOffset due, DateTimeOffset now)
    {
        Enqueue(Source.Heartbeat, index, due + s_heartbeatInterval);
        var camera = _cameras[index];
        return new FeedMessage(camera.Topic, _writer.Camera(now, "online", null, camera.Zone).ToArray(), now);
    }

    private FeedMessage Detection(int index, DateTimeOffset now)
    {
        Enqueue(Source.Detection, index, now + Gap(DetectionsPerSecondPerCamera * CameraRhythm(now)));
        var camera = _cameras[index];
        var vehicle = _random.NextDouble() < 0.25;
        var count = vehicle ? 1 + _random.Next(2) : 1 + _random.Next(4);
        return new FeedMessage(camera.Topic, _writer.Camera(now, vehicle ? "vehicle" : "person", count, camera.Zone).ToArray(), now);
    }

    private void Enqueue(Source source, int index, DateTimeOffset due) => _agenda.Enqueue((source, index), (due.UtcTicks, _sequence++));

    /// <summary>Exponential gap of a Poisson process with <paramref name="perSecond"/> events per second.</summary>
    private TimeSpan Gap(double perSecond) => TimeSpan.FromSeconds(-Math.Log(1 - _random.NextDouble()) / perSecond);

    private double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());

    private static double GateRhythm(DateTimeOffset time) => time.ToOffset(HouseholdConsumption.LocalOffset).Hour switch
    {
        7 or 8 => 2.5,
        17 or 18 or 19 => 2.2,
        6 or 9 or 16 or 20 => 1.4,
        >= 23 or < 6 => 0.2,
        _ => 1.0,
    };

    private static double CameraRhythm(DateTimeOffset time) => GateRhythm(time) is var gate && gate < 1 ? 0.3 : Math.Min(gate, 1.8);

    /// <summary>Share of a lot free at this local time: empty-ish on weekday office hours, nearly full at night.</summary>
    private static double TargetFreeShare(DateTimeOffset time)
    {
        var local = time.ToOffset(HouseholdConsumption.LocalOffset);
        var weekend = local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
        return local.Hour switch
        {
            >= 22 or < 6 => 0.08,
            >= 9 and < 17 => weekend ? 0.25 : 0.55,
            _ => 0.3,
        };
    }

    private sealed record CommunityTraffic(string[] GateTopics, string[] Households);

    private sealed record CameraFeed(string Id, string Topic, string Zone);

    private sealed class LotCounter(string topic, string lot, int capacity)
    {
        public string Topic { get; } = topic;
        public string Lot { get; } = lot;
        public int Capacity { get; } = capacity;
        public int Free { get; set; }
    }
}
