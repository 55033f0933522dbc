using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.Hubs;

namespace Sensing.Cockpit.Tiles;

/// <summary>One parking lot's latest count.</summary>
public sealed record LotTile(string Lot, double Free, double Capacity, DateTimeOffset AsOf);

/// <summary>
/// How fresh one tile's figure is: <see cref="AsOf"/> is the time of the newest data behind it (null: none yet), and
/// <see cref="PeriodS"/> (seconds) how often that data usually arrives. The wall screen marks a tile stale once its data is
/// older than twice its period, so after an outage an old figure never passes for a live one.
/// </summary>
public sealed record TileFreshness(DateTimeOffset? AsOf, double PeriodS);

/// <summary>
/// The figures a wall screen shows for one community (<c>GET /api/tiles</c> and the hub's <c>tiles</c>).
/// <see cref="AsOf"/> is when they were computed, <see cref="DataAsOf"/> the newest reading behind them, so the
/// screen can show how old the data is and a stale figure never passes for a live one.
/// </summary>
public sealed record CommunityTiles(
    string Community,
    DateTimeOffset AsOf,
    DateTimeOffset? DataAsOf,
    int HouseholdsMonitored,
    int CamerasOnline,
    int CamerasTotal,
    double? GatePassesToday, // null while the store has not answered since the start (or since midnight)
    IReadOnlyList<LotTile> Parking,
    double ParkingFree,
    double ParkingCapacity,
    int OpenAlerts,
    IReadOnlyDictionary<string, int> OpenAlertsByGrid,
    double? ClosureRate,
    double ReadingsLastMinute,
    long DeadlettersLastHour, // counted by this process: after a restart, from the restart on
    int DevicesSilent,
    string StoreState,
    int SpoolDepth,
    // Wall screen (issue 7): per-tile freshness, keyed by the tile names of TileNames, and the devices whose messages
    // were dead-lettered in the last hour (a device sending garbage is as unhealthy as a silent one).
    IReadOnlyDictionary<string, TileFreshness> Freshness,
    int DeadletteringDevices,
    IReadOnlyList<string> DeadletteringDeviceIds,
    ClosureReport? Closure = null,
    BrokerTile? Broker = null,
    // Since when the store has not answered the tiles' reads (TileStoreReads): the gate passes, lots and cameras'
    // offline reports are then those of the last good read, their tiles aged by it. Null while it answers.
    DateTimeOffset? StoreUnreadableSince = null);

/// <summary>
/// Ingest's link to its MQTT broker as the wall screen shows it (issue 9): while it is down, since when; once back, the
/// last gap, so a dip in the figures is explained by "no data came in from … to …", not guessed at.
/// </summary>
public sealed record BrokerTile(bool Connected, DateTimeOffset? DisconnectedSince, Sensing.Ingest.Mqtt.BrokerGap? LastGap);

/// <summary>The wall screen's tile names: keys of <see cref="CommunityTiles.Freshness"/> and its <c>tile-&lt;name&gt;</c> test ids.</summary>
public static class TileNames
{
    public const string Households = "households";
    public const string Cameras = "cameras";
    public const string GatePasses = "gate-passes";
    public const string Parking = "parking";
    public const string OpenAlerts = "open-alerts";
    public const string ClosureRate = "closure-rate";
    public const string TimeToClose = "time-to-close";
    public const string DeviceHealth = "device-health";
}

