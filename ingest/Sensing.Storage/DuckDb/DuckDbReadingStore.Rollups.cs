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

    // W as UTC ticks; written under _writeLock after the commit that moved it, read by erasure and retention under
    // the lock. Queries read W from the table inside their snapshot instead (QueryAsync says why).
    private long _rolledUpBeforeTicks;

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
    /// Moves W to the last minute that closed <see cref="RollupDelay"/> ago, folding the readings in between, when it
    /// has moved on since the last write. Call only while holding <see cref="_writeLock"/>.
    /// </summary>
    private void FoldClosedMinutesLocked(DuckDBConnection writer) =>
        FoldClosedMinutesLocked(writer, FloorMinute(_time.GetUtcNow().UtcDateTime - RollupDelay));

    /// <summary>Moves W forward to <paramref name="target"/> (never back). Call only while holding <see cref="_writeLock"/>.</summary>
    private void FoldClosedMinutesLocked(DuckDBConnection writer, DateTime target)
    {
        var from = RolledUpBefore;
        if (target <= from)
        {
            return;
        }

        var began = Stopwatch.GetTimestamp();
        using (var transaction = writer.BeginTransaction())
        {
            using var command = writer.CreateCommand();
            command.CommandText = DuckDbSchema.FoldClosedMinutes;
            AddParameter(command, "from", from);
            AddParameter(command, "to", target);
            command.ExecuteNonQuery();
            transaction.Commit();
        }

        Volatile.Write(ref _rolledUpBeforeTicks, target.Ticks);
        _logger.LogDebug("DuckDB rollups folded from {From:o} to {To:o} in {Milliseconds:F0} ms",
            from, target, Stopwatch.GetElapsedTime(began).TotalMilliseconds);
    }

    /// <summary>
    /// Whether any of <paramref name="readings"/> is older than W, i.e. must be folded by its own write. W is on a
    /// whole minute, so DuckDB's truncation to microseconds never moves a reading across it.
    /// </summary>
    private bool AnyOlderThanRolledUp(IReadOnlyList<Reading> readings)
    {
        var rolledUpBefore = Volatile.Read(ref _rolledUpBeforeTicks);
        for (var i = 0; i < readings.Count; i++)
        {
            if (readings[i].Time.UtcTicks < rolledUpBefore) return true;
        }
        return false;
    }

    /// <summary>Runs a statement with <c>$rolled_up_before</c> set to W. Call only while holding <see cref="_writeLock"/>.</summary>
    private void ExecuteBelowRolledUp(DuckDBConnection writer, string sql)
    {
        using var command = writer.CreateCommand();
        command.CommandText = sql;
        AddParameter(command, "rolled_up_before", RolledUpBefore);
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
