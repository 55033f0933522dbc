using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class AlertStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    internal static Alert NewAlert(string id, DateTimeOffset raisedAt, AlertStatus status = AlertStatus.Open) => new()
    {
        Id = id,
        Kind = AlertKinds.WaterLeak,
        Severity = AlertSeverity.Warning,
        Community = "c1",
        Grid = "g1",
        Household = "h-0042",
        Device = "c1-wm-0042",
        StartedAt = raisedAt.AddHours(-3),
        RaisedAt = raisedAt,
        Status = status,
        Evidence = new AlertEvidence("Night flow never dropped to zero",
            [new EvidencePoint(raisedAt.AddHours(-1), Metrics.WaterConsumption, 0, 0.012)]),
    };

    [Fact]
    public async Task An_alert_is_stored_while_a_readings_write_holds_the_writer()
    {
        // A checkpoint or the minute's rollup fold holds the readings writer for a second or two; the alert that a
        // forced door raised meanwhile must not wait for it on its way to the wall screen.
        var held = await _db.Store.HoldReadingWritesAsync().Within();
        try
        {
            var write = _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day, 1)], CancellationToken.None);
            await _db.Store.UpsertAsync(NewAlert("a-held", Day), CancellationToken.None).Within();
            Assert.Equal("a-held", Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within()).Id);
            await Task.Delay(50);
            Assert.False(write.IsCompleted);
            held.Dispose();
            await write.Within();
        }
        finally
        {
            held.Dispose();
        }
    }

    [Fact]
    public async Task Alerts_written_beside_readings_writes_and_a_households_erasure_all_land_and_the_erasure_takes_its_own()
    {
        // The alerts' connection commits beside the readings writer: none of these may conflict or be lost.
        var readings = Enumerable.Range(0, 40).Select(async i =>
            await _db.Store.WriteAsync([.. Enumerable.Range(0, 500).Select(j => Sample.Point($"m{j % 7}", Metrics.WaterConsumption, Day.AddSeconds(i * 500 + j), j))], CancellationToken.None));
        var alerts = Enumerable.Range(0, 200).Select(async i =>
            await _db.Store.UpsertAsync(NewAlert($"a-{i}", Day.AddMinutes(i)) with { Household = i % 10 == 0 ? "h-erased" : "h-0042" }, CancellationToken.None));
        var tasks = readings.Concat(alerts).ToList();
        await Task.WhenAll(tasks).Within();
        var erased = await _db.Store.EraseHouseholdAsync(new HouseholdScope("h-erased", []), CancellationToken.None).Within();
        var more = Enumerable.Range(200, 50).Select(async i => await _db.Store.UpsertAsync(NewAlert($"a-{i}", Day.AddMinutes(i)), CancellationToken.None));
        await Task.WhenAll(more).Within();

        Assert.Equal(20, erased.Alerts);
        var loaded = await _db.Store.LoadAsync(Day, CancellationToken.None).Within();
        Assert.Equal(230, loaded.Count);
        Assert.DoesNotContain(loaded, a => a.Household == "h-erased");
        Assert.Equal(20_000, (await _db.Store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddDays(1), Community: "c1", Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Count), CancellationToken.None).Within()).Sum(b => b.Value));
    }

    [Fact]
    public async Task Upsert_replaces_the_alert_with_the_same_id()
    {
        var alert = NewAlert("a-1", Day);
        await _db.Store.UpsertAsync(alert, CancellationToken.None).Within();
        var acknowledged = alert with { Status = AlertStatus.Acknowledged, Sequence = 2, Note = "on my way", UpdatedBy = "worker1" };
        await _db.Store.UpsertAsync(acknowledged, CancellationToken.None).Within();

        var loaded = Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within());
        Assert.Equal(acknowledged with { Evidence = loaded.Evidence }, loaded);
        Assert.Equal(acknowledged.Evidence.Summary, loaded.Evidence.Summary);
        Assert.Equal(acknowledged.Evidence.Points, loaded.Evidence.Points);
    }

    [Fact]
    public async Task An_alerts_newest_state_wins_across_a_restart_and_alerts_are_appended_to_a_log_without_a_key()
    {
        var alert = NewAlert("a-1", Day);
        foreach (var (status, sequence) in new[] { (AlertStatus.Open, 1), (AlertStatus.Acknowledged, 2), (AlertStatus.Escalated, 3) })
        {
            await _db.Store.UpsertAsync(alert with { Status = status, Sequence = sequence }, CancellationToken.None).Within();
        }

        await _db.ReopenAsync();
        await _db.Store.UpsertAsync(alert with { Status = AlertStatus.Resolved, Sequence = 4 }, CancellationToken.None).Within();
        var loaded = Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within());
        Assert.Equal((AlertStatus.Resolved, 4), (loaded.Status, loaded.Sequence));

        // Four states kept in write order, in the alerts' own file, and no index on the log: an append commits beside a
        // checkpoint of that file, and the readings' checkpoints are not its.
        Assert.True(File.Exists(_db.Store.AlertsFilePath));
        Assert.Equal(Path.Combine(Path.GetDirectoryName(_db.FilePath)!, "sensing.alerts.duckdb"), _db.Store.AlertsFilePath);
        Assert.Equal([1L, 2L, 3L, 4L], (await _db.SqlAsync("SELECT version FROM sensing_alerts.alert_log ORDER BY version")).Select(r => Convert.ToInt64(r[0])));
        Assert.Empty(await _db.SqlAsync("SELECT * FROM duckdb_indexes() WHERE table_name = 'alert_log'"));
        Assert.Empty(await _db.SqlAsync("SELECT * FROM duckdb_constraints() WHERE table_name = 'alert_log' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"));
    }

    [Fact]
    public async Task A_file_with_the_old_keyed_alerts_table_moves_its_alerts_into_their_own_file()
    {
        var path = Path.Combine(_db.Folder, "old", "sensing.duckdb");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var open = NewAlert("a-open", Day);
        var resolved = NewAlert("a-resolved", Day.AddDays(-3), AlertStatus.Resolved);
        using (var connection = new DuckDB.NET.Data.DuckDBConnection(new DuckDB.NET.Data.DuckDBConnectionStringBuilder { DataSource = path }.ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // The alerts table as files of earlier versions have it.
            command.CommandText = """
                CREATE TABLE alerts (id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, community VARCHAR NOT NULL,
                                     raised_at TIMESTAMP NOT NULL, body VARCHAR NOT NULL);
                INSERT INTO alerts VALUES ($id1, 'open', 'c1', $at1, $body1), ($id2, 'resolved', 'c1', $at2, $body2);
                """;
            foreach (var (name, value) in new (string, object)[] { ("id1", open.Id), ("at1", open.RaisedAt.UtcDateTime), ("body1", System.Text.Json.JsonSerializer.Serialize(open)),
                ("id2", resolved.Id), ("at2", resolved.RaisedAt.UtcDateTime), ("body2", System.Text.Json.JsonSerializer.Serialize(resolved)) })
            {
                command.Parameters.Add(new DuckDB.NET.Data.DuckDBParameter(name, value));
            }
            command.ExecuteNonQuery();
        }

        await using (var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(path)).Within())
        {
            Assert.Equal(["a-open"], (await store.LoadAsync(Day, CancellationToken.None).Within()).Select(a => a.Id));
            Assert.Equal(["a-open", "a-resolved"], (await store.LoadAsync(Day.AddDays(-7), CancellationToken.None).Within()).Select(a => a.Id).Order());
            await store.UpsertAsync(open with { Status = AlertStatus.Acknowledged, Sequence = 2 }, CancellationToken.None).Within();
        }

        // Moved once: a second open finds the log, the newest state and no keyed table.
        await using (var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(path)).Within())
        {
            var loaded = await store.LoadAsync(Day.AddDays(-7), CancellationToken.None).Within();
            Assert.Equal([("a-open", AlertStatus.Acknowledged), ("a-resolved", AlertStatus.Resolved)], loaded.Select(a => (a.Id, a.Status)).OrderBy(a => a.Id));
        }

        using (var connection = new DuckDB.NET.Data.DuckDBConnection(new DuckDB.NET.Data.DuckDBConnectionStringBuilder { DataSource = path }.ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'alerts'";
            Assert.Equal(0L, Convert.ToInt64(command.ExecuteScalar()));
        }

        var alertsFile = Path.Combine(Path.GetDirectoryName(path)!, "sensing.alerts.duckdb");
        using (var connection = new DuckDB.NET.Data.DuckDBConnection(new DuckDB.NET.Data.DuckDBConnectionStringBuilder { DataSource = alertsFile }.ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM alert_log";
            Assert.Equal(3L, Convert.ToInt64(command.ExecuteScalar()));
        }
    }

    [Fact]
    public async Task Load_returns_recent_alerts_and_every_unresolved_one_oldest_first()
    {
        Alert[] alerts =
        [
            NewAlert("new-resolved", Day.AddHours(2), AlertStatus.Resolved),
            NewAlert("old-resolved", Day.AddDays(-3), AlertStatus.Resolved),
            NewAlert("old-open", Day.AddDays(-2)),
            NewAlert("old-escalated", Day.AddDays(-5), AlertStatus.Escalated),
            NewAlert("old-acknowledged", Day.AddDays(-1), AlertStatus.Acknowledged),
            // Raised exactly at since: included, since is inclusive.
            NewAlert("at-since", Day.ToOffset(TimeSpan.FromHours(8)), AlertStatus.Resolved),
        ];
        foreach (var alert in alerts)
        {
            await _db.Store.UpsertAsync(alert, CancellationToken.None).Within();
        }

        var loaded = await _db.Store.LoadAsync(Day, CancellationToken.None).Within();

        Assert.Equal(["old-escalated", "old-open", "old-acknowledged", "at-since", "new-resolved"], loaded.Select(a => a.Id));

        // Resolving an old alert drops it from what a restart reloads.
        await _db.Store.UpsertAsync(NewAlert("old-open", Day.AddDays(-2), AlertStatus.Resolved), CancellationToken.None).Within();
        Assert.DoesNotContain("old-open", (await _db.Store.LoadAsync(Day, CancellationToken.None).Within()).Select(a => a.Id));
    }

    /// <summary>An alert deep in the closed loop: escalated to the grid leader, who went; every loop field set.</summary>
    internal static Alert LoopAlert(DateTimeOffset received) => NewAlert("a-loop", received, AlertStatus.OnTheWay) with
    {
        Sequence = 7,
        ReceivedAt = received,
        RespondBy = null,
        Escalation = AlertEscalations.GridLeader,
        EscalatedAt = received.AddMinutes(30),
        AcknowledgedAt = received.AddMinutes(41),
        AcknowledgedBy = "leader1",
        OnTheWayAt = received.AddMinutes(41),
        OnTheWayBy = "leader1",
        Actions =
        [
            new AlertAction(received, "system", "system", AlertActions.Raised),
            new AlertAction(received.AddMinutes(30), "system", "system", AlertActions.Escalated, "not acknowledged; to grid leader \"leader1\"", AlertEscalations.GridLeader),
            new AlertAction(received.AddMinutes(41), "leader1", "worker", AlertActions.Acknowledged),
            new AlertAction(received.AddMinutes(41), "leader1", "worker", AlertActions.OnTheWay, "上门查看"),
        ],
    };

    [Fact]
    public async Task The_closed_loops_fields_and_audit_trail_round_trip_and_an_old_alert_on_the_way_is_reloaded()
    {
        var alert = LoopAlert(Day.AddDays(-2));
        await _db.Store.UpsertAsync(alert, CancellationToken.None).Within();

        // Raised before 'since' but not resolved: a restart must reload it.
        var loaded = Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within());
        Assert.Equal(AlertStatus.OnTheWay, loaded.Status);
        Assert.Equal(alert.Actions, loaded.Actions);
        Assert.Equal(alert with { Evidence = loaded.Evidence, Actions = loaded.Actions }, loaded);
    }
}
