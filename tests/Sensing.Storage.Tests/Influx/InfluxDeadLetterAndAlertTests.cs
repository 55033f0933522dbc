using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

[Collection(InfluxCollection.Name)]
[Trait("Category", "Integration")]
public sealed class InfluxDeadLetterAndAlertTests(InfluxServer server) : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private InfluxTestStore _db = null!;

    public async Task InitializeAsync() => _db = await InfluxTestStore.CreateAsync(server.Url);

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private static DeadLetter Letter(DateTimeOffset at, string reason, byte[]? payload = null, string format = "native") =>
        new("sensing/c1/meter/m1", payload ?? [0x7b, 0x7d], (payload ?? [0x7b, 0x7d]).Length, at, reason, format);

    [Fact]
    public async Task A_large_payload_is_capped_but_its_original_size_is_kept()
    {
        var payload = new byte[DeadLetter.MaxPayloadBytes + 5000];
        Random.Shared.NextBytes(payload);

        await _db.Store.WriteDeadLettersAsync([Letter(Day, "too \"big\", \\ really", payload)], CancellationToken.None).Within();

        var letter = Assert.Single(await _db.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within());
        Assert.Equal(payload.AsSpan(0, DeadLetter.MaxPayloadBytes).ToArray(), letter.Payload);
        Assert.Equal(payload.Length, letter.PayloadBytes);
        Assert.Equal(("sensing/c1/meter/m1", Day, "too \"big\", \\ really", "native"), (letter.Topic, letter.ReceivedAt, letter.Reason, letter.Format));
        Assert.Equal(TimeSpan.Zero, letter.ReceivedAt.Offset);
    }

    [Fact]
    public async Task Dead_letters_come_newest_first_filtered_by_since_and_limited_and_letters_of_one_instant_all_stay()
    {
        await _db.Store.WriteDeadLettersAsync(
            [Letter(Day.AddMinutes(2), "b"), Letter(Day, "a"), Letter(Day.AddMinutes(3), "c")], CancellationToken.None).Within();
        await _db.Store.WriteDeadLettersAsync(
            [Letter(Day.AddMinutes(4).ToOffset(TimeSpan.FromHours(8)), "d")], CancellationToken.None).Within();

        Assert.Equal(["d", "c", "b", "a"], (await _db.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within()).Select(l => l.Reason));
        Assert.Equal(["d", "c", "b"], (await _db.Store.DeadLettersAsync(Day.AddMinutes(2), 10, CancellationToken.None).Within()).Select(l => l.Reason));
        Assert.Equal(["d", "c"], (await _db.Store.DeadLettersAsync(null, 2, CancellationToken.None).Within()).Select(l => l.Reason));
        Assert.Empty(await _db.Store.DeadLettersAsync(Day.AddHours(1), 10, CancellationToken.None).Within());

        // Same instant, same format, in one batch and across batches: append-only, so every letter is kept, and each
        // reads back with its exact receive time; a line break in a reason is flattened, not a lost letter.
        var at = Day.AddHours(2);
        await _db.Store.WriteDeadLettersAsync([Letter(at, "x1"), Letter(at, "x2"), Letter(at, "x3\nsecond line", format: "")], CancellationToken.None).Within();
        await _db.Store.WriteDeadLettersAsync([Letter(at, "x4")], CancellationToken.None).Within();
        var same = await _db.Store.DeadLettersAsync(at, 10, CancellationToken.None).Within();
        Assert.Equal(["x4", "x3 second line", "x2", "x1"], same.Select(l => l.Reason));
        Assert.All(same, l => Assert.Equal(at, l.ReceivedAt));
        Assert.Equal("", same[1].Format);
    }

    [Fact]
    public async Task Upsert_replaces_the_alert_with_the_same_id()
    {
        var alert = AlertStoreTests.NewAlert("a-1", Day);
        await _db.Store.UpsertAsync(alert, CancellationToken.None).Within();
        var acknowledged = alert with { Status = AlertStatus.Acknowledged, Sequence = 2, Note = "on my way, \"now\" \\ 马上", UpdatedBy = "worker1" };
        await _db.Store.UpsertAsync(acknowledged, CancellationToken.None).Within();

        var loaded = Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within());
        Assert.Equal(acknowledged with { Evidence = loaded.Evidence }, loaded);
        Assert.Equal(acknowledged.Evidence.Summary, loaded.Evidence.Summary);
        Assert.Equal(acknowledged.Evidence.Points, loaded.Evidence.Points);
        Assert.Equal(1, (await _db.QueryAsync("SELECT count(\"body\") FROM \"alert\"")).Single()[1].GetInt64());

        // Even an id given a second onset (against its derivation) loads as its newest version.
        var moved = acknowledged with { StartedAt = Day.AddHours(-10), Status = AlertStatus.Escalated, Sequence = 3 };
        await _db.Store.UpsertAsync(moved, CancellationToken.None).Within();
        Assert.Equal(AlertStatus.Escalated, Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within()).Status);
        await _db.Store.UpsertAsync(moved with { StartedAt = alert.StartedAt, Sequence = 4 }, CancellationToken.None).Within();
        Assert.Equal(4, Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within()).Sequence);
    }

    [Fact]
    public async Task Load_returns_recent_alerts_and_every_unresolved_one_oldest_first()
    {
        Alert[] alerts =
        [
            AlertStoreTests.NewAlert("new-resolved", Day.AddHours(2), AlertStatus.Resolved),
            AlertStoreTests.NewAlert("old-resolved", Day.AddDays(-3), AlertStatus.Resolved),
            AlertStoreTests.NewAlert("old-open", Day.AddDays(-2)),
            AlertStoreTests.NewAlert("old-escalated", Day.AddDays(-5), AlertStatus.Escalated),
            AlertStoreTests.NewAlert("old-acknowledged", Day.AddDays(-1), AlertStatus.Acknowledged),
            AlertStoreTests.NewAlert("at-since", Day.ToOffset(TimeSpan.FromHours(8)), AlertStatus.Resolved),
        ];
        foreach (var alert in alerts)
        {
            await _db.Store.UpsertAsync(alert, CancellationToken.None).Within();
        }

        var loaded = await _db.Store.LoadAsync(Day, CancellationToken.None).Within();
        Assert.Equal(["old-escalated", "old-open", "old-acknowledged", "at-since", "new-resolved"], loaded.Select(a => a.Id));

        await _db.Store.UpsertAsync(AlertStoreTests.NewAlert("old-open", Day.AddDays(-2), AlertStatus.Resolved), CancellationToken.None).Within();
        Assert.DoesNotContain("old-open", (await _db.Store.LoadAsync(Day, CancellationToken.None).Within()).Select(a => a.Id));
    }

    [Fact]
    public async Task The_closed_loops_fields_and_audit_trail_round_trip_and_an_old_alert_on_the_way_is_reloaded()
    {
        var alert = AlertStoreTests.LoopAlert(Day.AddDays(-2));
        await _db.Store.UpsertAsync(alert, CancellationToken.None).Within();

        var loaded = Assert.Single(await _db.Store.LoadAsync(Day, CancellationToken.None).Within());
        Assert.Equal(AlertStatus.OnTheWay, loaded.Status);
        Assert.Equal(alert.Actions, loaded.Actions);
        Assert.Equal(alert with { Evidence = loaded.Evidence, Actions = loaded.Actions }, loaded);
    }

    [Fact]
    public async Task Data_survives_a_new_store_on_the_same_database()
    {
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Day, 10)], CancellationToken.None).Within();
        await _db.Store.UpsertAsync(AlertStoreTests.NewAlert("a-1", Day), CancellationToken.None).Within();

        // A restart: a new store (and DI container) on the existing database must not trip over it.
        await using var again = await InfluxTestStore.CreateAsync(server.Url, new() { ["Store:Database"] = _db.Database });
        Assert.Equal([new Bucket(Day, 10)], await again.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterTotal, Day, Day.AddDays(1), Community: "c1"), CancellationToken.None).Within());
        Assert.Equal("a-1", Assert.Single(await again.Store.LoadAsync(Day, CancellationToken.None).Within()).Id);
    }
}