/// <summary>
/// Computes a community's tiles from the registry (what exists), the store (what happened today) and the
/// alert book (what is open). "Today" is the calendar day in <c>Sensing:TimeZone</c>.
/// </summary>
public sealed class TileBoard(
    IDeviceRegistry registry,
    IReadingStore store,
    AlertBook alerts,
    IngestFigures ingest,
    Sensing.Ingest.Spool.StoreWriter storeWriter,
    DeadLetteringDevices deadLetters,
    GatePassesToday gatePasses,
    Sensing.Ingest.Mqtt.BrokerConnection brokerConnection,
    TileStoreReads storeReads,
    IOptions<SensingOptions> options,
    TimeProvider time) : IMetricsSource
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _computed = new(StringComparer.Ordinal);
    // Each community's last figures read from the store, shown while it does not answer. Kept for communities with
    // devices only, like _computed.
    private readonly ConcurrentDictionary<string, StoreFigures> _lastRead = new(StringComparer.Ordinal);

    /// <summary>What the tiles take from the store, read together, and when.</summary>
    private sealed record StoreFigures(
        IReadOnlyDictionary<string, DateTimeOffset> CameraOfflineAt, long GatePasses, DateTimeOffset Midnight, IReadOnlyList<LotTile> Lots, DateTimeOffset ReadAt);

    /// <summary>A camera that sent nothing (not even its heartbeat) for this long counts as offline.</summary>
    public static readonly TimeSpan CameraOnlineWindow = TimeSpan.FromMinutes(2);

    // How often each tile's data usually arrives; a tile is stale beyond twice this. Meters send their registers every
    // 15 minutes; cameras a heartbeat well within CameraOnlineWindow; lot counters report on change and at least every
    // minute; gates only when someone passes (busy by day, so 15 minutes of silence from every gate is worth a look).
    // Figures of the alert book and the dead-letter scan are computed when the tiles are, pushed every 2 s and polled
    // every 15 s while the hub is down: 15 s is their period.
    public static readonly TimeSpan MeterPeriod = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan CameraPeriod = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan ParkingPeriod = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan GatePeriod = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan BookPeriod = TimeSpan.FromSeconds(15);

    public async Task<CommunityTiles> ComputeAsync(string community, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var zone = options.Value.Zone;
        var localNow = TimeZoneInfo.ConvertTime(now, zone);
        var midnight = new DateTimeOffset(localNow.Date, localNow.Offset).ToUniversalTime();

        // One pass over the community's own devices (the registry's community index): households, cameras and the
        // newest time each kind was seen, without copying or filtering the whole registry.
        var households = new HashSet<string>(StringComparer.Ordinal);
        var cameras = new List<Device>();
        DateTimeOffset? dataAsOf = null, metersSeen = null, camerasSeen = null, gatesSeen = null;
        var known = false;
        foreach (var device in registry.DevicesIn(community))
        {
            known = true;
            var seen = registry.LastSeen(device.Id);
            dataAsOf = Newer(dataAsOf, seen);
            if (device.Kind == DeviceKind.Meter && device.Household is not null)
            {
                households.Add(device.Household);
                metersSeen = Newer(metersSeen, seen);
            }
            else if (device.Kind == DeviceKind.Camera)
            {
                cameras.Add(device);
                camerasSeen = Newer(camerasSeen, seen);
            }
            else if (device.Kind == DeviceKind.Gate)
            {
                gatesSeen = Newer(gatesSeen, seen);
            }
        }
        // Counted per community with devices only: a caller naming made-up communities must not grow the metric without bound.
        if (known) Interlocked.Increment(ref _computed.GetOrAdd(community, _ => new StrongBox<long>()).Value);

        var (stored, fresh) = await StoreFiguresAsync(community, midnight, known, cancellationToken);
        var offline = stored?.CameraOfflineAt ?? new Dictionary<string, DateTimeOffset>();
        var camerasOnline = cameras.Count(c =>
            registry.LastSeen(c.Id) is { } seen
            && now - seen <= CameraOnlineWindow
            && !(offline.TryGetValue(c.Id, out var wentOffline) && wentOffline >= seen));
        // Yesterday's count must not pass for today's.
        long? passes = stored is not null && stored.Midnight == midnight ? stored.GatePasses : null;
        var lots = stored?.Lots ?? [];

        var figures = alerts.Figures(community);
        var deadLettering = await deadLetters.InCommunityAsync(community, cancellationToken);
        // The newest data behind each figure: what the devices last sent, or when the book and the dead-letter scan were read.
        var freshness = new Dictionary<string, TileFreshness>(StringComparer.Ordinal)
        {
            [TileNames.Households] = new(metersSeen, MeterPeriod.TotalSeconds),
            [TileNames.Cameras] = new(camerasSeen, CameraPeriod.TotalSeconds),
            // A count from an earlier read is as old as that read, however recently the gates were seen.
            [TileNames.GatePasses] = new(passes is null ? null : fresh ? gatesSeen : Older(gatesSeen, stored!.ReadAt), GatePeriod.TotalSeconds),
            [TileNames.Parking] = new(lots.Count == 0 ? null : lots.Max(l => l.AsOf), ParkingPeriod.TotalSeconds),
            [TileNames.OpenAlerts] = new(now, BookPeriod.TotalSeconds),
            [TileNames.ClosureRate] = new(now, BookPeriod.TotalSeconds),
            [TileNames.TimeToClose] = new(now, BookPeriod.TotalSeconds),
            [TileNames.DeviceHealth] = new(deadLettering.ScannedAt, BookPeriod.TotalSeconds),
        };
        var link = brokerConnection.Status;
        var closure = alerts.Closure(AlertBook.Everyone, community, null, null, registry.Grids.Where(g => g.Community == community).Select(g => g.Id));
        return new CommunityTiles(
            community, now, dataAsOf, households.Count, camerasOnline, cameras.Count,
            passes, lots, lots.Sum(l => l.Free), lots.Sum(l => l.Capacity),
            figures.Open, figures.OpenByGrid, figures.ClosureRate,
            ingest.ReadingsPerMinute, ingest.DeadLettersLastHour, figures.OpenSilent,
            storeWriter.State switch { Sensing.Ingest.Spool.StoreState.Ok => "ok", Sensing.Ingest.Spool.StoreState.Spooling => "spooling", _ => "down" },
            storeWriter.SpoolDepth,
            freshness, deadLettering.Devices.Count, [.. deadLettering.Devices.Take(5)], closure,
            new BrokerTile(link.Connected, link.DisconnectedSince, link.LastGap),
            storeReads.FailingSince);
    }

    /// <summary>
    /// The community's figures from the store, read within <see cref="TileStoreReads.Budget"/>; when the store does not
    /// answer, those of the last good read (not fresh), or null when there was none.
    /// </summary>
    private async Task<(StoreFigures? Figures, bool Fresh)> StoreFiguresAsync(string community, DateTimeOffset midnight, bool known, CancellationToken cancellationToken)
    {
        var (answered, figures) = await storeReads.TryAsync(async token =>
        {
            var offline = (await store.LatestAsync(community, Metrics.CameraOffline, token)).ToDictionary(r => r.Device, r => r.Time, StringComparer.Ordinal);
            var passes = await gatePasses.InCommunityAsync(community, midnight, token);
            var free = await store.LatestAsync(community, Metrics.ParkingFree, token);
            var capacity = (await store.LatestAsync(community, Metrics.ParkingCapacity, token))
                .ToDictionary(r => (r.Device, r.Label), r => r.Value);
            var lots = free
                .Select(f => new LotTile(f.Label ?? f.Device, f.Value, capacity.GetValueOrDefault((f.Device, f.Label)), f.Time))
                .OrderBy(l => l.Lot, StringComparer.Ordinal)
                .ToList();
            return new StoreFigures(offline, passes, midnight, lots, time.GetUtcNow());
        }, $"the tiles' reads for {community}", cancellationToken);
        if (answered)
        {
            if (known) _lastRead[community] = figures!;
            return (figures, true);
        }
        return (_lastRead.GetValueOrDefault(community), false);
    }

    private static DateTimeOffset? Newer(DateTimeOffset? newest, DateTimeOffset? seen) =>
        seen is { } s && (newest is null || s > newest) ? s : newest;

    private static DateTimeOffset? Older(DateTimeOffset? seen, DateTimeOffset readAt) =>
        seen is { } s ? (s < readAt ? s : readAt) : null;

    /// <summary>How often each community's tiles were computed: a community nobody watches should not grow here.</summary>
    public void Collect(ICollection<MetricSample> samples)
    {
        foreach (var (community, count) in _computed)
        {
            samples.Add(new("sensing_tiles_computed_total", "Times a community's wall-screen tiles were computed (pushes to watched screens, hub watches, GET /api/tiles).",
                "counter", Interlocked.Read(ref count.Value), $"community=\"{community.Replace("\\", "\\\\").Replace("\"", "\\\"")}\""));
        }
    }
}

