using Sensing.Telemetry;

namespace Sensing.Simulators;

/// <summary>
/// The demo's device traffic for a <see cref="DemoWorld"/>: first a backfill of hourly meter readings up to
/// <see cref="Now"/> (so analytics have two weeks of history at once), then a live feed at wall-clock pace.
/// Build it with <see cref="Create"/>; publishing is <see cref="DemoFeedPublisher"/>'s job.
/// </summary>
/// <remarks>
/// Resuming: pass the newest stored register per meter. Each meter then continues from its stored total and
/// time, so a restart never repeats or lowers a register, and the incident is planted only on a fresh start
/// (an empty <c>registers</c>): planting it into data that already has a history would put a second onset on
/// the wall.
/// </remarks>
public sealed class DemoFeed
{
    /// <summary>How long after the live feed starts the <see cref="SilentCamera"/> goes quiet.</summary>
    public static readonly TimeSpan SilentAfter = TimeSpan.FromSeconds(60);

    /// <summary>How far before <see cref="Now"/> (rounded down to the hour) the planted incident begins.</summary>
    public static readonly TimeSpan IncidentLead = TimeSpan.FromHours(6);

    // 2 % of usual: clearly "near zero" for the detector, yet not a flat zero that would look like a dead meter.
    private const double IncidentResidual = 0.02;

    private readonly MeterFeed[] _meters;
    private readonly (DateTimeOffset Time, double Total)[] _backfillEnd;
    private readonly DateTimeOffset _firstSlot;
    private readonly int _seed;
    private readonly RegistrySnapshot _world;

    private DemoFeed(RegistrySnapshot world, int seed, DateTimeOffset now, DateTimeOffset firstSlot, MeterFeed[] meters, PlantedIncident? incident)
    {
        _world = world;
        _seed = seed;
        Now = now;
        _firstSlot = firstSlot;
        _meters = meters;
        Incident = incident;
        SilentCamera = world.Devices.FirstOrDefault(d => d is { Kind: DeviceKind.Camera, Community: "c1", Grid: "g2" })?.Id;

        // Walk the backfill once without writing JSON: the live feed must continue each register from where
        // the backfill leaves it, whether or not anyone enumerated the backfill first.
        _backfillEnd = [.. meters.Select(m => (m.StartTime, m.StartTotal))];
        foreach (var (meter, time, total) in Walk())
        {
            _backfillEnd[meter] = (time, total);
            BackfillCount++;
        }
    }

    /// <summary>The instant the backfill runs up to (its last reading is on the hour at or before it).</summary>
    public DateTimeOffset Now { get; }

    /// <summary>Number of messages <see cref="Backfill"/> yields.</summary>
    public int BackfillCount { get; }

    /// <summary>The planted welfare incident; null on a resumed start.</summary>
    public PlantedIncident? Incident { get; }

    /// <summary>The camera (c1, grid g2) that stops sending <see cref="SilentAfter"/> into the live feed, so <c>device_silent</c> fires.</summary>
    public string? SilentCamera { get; }

    /// <summary>Builds the feed.</summary>
    /// <param name="world">Usually <see cref="DemoWorld.Create"/>; meters must follow its id convention (<c>-wm-</c>/<c>-em-</c>).</param>
    /// <param name="seed">Same world, seed, <paramref name="now"/> and registers give byte-identical output.</param>
    /// <param name="now">End of the backfill; normally the wall clock at start.</param>
    /// <param name="registers">
    /// Meter device id → event time and <c>total</c> of its newest stored reading; empty (or null) for a fresh
    /// start. Meters missing from a non-empty map start fresh from a plausible register.
    /// </param>
    /// <param name="backfillDays">History to generate for fresh meters; resumed meters backfill only after their stored time (at most this far back).</param>
    public static DemoFeed Create(
        RegistrySnapshot world,
        int seed,
        DateTimeOffset now,
        IReadOnlyDictionary<string, (DateTimeOffset Time, double Total)>? registers = null,
        int backfillDays = 14)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentOutOfRangeException.ThrowIfNegative(backfillDays);
        registers ??= new Dictionary<string, (DateTimeOffset, double)>();

