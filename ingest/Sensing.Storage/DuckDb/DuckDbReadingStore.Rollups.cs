using System.Data.Common;
using System.Diagnostics;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>
/// The rollups' progress W (<c>rollup_progress</c>, see <see cref="DuckDbSchema.Rollups"/>): every raw reading older
/// than W is in the rollups, none at or after it. The live feed's readings are folded when W moves past their minute;
/// a reading older than W when it is written is folded by its write.
/// </summary>
public sealed partial class DuckDbReadingStore
{
    /// <summary>
    /// How long after a minute ends its readings are folded: W trails the wall clock by this, rounded down to the
    /// minute. A reading that arrives later than this (a device back from an outage, a replay, a backlog) is folded by
    /// its own write instead, so the delay changes the cost, never the answers. Short, because queries read the raw
    /// rows from W on (a wall screen's "today so far" every 2 s: 30 to 90 s of raw rows); long enough that a live
    /// feed with a few seconds of backlog still arrives before its minute is folded.
    /// </summary>
    internal static readonly TimeSpan RollupDelay = TimeSpan.FromSeconds(30);

    // W as UTC ticks; written after the commit that moved it (under _writeLock, or by the fold beside the writes),
    // read by writes, erasure and retention under the lock. Queries read W from the table inside their snapshot
    // instead (QueryAsync says why).
    private long _rolledUpBeforeTicks;

    // The fold beside the writes and its own connection (see StartFoldOfClosedMinutesLocked); both set and cleared
    // under _writeLock only.
    private FoldInProgress? _fold;
    private DuckDBConnection? _foldConnection;

    /// <summary>W as the store last committed it: for tests and diagnostics.</summary>
    internal DateTime RolledUpBefore => new(Volatile.Read(ref _rolledUpBeforeTicks), DateTimeKind.Utc);