/// <summary>
/// How much a counter grew over a recent window, from samples taken when asked: the ingest rate per minute and the
/// dead letters of the last hour come from ingest's counters rather than from store queries, so a flood of bad
/// messages does not make every tile refresh read thousands of dead letters back.
/// </summary>
public sealed class CounterWindow(Func<long> counter, TimeSpan window, TimeProvider time)
{
    private readonly Queue<(DateTimeOffset At, long Value)> _samples = new();
    private readonly Lock _lock = new();

    /// <summary>Growth over the window (or since the first sample, when the process is younger than the window).</summary>
    public long Growth()
    {
        lock (_lock) return Sample().Growth;
    }

    /// <summary>Growth per window, scaled from the span actually sampled; 0 until a second has passed.</summary>
    public double Rate()
    {
        lock (_lock)
        {
            var (growth, span) = Sample();
            return span < TimeSpan.FromSeconds(1) ? 0 : Math.Round(growth * (window / span));
        }
    }

    private (long Growth, TimeSpan Span) Sample()
    {
        var now = time.GetUtcNow();
        var value = counter();
        _samples.Enqueue((now, value));
        // Keep the newest sample from before the window as the baseline, so sparse sampling still measures a full window.
        while (_samples.Count > 1 && now - _samples.ElementAt(1).At >= window) _samples.Dequeue();
        var (at, first) = _samples.Peek();
        return (value - first, now - at);
    }
}

