using System.Text;
using Sensing.Storage.Tests.Influx;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Storage.Tests;

/// <summary>
/// One household's data read out and erased (issue 9's privacy duties), the same scenario on both stores: on a real
/// DuckDB file here, and on the real influxd in <see cref="InfluxHouseholdDataTests"/>. Household h-1 has a meter
/// (wm-1), passes a shared gate with its credential, has dead letters and alerts; household h-2 lives next door and
/// h-10's id contains h-1's as text, so a careless match would take it too.
/// </summary>
public sealed class HouseholdDataTests : IAsyncLifetime
{
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task DuckDB_exports_every_reading_letter_and_alert_of_the_household_and_nothing_else() =>
        await HouseholdScenario.ExportIsCompleteAsync(_db.Store, _db.Store);

    [Fact]
    public async Task DuckDB_erasure_removes_the_household_from_raw_rows_rollups_letters_and_alerts_and_survives_a_restart()
    {
        await HouseholdScenario.ErasureRemovesOnlyTheHouseholdAsync(_db.Store, _db.Store, _db.Store);

        // Rollups too: an hourly query is answered from them, and must find nothing left of wm-1.
        Assert.Empty(await _db.SqlAsync("SELECT * FROM readings_1h WHERE device = 'wm-1' OR household = 'h-1'"));
        Assert.Empty(await _db.SqlAsync("SELECT * FROM readings_1m WHERE device = 'wm-1' OR household = 'h-1'"));

        await _db.ReopenAsync();
        await HouseholdScenario.NothingLeftAsync(_db.Store, _db.Store, _db.Store);
    }

    [Fact]
    public async Task DuckDB_erasure_past_the_raw_horizon_drops_its_meters_rollups_and_leaves_a_shared_gates_count_anonymous()
    {
        await HouseholdScenario.SeedAsync(_db.Store, _db.Store);
        // Ten days later the raw rows of the scenario are past retention; only the rollups remember them.
        var later = HouseholdScenario.T0.AddDays(10);
        await _db.Store.WriteAsync([new Reading("cam-9", "c1", "g1", null, Metrics.CameraOnline, later, 1)], CancellationToken.None).Within();
        await _db.Store.ApplyRetentionAsync(new DuckDbRetentionOptions { Raw = TimeSpan.FromDays(1), Minute = TimeSpan.FromDays(40), Hour = TimeSpan.FromDays(730) },
            later, CancellationToken.None).Within();
        Assert.Equal(1, await _db.CountReadingsAsync());

        var erased = await _db.Store.EraseHouseholdAsync(HouseholdScenario.H1, CancellationToken.None).Within();
        Assert.Equal(0, erased.Readings); // no raw rows were left to delete

        Assert.Empty(await _db.SqlAsync("SELECT * FROM readings_1h WHERE device = 'wm-1' OR household = 'h-1'"));
        Assert.Empty(await _db.SqlAsync("SELECT * FROM readings_1m WHERE device = 'wm-1' OR household = 'h-1'"));
        var day = (From: HouseholdScenario.T0.AddDays(-1), To: HouseholdScenario.T0.AddDays(1));
        // The shared gate's hour cannot be taken apart any more: its three passes stay counted, attributed to nobody for h-1's.
        var gate = await _db.Store.QueryAsync(new ReadingQuery(Metrics.GatePass, day.From, day.To, Device: "gate-1", Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Count), CancellationToken.None).Within();
        Assert.Equal(3, gate.Sum(b => b.Value));
        var neighbour = await _db.Store.QueryAsync(new ReadingQuery(Metrics.WaterTotal, day.From, day.To, Device: "wm-2", Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Count), CancellationToken.None).Within();
        Assert.Equal(2, neighbour.Sum(b => b.Value));
    }
}

[Collection(InfluxCollection.Name)]
[Trait("Category", "Integration")]
public sealed class InfluxHouseholdDataTests(InfluxServer server)
{
    [Fact]
    public async Task InfluxDB_exports_every_reading_letter_and_alert_of_the_household_and_nothing_else()
    {
        await using var db = await InfluxTestStore.CreateAsync(server.Url);
        await HouseholdScenario.ExportIsCompleteAsync(db.Store, db.Store);
    }

    [Fact]
    public async Task InfluxDB_erasure_deletes_meter_series_gate_points_letters_and_alerts_of_the_household_only()
    {
        await using var db = await InfluxTestStore.CreateAsync(server.Url);
        await HouseholdScenario.ErasureRemovesOnlyTheHouseholdAsync(db.Store, db.Store, db.Store);
    }
}

