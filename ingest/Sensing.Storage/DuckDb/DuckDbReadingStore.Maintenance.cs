using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;

namespace Sensing.Storage;

/// <summary>What one retention pass did.</summary>
/// <param name="Reference">The time the retention periods count back from: the newest stored event time, capped at the wall clock.</param>
/// <param name="CompactedSeries">Series-buckets of both rollups whose several rows were folded into one.</param>
public sealed record RetentionPass(DateTimeOffset Reference, long RawDeleted, long MinuteDeleted, long HourDeleted, long CompactedSeries);

public sealed partial class DuckDbReadingStore
{
    /// <summary>The folder <see cref="ExportAsync"/> writes into, absolute.</summary>
    public string ExportDirectory => _exportDirectory;

    /// <summary>
    /// Deletes raw readings older than <see cref="DuckDbRetentionOptions.Raw"/>, minute buckets older than
    /// <see cref="DuckDbRetentionOptions.Minute"/> and hour buckets older than <see cref="DuckDbRetentionOptions.Hour"/>,
    /// counted back from the newest event time stored, or from <paramref name="wallClock"/> if that is earlier.
    /// <para>
    /// Event time, because the store is often fed recorded months (replays, backfills): counting from the wall clock
    /// would delete a replayed 2025 feed as it arrives. The cap at the wall clock keeps one device with a clock in
    /// 2099 from wiping everything. A rollup bucket goes only once all of it is older than its limit. Raw readings
    /// older than the cut are refused by later writes (see <see cref="DuckDbSchema.Rollups"/>).
    /// </para>
    /// <para>
    /// The same pass compacts the rollups: series-buckets of the last <see cref="CompactionWindow"/> before the
    /// reference that several writes appended to are folded into one row each (older ones were compacted by earlier
    /// passes; a late reading there leaves one extra row, which queries fold like any other).
    /// </para>
    /// Returns null when the store holds no readings.
    /// </summary>
    public async Task<RetentionPass?> ApplyRetentionAsync(DuckDbRetentionOptions retention, DateTimeOffset wallClock, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(retention);
        retention.ThrowIfInvalid();

        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var writer = OpenWriterLocked();
            await SettleFoldIfTouchedLocked(null).ConfigureAwait(false);
            var newest = ScalarMicros(writer, """
                SELECT max(t) FROM (
                    SELECT epoch_us(max(ts)) AS t FROM readings
                    UNION ALL SELECT epoch_us(max(last_ts)) FROM readings_1m
                    UNION ALL SELECT epoch_us(max(last_ts)) FROM readings_1h)
                """);
            if (newest is not { } newestTime)
            {
                return null;
            }

            var reference = newestTime < wallClock ? newestTime : wallClock.ToUniversalTime();
            var rawCut = reference - retention.Raw;
            // Raw rows may only go once they are in the rollups: with a Raw period shorter than the rollups' delay,
            // W is moved past the cut first.
            if (rawCut.UtcDateTime > RolledUpBefore)
            {
                FoldClosedMinutesLocked(writer, FloorMinute(rawCut.UtcDateTime).AddMinutes(1));
            }
            long raw, minute, hour, compacted;
            using (var transaction = writer.BeginTransaction())
            {
                raw = Delete(writer, "DELETE FROM readings WHERE ts < $cut", rawCut);
                // A bucket [b, b + r) is entirely older than the cut when b <= cut - r.
                minute = Delete(writer, "DELETE FROM readings_1m WHERE bucket <= $cut", reference - retention.Minute - TimeSpan.FromMinutes(1));
                hour = Delete(writer, "DELETE FROM readings_1h WHERE bucket <= $cut", reference - retention.Hour - TimeSpan.FromHours(1));

                var since = (reference - CompactionWindow).UtcDateTime;
                compacted = Compact(writer, "readings_1m", since) + Compact(writer, "readings_1h", since);

                // The horizon only moves forward: a shorter Raw period later must not let back in readings whose
                // raw twins are gone.
                using var command = writer.CreateCommand();
                command.CommandText = """
                    CREATE OR REPLACE TEMP TABLE retention_next AS
                        SELECT greatest(coalesce(max(raw_horizon), $cut), $cut) AS raw_horizon FROM retention_horizon;
                    DELETE FROM retention_horizon;
                    INSERT INTO retention_horizon SELECT raw_horizon FROM retention_next;
                    DROP TABLE retention_next;
                    """;
                AddParameter(command, "cut", rawCut.UtcDateTime);
                command.ExecuteNonQuery();
                transaction.Commit();
            }
            // A device whose newest raw reading was older than the cut no longer has one in the file.
            if (raw > 0) _latest.Clear();

            var pass = new RetentionPass(reference, raw, minute, hour, compacted);
            _logger.LogInformation(
                "DuckDB retention from {Reference:o}: {Raw} raw readings, {Minute} minute and {Hour} hour rollup rows deleted; {Compacted} series-buckets compacted",
                reference, raw, minute, hour, compacted);
            return pass;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Writes the raw readings with <paramref name="from"/> ≤ time &lt; <paramref name="to"/> (of one community, or all)
    /// to a new Parquet file, ordered by time, device, metric and label, and returns the number of rows written.
    /// <paramref name="parquetPath"/> must be an absolute, normalised path directly inside <see cref="ExportDirectory"/>
    /// with a plain file name ending in <c>.parquet</c>, and must not exist yet.
    /// </summary>
    public async Task<long> ExportAsync(DateTimeOffset from, DateTimeOffset to, string parquetPath, string? community, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(parquetPath);
        if (from >= to)
        {
            throw new ArgumentException("The export range is empty: from must be before to.", nameof(from));
        }

        // COPY ... TO takes its file name as a literal, never as a parameter, so the path is checked strictly first:
        // absolute and already normalised (no "..", no doubled separators), in the export folder itself, and a file
        // name of letters, digits, '.', '_' and '-' only. The folder is the operator's configuration and is quoted.
        if (!Path.IsPathFullyQualified(parquetPath) || !string.Equals(Path.GetFullPath(parquetPath), parquetPath, StringComparison.Ordinal))
        {
            throw new ArgumentException("The export path must be absolute and normalised.", nameof(parquetPath));
        }

        if (!string.Equals(Path.GetDirectoryName(parquetPath), _exportDirectory, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Exports are written only into {_exportDirectory}.", nameof(parquetPath));
        }

        if (!SafeParquetName().IsMatch(Path.GetFileName(parquetPath)))
        {
            throw new ArgumentException("The export file name must be letters, digits, '.', '_' or '-' and end in .parquet.", nameof(parquetPath));
        }

        if (File.Exists(parquetPath))
        {
            throw new IOException($"{parquetPath} exists already; exports never overwrite.");
        }

        Directory.CreateDirectory(_exportDirectory);
        var literal = "'" + parquetPath.Replace("'", "''", StringComparison.Ordinal) + "'";
        var filter = community is null ? "" : " AND community = $community";
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // Raw rows with every column; '' (no label) goes out as NULL, the model's meaning of it.
        command.CommandText = $"""
            COPY (
                SELECT device, community, grid, household, metric, nullif(label, '') AS label, ts, value, attributes
                FROM readings
                WHERE ts >= $from AND ts < $to{filter}
                ORDER BY ts, device, metric, label
            ) TO {literal} (FORMAT PARQUET)
            """;
        AddParameter(command, "from", from.UtcDateTime);
        AddParameter(command, "to", to.UtcDateTime);
        if (community is not null)
        {
            AddParameter(command, "community", community);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A file written before rollups existed gets them built from its raw rows once, at open, so rollup-served queries
    /// agree with the raw rows from the first query on. Returns whether it did. Call only while holding
    /// <see cref="_writeLock"/>, inside the transaction that records the rollups' progress
    /// (<see cref="StartRollupProgressLocked"/>), and only for a file without progress: in a file with progress, raw
    /// rows without rollup rows are the live feed not folded yet.
    /// </summary>
    private static bool BackfillRollupsLocked(DuckDBConnection connection)
    {
        using var check = connection.CreateCommand();
        check.CommandText = """
            SELECT NOT EXISTS (SELECT 1 FROM readings_1m) AND NOT EXISTS (SELECT 1 FROM readings_1h)
               AND EXISTS (SELECT 1 FROM readings)
            """;
        if (check.ExecuteScalar() is not true)
        {
            return false;
        }

        Execute(connection, DuckDbSchema.Backfill);
        return true;
    }

    /// <summary>How far back from the retention reference each pass compacts rollups: two days of late arrivals.</summary>
    public static readonly TimeSpan CompactionWindow = TimeSpan.FromDays(2);

    /// <summary>
    /// Compacts every rollup row from <paramref name="since"/> on (see <see cref="DuckDbSchema.Compact"/>); retention
    /// does it for its window, tests and tools for any range. Returns the series-buckets folded.
    /// </summary>
    public async Task<long> CompactRollupsAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var writer = OpenWriterLocked();
            await SettleFoldIfTouchedLocked(null).ConfigureAwait(false);
            using var transaction = writer.BeginTransaction();
            var compacted = Compact(writer, "readings_1m", since.UtcDateTime) + Compact(writer, "readings_1h", since.UtcDateTime);
            transaction.Commit();
            return compacted;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static long Compact(DuckDBConnection connection, string table, DateTime since)
    {
        using (var fold = connection.CreateCommand())
        {
            fold.CommandText = DuckDbSchema.Compact(table);
            AddParameter(fold, "since", since);
            fold.ExecuteNonQuery();
        }

        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM rollup_compacted";
        var compacted = Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        Execute(connection, DuckDbSchema.CompactReplace(table));
        return compacted;
    }

    private static DateTimeOffset? ScalarMicros(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() is long micros ? FromMicros(micros) : null;
    }

    private static long Delete(DuckDBConnection connection, string sql, DateTimeOffset cut)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        AddParameter(command, "cut", cut.UtcDateTime);
        return command.ExecuteNonQuery();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.parquet$", RegexOptions.CultureInvariant)]
    private static partial Regex SafeParquetName();
}