/// <summary>Ingest's figures for the tiles.</summary>
public sealed class IngestFigures(Sensing.Ingest.Pipeline.IngestMetrics metrics, TimeProvider time)
{
    private readonly CounterWindow _readings = new(() => metrics.ReadingsStored, TimeSpan.FromMinutes(1), time);
    private readonly CounterWindow _deadLetters = new(() => metrics.DeadLetters, TimeSpan.FromHours(1), time);

    public double ReadingsPerMinute => _readings.Rate();
    public long DeadLettersLastHour => _deadLetters.Growth();
}

/// <summary>
/// Which communities this instance's wall screens watch: a connection counts for the community it last asked to
/// watch until it watches another or disconnects. Tiles are computed and pushed only for these, so a street office
/// with forty communities and two screens pays for two communities' tiles, not forty.
/// </summary>
public sealed class TileWatchers : IMetricsSource
{
    private readonly Dictionary<string, string> _byConnection = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _screens = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public void Watch(string connection, string community)
    {
        lock (_lock)
        {
            if (_byConnection.TryGetValue(connection, out var old))
            {
                if (old == community) return;
                Drop(old);
            }
            _byConnection[connection] = community;
            _screens[community] = _screens.GetValueOrDefault(community) + 1;
        }
    }

    public void Leave(string connection)
    {
        lock (_lock)
        {
            if (_byConnection.Remove(connection, out var old)) Drop(old);
        }
    }

    /// <summary>The communities at least one screen of this instance watches, in order.</summary>
    public IReadOnlyList<string> Watched()
    {
        lock (_lock) return [.. _screens.Keys.Order(StringComparer.Ordinal)];
    }

    public void Collect(ICollection<MetricSample> samples)
    {
        int communities, screens;
        lock (_lock) (communities, screens) = (_screens.Count, _byConnection.Count);
        samples.Add(new("sensing_tiles_watched_communities", "Communities at least one wall screen on this instance watches; only their tiles are pushed.", "gauge", communities));
        samples.Add(new("sensing_tiles_watching_screens", "Wall-screen connections on this instance watching a community.", "gauge", screens));
    }

    private void Drop(string community)
    {
        if (_screens[community] == 1) _screens.Remove(community);
        else _screens[community]--;
    }
}

/// <summary>
/// Pushes the tiles of every watched community to its wall screens every couple of seconds: one update per interval,
/// however many readings arrived, and none for a community no screen on this instance watches.
/// </summary>
public sealed class TileBroadcaster(
    TileBoard board,
    TileWatchers watchers,
    IHubContext<CockpitHub, ICockpitClient> hub,
    ScaleOut.RedisBackplane backplane,
    ILogger<TileBroadcaster> logger) : BackgroundService
{
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var community in watchers.Watched())
            {
                try
                {
                    var tiles = await board.ComputeAsync(community, stoppingToken);
                    await hub.Clients.Group(CockpitHub.TilesGroup(community, backplane.Instance)).Tiles(tiles);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Could not compute tiles for {Community}", community);
                }
            }
        }
    }
}