internal static class HouseholdScenario
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    public static readonly HouseholdScope H1 = new("h-1", ["wm-1"]);

    private static readonly Reading[] s_h1 =
    [
        new("wm-1", "c1", "g1", "h-1", Metrics.WaterTotal, T0, 10.0),
        new("wm-1", "c1", "g1", "h-1", Metrics.WaterTotal, T0.AddHours(1), 10.5),
        new("wm-1", "c1", "g1", "h-1", Metrics.WaterConsumption, T0.AddHours(1), 0.5),
        // A reading of its meter that came without the household (a leak sensor on the same device id).
        new("wm-1", "c1", "g1", null, Metrics.WaterLeak, T0.AddHours(2), 1),
        new("gate-1", "c1", "g1", "h-1", Metrics.GatePass, T0.AddMinutes(30), 1, "in", """{"credential":"face"}"""),
    ];

    private static readonly Reading[] s_others =
    [
        new("wm-2", "c1", "g1", "h-2", Metrics.WaterTotal, T0, 20.0),
        new("wm-2", "c1", "g1", "h-2", Metrics.WaterTotal, T0.AddHours(1), 20.7),
        new("wm-10", "c1", "g1", "h-10", Metrics.WaterTotal, T0, 30.0),
        new("gate-1", "c1", "g1", "h-2", Metrics.GatePass, T0.AddMinutes(31), 1, "in"),
        new("gate-1", "c1", "g1", null, Metrics.GatePass, T0.AddMinutes(32), 1, "out"),
    ];

    private static readonly DeadLetter[] s_h1Letters =
    [
        new("sensing/c1/meter/wm-1", Encoding.UTF8.GetBytes("""{"type":"water","total":"lots"}"""), 31, T0.AddMinutes(5), "meter: field 'total' must be a number", "native"),
        new("sensing/c1/meter/wm-9", Encoding.UTF8.GetBytes("""{"type":"water","household":"h-1"}"""), 35, T0.AddMinutes(6), "meter: field 'total' is missing", "native"),
    ];

    private static readonly DeadLetter[] s_otherLetters =
    [
        new("sensing/c1/meter/wm-2", Encoding.UTF8.GetBytes("""{"type":"water","household":"h-2"}"""), 35, T0.AddMinutes(7), "meter: field 'total' is missing", "native"),
        new("sensing/c1/meter/wm-10", Encoding.UTF8.GetBytes("""{"type":"water","household":"h-10"}"""), 36, T0.AddMinutes(8), "meter: field 'total' is missing", "native"),
    ];

    private static Alert NewAlert(string kind, string? household, string? device, int minutes) => new()
    {
        Id = Alert.MakeId(kind, household ?? device!, T0.AddMinutes(minutes)),
        Kind = kind,
        Severity = AlertSeverity.Warning,
        Community = "c1",
        Grid = "g1",
        Household = household,
        Device = device,
        StartedAt = T0.AddMinutes(minutes),
        RaisedAt = T0.AddMinutes(minutes + 60),
        Evidence = new AlertEvidence("test", [new EvidencePoint(T0, Metrics.WaterConsumption, 0.2, 0)]),
        Actions = [new AlertAction(T0.AddMinutes(minutes + 61), "worker1", "worker", AlertActions.Acknowledged, "上门查看")],
    };

    private static readonly Alert[] s_h1Alerts =
    [
        NewAlert(AlertKinds.LivingAloneDrop, "h-1", null, 10),
        NewAlert(AlertKinds.DeviceSilent, null, "wm-1", 20),
    ];

    private static readonly Alert[] s_otherAlerts = [NewAlert(AlertKinds.LivingAloneDrop, "h-2", null, 30)];

    public static async Task SeedAsync(IReadingStore readings, IAlertStore alerts)
    {
        await readings.WriteAsync([.. s_h1, .. s_others], CancellationToken.None).Within();
        await readings.WriteDeadLettersAsync([.. s_h1Letters, .. s_otherLetters], CancellationToken.None).Within();
        foreach (var alert in s_h1Alerts.Concat(s_otherAlerts)) await alerts.UpsertAsync(alert, CancellationToken.None).Within();
    }

    public static async Task ExportIsCompleteAsync<TStore>(TStore store, IAlertStore alerts) where TStore : IReadingStore, IHouseholdDataStore
    {
        await SeedAsync(store, alerts);

        var readings = await store.HouseholdReadingsAsync(H1, CancellationToken.None).ToListAsync().AsTask().Within();
        Assert.Equal(Sorted(s_h1), Sorted(readings));

        var letters = await store.HouseholdDeadLettersAsync(H1, CancellationToken.None).ToListAsync().AsTask().Within();
        Assert.Equal(s_h1Letters.Select(l => (l.Topic, l.ReceivedAt, l.Reason)), letters.Select(l => (l.Topic, l.ReceivedAt, l.Reason)));
        Assert.Equal(s_h1Letters.Select(l => Convert.ToBase64String(l.Payload)), letters.Select(l => Convert.ToBase64String(l.Payload)));

        var exported = await store.HouseholdAlertsAsync(H1, CancellationToken.None).Within();
        Assert.Equal(s_h1Alerts.Select(a => a.Id).Order(), exported.Select(a => a.Id).Order());
        Assert.All(exported, a => Assert.Equal("上门查看", Assert.Single(a.Actions!).Note));
    }

    public static async Task ErasureRemovesOnlyTheHouseholdAsync<TStore>(TStore store, IHouseholdDataStore households, IAlertStore alerts)
        where TStore : IReadingStore
    {
        await SeedAsync(store, alerts);

        var erased = await households.EraseHouseholdAsync(H1, CancellationToken.None).Within();
        Assert.Equal(new HouseholdErasure(s_h1.Length, s_h1Letters.Length, s_h1Alerts.Length), erased);
        await NothingLeftAsync(store, households, alerts);

        // Erasing again finds nothing, and takes nothing of the neighbours.
        Assert.Equal(new HouseholdErasure(0, 0, 0), await households.EraseHouseholdAsync(H1, CancellationToken.None).Within());
        await NothingLeftAsync(store, households, alerts);
    }

    public static async Task NothingLeftAsync(IReadingStore store, IHouseholdDataStore households, IAlertStore alerts)
    {
        Assert.Empty(await households.HouseholdReadingsAsync(H1, CancellationToken.None).ToListAsync().AsTask().Within());
        Assert.Empty(await households.HouseholdDeadLettersAsync(H1, CancellationToken.None).ToListAsync().AsTask().Within());
        Assert.Empty(await households.HouseholdAlertsAsync(H1, CancellationToken.None).Within());

        // Through the ordinary query port, raw and bucketed (DuckDB answers buckets from its rollups).
        foreach (var metric in new[] { Metrics.WaterTotal, Metrics.WaterConsumption, Metrics.WaterLeak })
        {
            Assert.Empty(await store.QueryAsync(new ReadingQuery(metric, T0.AddDays(-1), T0.AddDays(1), Device: "wm-1"), CancellationToken.None).Within());
            Assert.Empty(await store.QueryAsync(new ReadingQuery(metric, T0.AddDays(-1), T0.AddDays(1), Device: "wm-1", Every: TimeSpan.FromHours(1)), CancellationToken.None).Within());
        }

        // The neighbours are whole: h-2's and h-10's meters, the gate's other passes, their letters and alerts.
        Assert.Equal([20.0, 20.7], (await store.QueryAsync(new ReadingQuery(Metrics.WaterTotal, T0.AddDays(-1), T0.AddDays(1), Device: "wm-2"), CancellationToken.None).Within()).Select(b => b.Value));
        Assert.Single(await store.QueryAsync(new ReadingQuery(Metrics.WaterTotal, T0.AddDays(-1), T0.AddDays(1), Device: "wm-10"), CancellationToken.None).Within());
        var passes = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, T0.AddDays(-1), T0.AddDays(1), Device: "gate-1"), CancellationToken.None).Within();
        Assert.Equal([T0.AddMinutes(31), T0.AddMinutes(32)], passes.Select(b => b.Time));
        // Bucketed (DuckDB: from the rollups, where the shared gate's hour folded h-1's pass with h-2's): its pass is gone, theirs stay.
        foreach (var every in new[] { TimeSpan.FromMinutes(1), TimeSpan.FromHours(1) })
        {
            var counted = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, T0.AddDays(-1), T0.AddDays(1), Device: "gate-1", Every: every, Aggregation: Aggregation.Count), CancellationToken.None).Within();
            Assert.Equal(2, counted.Sum(b => b.Value));
        }
        var letters = await store.DeadLettersAsync(null, 100, CancellationToken.None).Within();
        Assert.Equal(s_otherLetters.Select(l => l.Topic).Order(), letters.Select(l => l.Topic).Order());
        var kept = await alerts.LoadAsync(DateTimeOffset.MinValue, CancellationToken.None).Within();
        Assert.Equal(s_otherAlerts.Select(a => a.Id), kept.Select(a => a.Id));
    }

    private static List<Reading> Sorted(IEnumerable<Reading> readings) =>
        [.. readings.OrderBy(r => r.Time).ThenBy(r => r.Device, StringComparer.Ordinal).ThenBy(r => r.Metric, StringComparer.Ordinal)];
}