        var firstSlot = FloorToHour(now) - TimeSpan.FromDays(backfillDays);
        PlantedIncident? incident = null;
        if (registers.Count == 0)
        {
            var households = world.Households.Where(h => h is { Community: "c1", Grid: "g1", ElderlyLivingAlone: true }).OrderBy(h => h.Id, StringComparer.Ordinal);
            foreach (var household in households)
            {
                var meters = world.Devices.Where(d => d.Household == household.Id).ToList();
                var water = meters.FirstOrDefault(d => DemoWorld.MeterTypeOf(d) == MeterType.Water);
                var electricity = meters.FirstOrDefault(d => DemoWorld.MeterTypeOf(d) == MeterType.Electricity);
                if (water is null || electricity is null)
                    continue;
                incident = new PlantedIncident("c1", "g1", household.Id, water.Id, electricity.Id, FloorToHour(now) - IncidentLead, IncidentResidual);
                break;
            }
        }

        var elderly = world.Households.Where(h => h.ElderlyLivingAlone).Select(h => h.Id).ToHashSet(StringComparer.Ordinal);
        var feeds = new List<MeterFeed>();
        foreach (var device in world.Devices)
        {
            if (DemoWorld.MeterTypeOf(device) is not { } type)
                continue;
            var household = device.Household!;
            var planted = incident is not null && incident.Household == household;
            var consumption = new HouseholdConsumption(seed, device.Id, type, elderly.Contains(household), planted ? incident!.Onset : null, IncidentResidual);
            var (startTime, startTotal, fresh) = registers.TryGetValue(device.Id, out var stored)
                ? (stored.Time, stored.Total, false)
                : (firstSlot, consumption.InitialRegister, true);
            feeds.Add(new MeterFeed(device, Topic(device), type, consumption, startTime, startTotal, fresh));
        }

        return new DemoFeed(world, seed, now, firstSlot, [.. feeds], incident);
    }

    /// <summary>Hourly meter readings from the start of the window (or each meter's stored time) up to <see cref="Now"/>, in event-time order.</summary>
    public IEnumerable<FeedMessage> Backfill()
    {
        var writer = new PayloadWriter();
        foreach (var (index, time, total) in Walk())
        {
            var meter = _meters[index];
            yield return new FeedMessage(meter.Topic, writer.Meter(time, meter.Type, total, meter.Device.Household!).ToArray(), time);
        }
    }

    /// <summary>
    /// Live traffic at wall-clock pace on <paramref name="time"/>, stamped with its current time, until
    /// cancelled: meters every 15 minutes (spread over the interval), gate passes (a few per second, more at
    /// the morning and evening peaks, Beijing time), lot counts every 10 s, camera detections and a 30 s
    /// <c>online</c> heartbeat per camera. Meter registers continue from the backfill's end.
    /// </summary>
    /// <param name="maxMessagesPerSecond">Cap on the pace; when it binds, random events thin out rather than queue up. 0 for no cap.</param>
    public IAsyncEnumerable<FeedMessage> LiveAsync(TimeProvider time, double maxMessagesPerSecond, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfNegative(maxMessagesPerSecond);
        return new LiveFeed(_world, _seed, _meters, _backfillEnd, SilentCamera, time).RunAsync(maxMessagesPerSecond, cancellationToken);
    }

    /// <summary>
    /// The backfill as (meter, time, register): slot by slot, every meter whose stored time is before the slot.
    /// A fresh meter's first reading is at the window start with its initial register.
    /// </summary>
    private IEnumerable<(int Meter, DateTimeOffset Time, double Total)> Walk()
    {
        var times = _meters.Select(m => m.StartTime).ToArray();
        var totals = _meters.Select(m => m.StartTotal).ToArray();
        for (var slot = _firstSlot; slot <= Now; slot += TimeSpan.FromHours(1))
        {
            for (var i = 0; i < _meters.Length; i++)
            {
                var meter = _meters[i];
                if (meter.Fresh ? slot < meter.StartTime : slot <= meter.StartTime)
                    continue;
                totals[i] += meter.Consumption.Between(times[i], slot);
                times[i] = slot;
                yield return (i, slot, totals[i]);
            }
        }
    }

    internal static string Topic(Device device) => $"sensing/{device.Community}/{device.Kind.Name()}/{device.Id}";

    private static DateTimeOffset FloorToHour(DateTimeOffset time) =>
        new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
}

internal sealed record MeterFeed(
    Device Device,
    string Topic,
    MeterType Type,
    HouseholdConsumption Consumption,
    DateTimeOffset StartTime,
    double StartTotal,
    bool Fresh);