    /// <summary>
    /// At open: reads W, or for a file without it (new, or from a version that folded every batch) builds the rollups
    /// of a file that has none and sets W past every stored reading, since all of them are folded. Call only while
    /// holding <see cref="_writeLock"/>.
    /// </summary>
    private void StartRollupProgressLocked(DuckDBConnection connection)
    {
        if (RolledUpBeforeInSnapshot(connection) is { } stored)
        {
            Volatile.Write(ref _rolledUpBeforeTicks, stored.Ticks);
            return;
        }

        using var transaction = connection.BeginTransaction();
        var backfilled = BackfillRollupsLocked(connection);
        var start = FloorMinute(_time.GetUtcNow().UtcDateTime - RollupDelay);
        if (ScalarTime(connection, "SELECT max(ts) FROM readings") is { } newest && FloorMinute(newest).AddMinutes(1) > start)
        {
            start = FloorMinute(newest).AddMinutes(1);
        }

        using (var command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO rollup_progress VALUES ($start)";
            AddParameter(command, "start", start);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        Volatile.Write(ref _rolledUpBeforeTicks, start.Ticks);
        if (backfilled)
        {
            _logger.LogInformation("DuckDB store at {Path}: rollups built from the existing readings", _path);
        }
    }

    /// <summary>
    /// Starts moving W to the last minute that closed <see cref="RollupDelay"/> ago, when it has moved on and no fold is
    /// in progress: the fold runs on a connection of its own beside the writes, because at 20,000 msg/s a minute's fold
    /// takes 1–2 s, and every batch (and the alert behind it) waited that long when it ran under the writer lock. Its
    /// snapshot is taken here, under the lock, so it holds every raw row of its range written so far; a later write
    /// with a reading in that range waits for the fold (<see cref="SettleFoldIfTouchedLocked"/>) and is then folded by
    /// its own write, so no reading is folded twice or missed. Call only while holding <see cref="_writeLock"/>.
    /// </summary>
    private void StartFoldOfClosedMinutesLocked()
    {
        var target = FloorMinute(_time.GetUtcNow().UtcDateTime - RollupDelay);
        var from = RolledUpBefore;
        if (_fold is not null || target <= from)
        {
            return;
        }

        var connection = _foldConnection ??= OpenConnection();
        var transaction = connection.BeginTransaction();
        try
        {
            // DuckDB takes a transaction's snapshot at its first statement, not at BEGIN.
            RolledUpBeforeInSnapshot(connection);
        }
        catch
        {
            transaction.Dispose();
            throw;
        }

        _fold = new FoldInProgress(from, target, Task.Run(() => FoldInBackgroundAsync(connection, transaction, from, target)));
    }

    /// <summary>For tests: awaited by a fold beside the writes before it starts, to hold it in progress.</summary>
    internal Func<Task>? BeforeFoldInBackground { get; set; }

    private async Task FoldInBackgroundAsync(DuckDBConnection connection, DbTransaction transaction, DateTime from, DateTime to)
    {
        var began = Stopwatch.GetTimestamp();
        try
        {
            using (transaction)
            {
                if (BeforeFoldInBackground is { } hold) await hold().ConfigureAwait(false);
                FoldRange(connection, from, to);
                transaction.Commit();
            }

            Volatile.Write(ref _rolledUpBeforeTicks, to.Ticks);
            _logger.LogDebug("DuckDB rollups folded from {From:o} to {To:o} in {Milliseconds:F0} ms beside the writes",
                from, to, Stopwatch.GetElapsedTime(began).TotalMilliseconds);
        }
        catch (Exception e)
        {
            NoteIfFatal(e);
            // W stays: the next write starts the same fold again, and until then queries answer from the raw rows.
            _logger.LogWarning(e, "DuckDB rollups could not be folded from {From:o} to {To:o}; retried with the next write", from, to);
        }
    }

    /// <summary>
    /// Waits for the fold in progress when it has finished or when <paramref name="readings"/> (null: the caller
    /// touches the rollups or W itself) fall in its range. Call only while holding <see cref="_writeLock"/>.
    /// </summary>
    private async Task SettleFoldIfTouchedLocked(IReadOnlyList<Reading>? readings)
    {
        if (_fold is not { } fold)
        {
            return;
        }

        if (!fold.Folding.IsCompleted && readings is not null && !fold.Covers(readings))
        {
            return;
        }

        await fold.Folding.ConfigureAwait(false);
        _fold = null;
    }

    /// <summary>For tests: waits for the fold in progress, if any, so that W and the rollups are settled.</summary>
    internal async Task SettleFoldAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await SettleFoldIfTouchedLocked(null).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Moves W forward to <paramref name="target"/> (never back) on the writer's connection, before the caller goes on.
    /// Call only while holding <see cref="_writeLock"/>, with no fold in progress.
    /// </summary>
    private void FoldClosedMinutesLocked(DuckDBConnection writer, DateTime target)
    {
        var from = RolledUpBefore;
        if (target <= from)
        {
            return;
        }

        using (var transaction = writer.BeginTransaction())
        {
            FoldRange(writer, from, target);
            transaction.Commit();
        }

        Volatile.Write(ref _rolledUpBeforeTicks, target.Ticks);
    }

    private static void FoldRange(DuckDBConnection connection, DateTime from, DateTime to)
    {
        using var command = connection.CreateCommand();
        command.CommandText = DuckDbSchema.FoldClosedMinutes;
        AddParameter(command, "from", from);
        AddParameter(command, "to", to);
        command.ExecuteNonQuery();
    }

    /// <summary>A fold of [From, To) running beside the writes; W moves to To when it commits.</summary>
    private sealed record FoldInProgress(DateTime From, DateTime To, Task Folding)
    {
        public bool Covers(IReadOnlyList<Reading> readings) => AnyIn(readings, From, To);
    }

    /// <summary>
    /// Whether any of <paramref name="readings"/> is older than W, i.e. must be folded by its own write. W is on a
    /// whole minute, so DuckDB's truncation to microseconds never moves a reading across it.
    /// </summary>
    private static bool AnyOlderThan(IReadOnlyList<Reading> readings, DateTime rolledUpBefore) =>
        AnyIn(readings, DateTime.MinValue, rolledUpBefore);

    /// <summary>Whether any of <paramref name="readings"/> lies in [<paramref name="from"/>, <paramref name="to"/>) (UTC).</summary>
    private static bool AnyIn(IReadOnlyList<Reading> readings, DateTime from, DateTime to)
    {
        for (var i = 0; i < readings.Count; i++)
        {
            var ticks = readings[i].Time.UtcTicks;
            if (ticks >= from.Ticks && ticks < to.Ticks) return true;
        }
        return false;
    }

    /// <summary>Runs a statement with <c>$rolled_up_before</c> set to W. Call only while holding <see cref="_writeLock"/>.</summary>
    private void ExecuteBelowRolledUp(DuckDBConnection writer, string sql) => ExecuteBelow(writer, sql, RolledUpBefore);

    /// <summary>Runs a statement with <c>$rolled_up_before</c> set to <paramref name="rolledUpBefore"/>.</summary>
    private static void ExecuteBelow(DuckDBConnection writer, string sql, DateTime rolledUpBefore)
    {
        using var command = writer.CreateCommand();
        command.CommandText = sql;
        AddParameter(command, "rolled_up_before", rolledUpBefore);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// W as <paramref name="connection"/> sees it (inside a query's transaction: as its snapshot sees it, so that rollup
    /// rows and raw rows read there split at the same time). Null for a file without progress (not opened by this version yet).
    /// </summary>
    private static DateTime? RolledUpBeforeInSnapshot(DuckDBConnection connection) =>
        ScalarTime(connection, "SELECT max(rolled_up_before) FROM rollup_progress");

    private static DateTime? ScalarTime(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() is DateTime time ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : null;
    }

    private static DateTime FloorMinute(DateTime time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc);
}
