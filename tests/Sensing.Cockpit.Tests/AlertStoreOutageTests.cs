using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.Hubs;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// An alert raised while the store refuses writes (DuckDB out of memory, InfluxDB away) still reaches the wall screen,
/// and is written once the store takes writes again: found in an e2e run where DuckDB ran out of memory and half of the
/// forced doors never reached the screen, because the refused write threw the alert (and the rest of its batch's) away.
/// </summary>
public sealed class AlertStoreOutageTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    [Fact]
    public async Task An_alert_the_store_refuses_is_pushed_kept_and_written_when_the_store_is_back()
    {
        var realStore = fixture.Host.App.Services.GetRequiredService<IAlertStore>();
        var store = new RefusingAlertStore(realStore) { Refusing = true };
        var book = BookOn(store);
        await using var wall = await fixture.Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var rings = Scenario.Listen(wall, "alert");
        await wall.InvokeAsync<System.Text.Json.JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);

        var now = TimeProvider.System.GetUtcNow();
        var forced = IncidentPushTests.NewAlert(AlertKinds.GateForced, now, null, Scenario.NewId("gate"), AlertSeverity.Critical);
        var leak = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, now, Scenario.NewId("h"), Scenario.NewId("wm"), AlertSeverity.Warning);
        IAlertSink sink = book;
        await sink.RaiseAsync(forced, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
        await sink.RaiseAsync(leak, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);

        // Pushed and kept, numbered in order, though nothing was written.
        await Scenario.NextAboutAsync(rings, forced.Id, "the wall's ring for the forced door");
        await Scenario.NextAboutAsync(rings, leak.Id, "the wall's ring for the leak");
        Assert.Equal([1L, 2L], [book.Find(forced.Id)!.Sequence, book.Find(leak.Id)!.Sequence]);
        Assert.Equal(0, store.Written);
        Assert.Equal(2, Unsaved(book));

        // Still refused at the next tick: nothing lost, nothing written twice.
        await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal(2, Unsaved(book));

        // The store is back: the next tick writes both, oldest first, as the book holds them.
        store.Refusing = false;
        await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal(0, Unsaved(book));
        Assert.Equal([forced.Id, leak.Id], store.WrittenIds);
        var stored = await realStore.LoadAsync(now.AddMinutes(-1), CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal(AlertStatus.Open, Assert.Single(stored, a => a.Id == forced.Id).Status);
        Assert.Equal(2, Assert.Single(stored, a => a.Id == leak.Id).Sequence);
    }

    [Fact]
    public async Task Alerts_waiting_for_the_store_survive_a_stop_and_are_written_after_the_next_start()
    {
        var realStore = fixture.Host.App.Services.GetRequiredService<IAlertStore>();
        var path = Path.Combine(Path.GetTempPath(), "sensing-alert-outage-tests", Guid.NewGuid().ToString("N"), "alerts-unsaved.jsonl");
        try
        {
            var now = TimeProvider.System.GetUtcNow();
            var forced = IncidentPushTests.NewAlert(AlertKinds.GateForced, now, null, Scenario.NewId("gate"), AlertSeverity.Critical);
            var first = BookOn(new RefusingAlertStore(realStore) { Refusing = true }, path);
            await ((IAlertSink)first).RaiseAsync(forced, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
            // On disk before it was pushed, and still there after a stop with the store away.
            Assert.Single(File.ReadAllLines(path));
            await first.StopAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.True(File.Exists(path));

            var store = new RefusingAlertStore(realStore);
            var second = BookOn(store, path);
            await second.StartAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.Equal(AlertStatus.Open, second.Find(forced.Id)!.Status);
            Assert.Equal(1, Unsaved(second));
            Assert.True(second.Sequence >= second.Find(forced.Id)!.Sequence);

            await second.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.Equal([forced.Id], store.WrittenIds);
            Assert.Single(await realStore.LoadAsync(now.AddMinutes(-1), CancellationToken.None).WaitAsync(Scenario.Timeout), a => a.Id == forced.Id);
            Assert.False(File.Exists(path));
            Assert.Equal(0, Unsaved(second));

            // A stop between the store's write and the file's rewrite leaves a line the store already has: the next
            // start keeps the store's version, waits for nothing, and the file goes.
            var line = System.Text.Json.JsonSerializer.Serialize(second.Find(forced.Id));
            await File.WriteAllTextAsync(path, line + "\n");
            var third = BookOn(new RefusingAlertStore(realStore) { Refusing = true }, path);
            await third.StartAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.Equal(0, Unsaved(third));
            Assert.False(File.Exists(path));
        }
        finally
        {
            try { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_households_erasure_takes_its_waiting_alerts_off_the_disk_too()
    {
        var path = Path.Combine(Path.GetTempPath(), "sensing-alert-outage-tests", Guid.NewGuid().ToString("N"), "alerts-unsaved.jsonl");
        try
        {
            var book = BookOn(new RefusingAlertStore(fixture.Host.App.Services.GetRequiredService<IAlertStore>()) { Refusing = true }, path);
            var now = TimeProvider.System.GetUtcNow();
            var (erased, kept) = (Scenario.NewId("h"), Scenario.NewId("h"));
            var leak = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, now, erased, Scenario.NewId("wm"), AlertSeverity.Warning);
            var other = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, now, kept, Scenario.NewId("wm"), AlertSeverity.Warning);
            await ((IAlertSink)book).RaiseAsync(leak, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
            await ((IAlertSink)book).RaiseAsync(other, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
            Assert.Equal(2, File.ReadAllLines(path).Length);

            var (_, forgotten) = await book.EraseHouseholdAsync(new HouseholdScope(erased, []), _ => Task.FromResult(0), CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.Equal(1, forgotten);
            var line = Assert.Single(File.ReadAllLines(path));
            Assert.Contains(other.Id, line, StringComparison.Ordinal);
            Assert.DoesNotContain(erased, File.ReadAllText(path), StringComparison.Ordinal);
            Assert.Equal(1, Unsaved(book));
        }
        finally
        {
            try { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_workers_acknowledgement_while_the_store_refuses_is_taken_pushed_kept_and_written_when_it_is_back()
    {
        var realStore = fixture.Host.App.Services.GetRequiredService<IAlertStore>();
        var store = new RefusingAlertStore(realStore) { Refusing = true };
        var path = Path.Combine(Path.GetTempPath(), "sensing-alert-outage-tests", Guid.NewGuid().ToString("N"), "alerts-unsaved.jsonl");
        try
        {
            var book = BookOn(store, path);
            await using var wall = await fixture.Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
            var updates = Scenario.Listen(wall, "alertUpdated");
            await wall.InvokeAsync<System.Text.Json.JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
            var now = TimeProvider.System.GetUtcNow();
            var leak = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, now, Scenario.NewId("h"), Scenario.NewId("wm"), AlertSeverity.Warning);
            await ((IAlertSink)book).RaiseAsync(leak, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);

            // Taken, not refused: the worker in the stairwell is not told to try again, and the wall sees it at once. Nor
            // does the worker wait for the store, which refused a moment ago and is not asked again yet (a hung InfluxDB
            // takes its retries' half minute to refuse).
            store.RefuseAfter = TimeSpan.FromSeconds(5);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var change = await book.AcknowledgeAsync(leak.Id, AlertBook.Everyone, CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the acknowledgement took {clock.Elapsed.TotalSeconds:F1} s");
            store.RefuseAfter = TimeSpan.Zero;
            Assert.Equal(AlertStatus.Acknowledged, change.Alert!.Status);
            Assert.Equal(AlertStatus.Acknowledged, book.Find(leak.Id)!.Status);
            await Scenario.NextAboutAsync(updates, leak.Id, "the wall's update for the acknowledgement");
            Assert.Equal(0, store.Written);
            Assert.Equal(1, Unsaved(book)); // one alert waiting, with both of its changes
            Assert.Equal(2, File.ReadAllLines(path).Length);

            // A stop now loses nothing: the next start holds the acknowledged alert, still waiting.
            var restarted = BookOn(new RefusingAlertStore(realStore) { Refusing = true }, path);
            await restarted.StartAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.Equal(AlertStatus.Acknowledged, restarted.Find(leak.Id)!.Status);
            Assert.Equal(1, Unsaved(restarted));

            // The store is back: the next tick writes the alert once, as acknowledged, with every step in its actions.
            store.Refusing = false;
            await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
            Assert.Equal([(leak.Id, AlertStatus.Acknowledged)], store.Writes);
            Assert.Equal(0, Unsaved(book));
            Assert.False(File.Exists(path));
            var stored = Assert.Single(await realStore.LoadAsync(now.AddMinutes(-1), CancellationToken.None).WaitAsync(Scenario.Timeout), a => a.Id == leak.Id);
            Assert.Equal([AlertActions.Raised, AlertActions.Acknowledged], stored.Actions!.Select(a => a.Action));
        }
        finally
        {
            try { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task An_alert_nobody_answers_is_escalated_while_the_store_refuses_and_written_when_it_is_back()
    {
        var realStore = fixture.Host.App.Services.GetRequiredService<IAlertStore>();
        var store = new RefusingAlertStore(realStore);
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var book = BookOn(store, clock: clock);
        await using var wall = await fixture.Host.ConnectHubAsync("/hubs/cockpit", await fixture.TokenAsync("operator"));
        var updates = Scenario.Listen(wall, "alertUpdated");
        await wall.InvokeAsync<System.Text.Json.JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
        var leak = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, clock.GetUtcNow(), Scenario.NewId("h"), Scenario.NewId("wm"), AlertSeverity.Critical);
        await ((IAlertSink)book).RaiseAsync(leak, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
        Assert.Equal([(leak.Id, AlertStatus.Open)], store.Writes);

        // The store goes away, and nobody answers before the deadline.
        store.Refusing = true;
        clock.Advance(book.Find(leak.Id)!.RespondBy!.Value - clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout));
        var escalated = book.Find(leak.Id)!;
        Assert.Equal(AlertStatus.Escalated, escalated.Status);
        await Scenario.NextAboutAsync(updates, leak.Id, "the wall's update for the escalation");
        Assert.Equal(1, Unsaved(book));

        // Back: the next tick writes it as escalated.
        store.Refusing = false;
        clock.Advance(TimeSpan.FromSeconds(5));
        await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal([(leak.Id, AlertStatus.Open), (leak.Id, AlertStatus.Escalated)], store.Writes);
        Assert.Equal(0, Unsaved(book));
    }

    [Fact]
    public async Task A_store_that_hangs_holds_neither_the_alert_nor_the_worker_nor_the_escalation_tick_for_long()
    {
        var realStore = fixture.Host.App.Services.GetRequiredService<IAlertStore>();
        var store = new RefusingAlertStore(realStore) { Hanging = true };
        var book = BookOn(store);
        var leak = IncidentPushTests.NewAlert(AlertKinds.WaterLeak, TimeProvider.System.GetUtcNow(), Scenario.NewId("h"), Scenario.NewId("wm"), AlertSeverity.Warning);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // The first write waits out the book's budget (a few seconds, not the InfluxDB client's 30 s), and the alert is kept.
        await ((IAlertSink)book).RaiseAsync(leak, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"the raise took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(1, Unsaved(book));
        // A worker's action right after does not wait on the store at all.
        clock.Restart();
        await book.AcknowledgeAsync(leak.Id, AlertBook.Everyone, CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the acknowledgement took {clock.Elapsed.TotalSeconds:F1} s");
        // The escalation tick asks the store, and gives up within the budget too.
        clock.Restart();
        await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"the tick took {clock.Elapsed.TotalSeconds:F1} s");

        // The store answers again: the next tick writes the alert as it is now.
        store.Hanging = false;
        await book.EscalateDueAsync(CancellationToken.None).WaitAsync(Scenario.Timeout);
        Assert.Equal([(leak.Id, AlertStatus.Acknowledged)], store.Writes);
        Assert.Equal(0, Unsaved(book));
    }

    /// <summary>
    /// A second book on the running host's hubs, users and deadlines, writing to <paramref name="store"/> and keeping
    /// what it refuses in <paramref name="unsavedPath"/> (a fresh file of the test's own unless given).
    /// </summary>
    private AlertBook BookOn(IAlertStore store, string? unsavedPath = null, TimeProvider? clock = null)
    {
        var services = fixture.Host.App.Services;
        unsavedPath ??= Path.Combine(Path.GetTempPath(), "sensing-alert-outage-tests", Guid.NewGuid().ToString("N"), "alerts-unsaved.jsonl");
        return new AlertBook(store,
            services.GetRequiredService<IHubContext<CockpitHub, ICockpitClient>>(),
            services.GetRequiredService<IHubContext<WorkerHub, IWorkerClient>>(),
            clock ?? TimeProvider.System,
            Options.Create(new AlertBookOptions { UnsavedPath = unsavedPath }),
            services.GetRequiredService<IOptions<ResponseDeadlineOptions>>(),
            services.GetRequiredService<UserDirectory>(),
            [],
            services.GetRequiredService<ILogger<AlertBook>>());
    }

    private static double Unsaved(AlertBook book)
    {
        var samples = new List<MetricSample>();
        book.Collect(samples);
        return Assert.Single(samples, s => s.Name == "sensing_alerts_unsaved").Value;
    }

    /// <summary>The host's alert store, behind a switch that makes it refuse every write as a store out of memory would.</summary>
    private sealed class RefusingAlertStore(IAlertStore inner) : IAlertStore
    {
        private readonly List<(string, AlertStatus)> _writes = [];

        public volatile bool Refusing;

        /// <summary>How long a refusal takes, as against a store that hangs until its client gives up.</summary>
        public TimeSpan RefuseAfter { get; set; }

        /// <summary>Every write waits until its caller gives up, as against a frozen server with no timeout of its own.</summary>
        public volatile bool Hanging;

        public int Written => _writes.Count;
        public IReadOnlyList<string> WrittenIds => [.. _writes.Select(w => w.Item1)];
        public IReadOnlyList<(string, AlertStatus)> Writes => [.. _writes];

        public async Task UpsertAsync(Alert alert, CancellationToken cancellationToken)
        {
            if (Hanging) await Task.Delay(Timeout.Infinite, cancellationToken);
            if (Refusing)
            {
                if (RefuseAfter > TimeSpan.Zero) await Task.Delay(RefuseAfter, cancellationToken);
                throw new IOException("Out of Memory Error: could not allocate block of size 256.0 KiB (test)");
            }
            await inner.UpsertAsync(alert, cancellationToken);
            lock (_writes) _writes.Add((alert.Id, alert.Status));
        }

        public Task<IReadOnlyList<Alert>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken) => inner.LoadAsync(since, cancellationToken);
    }
}
