using Sensing.Testing;
using Microsoft.Extensions.Time.Testing;
using Sensing.Cockpit.Tiles;
using Sensing.Telemetry;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The wall screens' gate passes today: one store count for every community, shared for a second, so the store is
/// asked once a second however many screens refresh (their tile figures themselves are checked end to end in
/// <see cref="GridScopingHttpTests"/> and the browser tests).
/// </summary>
public sealed class GatePassesTodayTests
{
    private static readonly DateTimeOffset Midnight = new(2026, 11, 24, 16, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Screens_within_a_second_share_one_count_and_the_next_second_counts_again()
    {
        var clock = new FakeTimeProvider(Midnight.AddHours(9));
        var store = new CountingStore { Counts = { ["c1"] = 12, ["c2"] = 3 } };
        var passes = new GatePassesToday(store, clock);

        Assert.Equal(12, await passes.InCommunityAsync("c1", Midnight, CancellationToken.None));
        clock.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Equal(3, await passes.InCommunityAsync("c2", Midnight, CancellationToken.None));
        Assert.Equal(0, await passes.InCommunityAsync("c9", Midnight, CancellationToken.None));
        Assert.Equal(1, store.Calls);
        // From midnight to a little past now: a gate whose clock runs a few minutes fast still counts.
        Assert.Equal((Metrics.GatePass, Midnight, Midnight.AddHours(9) + GatePassesToday.Ahead), store.Asked[0]);

        store.Counts["c1"] = 13;
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(13, await passes.InCommunityAsync("c1", Midnight, CancellationToken.None));
        Assert.Equal(2, store.Calls);

        // A new day counts from its own midnight at once.
        var next = Midnight.AddDays(1);
        Assert.Equal(13, await passes.InCommunityAsync("c1", next, CancellationToken.None));
        Assert.Equal(3, store.Calls);
        Assert.Equal(next, store.Asked[2].From);
    }

    [Fact]
    public async Task Screens_asking_while_a_count_runs_wait_for_it_instead_of_counting_again()
    {
        var clock = new FakeTimeProvider(Midnight.AddHours(9));
        var store = new CountingStore { Counts = { ["c1"] = 5 }, Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var passes = new GatePassesToday(store, clock);

        var screens = Enumerable.Range(0, 40).Select(i => passes.InCommunityAsync(i % 2 == 0 ? "c1" : "c2", Midnight, CancellationToken.None)).ToArray();
        await SensingTestHost.EventuallyAsync(() => Task.FromResult(store.Calls == 1 ? new[] { true } : null), TimeSpan.FromSeconds(10), "the first count to start");
        Assert.All(screens, s => Assert.False(s.IsCompleted));
        store.Gate.SetResult();
        var counts = await Task.WhenAll(screens).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, store.Calls);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? 5L : 0L), counts);
    }

    [Fact]
    public async Task A_count_the_store_refuses_fails_that_refresh_and_the_next_refresh_asks_again()
    {
        var clock = new FakeTimeProvider(Midnight.AddHours(9));
        var store = new CountingStore { Counts = { ["c1"] = 7 }, Fail = true };
        var passes = new GatePassesToday(store, clock);

        await Assert.ThrowsAsync<InvalidOperationException>(() => passes.InCommunityAsync("c1", Midnight, CancellationToken.None));
        store.Fail = false;
        Assert.Equal(7, await passes.InCommunityAsync("c1", Midnight, CancellationToken.None));
        Assert.Equal(2, store.Calls);
    }

    /// <summary>Answers counts per community and records what it was asked; nothing else is asked of it here.</summary>
    private sealed class CountingStore : IReadingStore
    {
        private int _calls;

        public Dictionary<string, long> Counts { get; } = new(StringComparer.Ordinal);
        public List<(string Metric, DateTimeOffset From, DateTimeOffset To)> Asked { get; } = [];
        public TaskCompletionSource? Gate { get; init; }
        public bool Fail { get; set; }
        public int Calls => Volatile.Read(ref _calls);

        public async Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
        {
            lock (Asked) Asked.Add((metric, from, to));
            Interlocked.Increment(ref _calls);
            if (Gate is not null) await Gate.Task;
            if (Fail) throw new InvalidOperationException("The store is unavailable.");
            return new Dictionary<string, long>(Counts, StringComparer.Ordinal);
        }

        public Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
