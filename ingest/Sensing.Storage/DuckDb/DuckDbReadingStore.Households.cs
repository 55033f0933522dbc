using System.Runtime.CompilerServices;
using System.Text.Json;
using DuckDB.NET.Data;
using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>One household's data: its export and its erasure (<see cref="IHouseholdDataStore"/>).</summary>
public sealed partial class DuckDbReadingStore : IHouseholdDataStore
{
    public async IAsyncEnumerable<Reading> HouseholdReadingsAsync(HouseholdScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT device, community, grid, household, metric, epoch_us(ts), value, label, attributes
            FROM readings WHERE {HouseholdPredicate(command, scope)}
            ORDER BY ts, device, metric, label
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var label = reader.GetString(7);
            yield return new Reading(
                reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), FromMicros(reader.GetInt64(5)),
                reader.GetDouble(6), label.Length == 0 ? null : label, reader.IsDBNull(8) ? null : reader.GetString(8));
        }
    }

    public async IAsyncEnumerable<DeadLetter> HouseholdDeadLettersAsync(HouseholdScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // Attribution looks into the payload bytes (any encoding, possibly not UTF-8), so it is decided here, not in SQL.
        command.CommandText = "SELECT epoch_us(received_at), topic, payload, payload_bytes, reason, format FROM deadletters ORDER BY received_at, rowid";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var letter = new DeadLetter(reader.GetString(1), ReadBlob(reader, 2), reader.GetInt32(3), FromMicros(reader.GetInt64(0)),
                reader.GetString(4), reader.GetString(5));
            if (scope.Owns(letter)) yield return letter;
        }
    }

    public async Task<IReadOnlyList<Alert>> HouseholdAlertsAsync(HouseholdScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        return ReadHouseholdAlerts(connection, scope);
    }

    public async Task<HouseholdErasure> EraseHouseholdAsync(HouseholdScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var alertsHeld = false;
        try
        {
            // The household's alerts go too: no alert write may run beside their deletion (a conflict on their rows).
            await _alertWriteLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            alertsHeld = true;
            var writer = OpenWriterLocked();
            await SettleFoldIfTouchedLocked(null).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            // One transaction: a crash half-way leaves the household whole, never its rollups without their raw rows.
            long readings;
            var letters = new List<long>();
            Execute(writer, "BEGIN TRANSACTION");
            try
            {
                // The rollup buckets its raw rows fall in, noted before the rows go: they are folded again without them.
                foreach (var (_, unit) in s_rollups)
                {
                    using var command = writer.CreateCommand();
                    command.CommandText = $"""
                        CREATE OR REPLACE TEMP TABLE erased_{unit} AS
                        SELECT DISTINCT device, metric, label, community, date_trunc('{unit}', ts) AS bucket
                        FROM readings WHERE {HouseholdPredicate(command, scope)}
                        """;
                    command.ExecuteNonQuery();
                }
                using (var command = writer.CreateCommand())
                {
                    command.CommandText = $"DELETE FROM readings WHERE {HouseholdPredicate(command, scope)}";
                    readings = command.ExecuteNonQuery();
                }
                foreach (var (table, unit) in s_rollups)
                {
                    EraseFromRollup(writer, scope, table, unit);
                }

                using (var command = writer.CreateCommand())
                {
                    command.CommandText = "SELECT rowid, topic, payload FROM deadletters";
                    using var reader = command.ExecuteReader();
                    while (reader.Read())
                    {
                        if (scope.Owns(new DeadLetter(reader.GetString(1), ReadBlob(reader, 2), 0, default, "", "")))
                        {
                            letters.Add(reader.GetInt64(0));
                        }
                    }
                }
                DeleteByKey(writer, "deadletters", "rowid", letters.Cast<object>());

                Execute(writer, "COMMIT");
            }
            catch
            {
                Execute(writer, "ROLLBACK");
                throw;
            }
            if (readings > 0) _latest.Clear();

            // The alerts' own file takes a transaction of its own (one transaction writes one database). A crash
            // between the two leaves the household's alerts; erasing again removes them, since erasure is idempotent.
            var alerts = ReadHouseholdAlerts(writer, scope);
            using (var transaction = writer.BeginTransaction())
            {
                DeleteByKey(writer, $"{DuckDbSchema.AlertDatabase}.alert_log", "id", alerts.Select(a => (object)a.Id));
                transaction.Commit();
            }
            return new HouseholdErasure(readings, letters.Count, alerts.Count);
        }
        finally
        {
            if (alertsHeld) _alertWriteLock.Release();
            _writeLock.Release();
        }
    }

    private static readonly (string Table, string Unit)[] s_rollups = [("readings_1m", "minute"), ("readings_1h", "hour")];

    /// <summary>
    /// Takes the household out of one rollup table. A rollup row folds a series' bucket over every household its
    /// readings carried (a shared gate's passes), so rows cannot simply be deleted by household: buckets the raw rows
    /// still cover in full (from the raw retention horizon on) are folded again from the raw rows that remain below the
    /// rollups' progress W (those from W on reach the rollups when W passes them), which is exact. Older buckets have
    /// no raw rows left to fold: the rows of the household's own devices go, and a shared device's row that names the
    /// household keeps its figures but names nobody (an anonymous count). Under the writer lock, inside the erasure's
    /// transaction, after its raw rows were deleted.
    /// </summary>
    private void EraseFromRollup(DuckDBConnection writer, HouseholdScope scope, string table, string unit)
    {
        const string Horizon = "(SELECT coalesce(max(raw_horizon), TIMESTAMP '-infinity') FROM retention_horizon)";
        const string SameBucket = "t.device = k.device AND t.metric = k.metric AND t.label = k.label AND t.community = k.community AND t.bucket = k.bucket";
        Execute(writer, $"DELETE FROM {table} AS t USING erased_{unit} AS k WHERE {SameBucket} AND k.bucket >= {Horizon}");
        // Only the raw rows below the rollups' progress W are in the rollups; those from W on are folded when W passes them.
        ExecuteBelowRolledUp(writer, $"""
            INSERT INTO {table} (device, metric, label, community, bucket, grid, household,
                                 n, sum_value, min_value, max_value, last_value, last_ts)
            SELECT r.device, r.metric, r.label, r.community, date_trunc('{unit}', r.ts), any_value(r.grid), any_value(r.household),
                   count(*), sum(r.value), min(r.value), max(r.value), arg_max(r.value, r.ts), max(r.ts)
            FROM readings AS r JOIN erased_{unit} AS k
              ON r.device = k.device AND r.metric = k.metric AND r.label = k.label AND r.community = k.community
             AND date_trunc('{unit}', r.ts) = k.bucket
            WHERE k.bucket >= {Horizon} AND r.ts < $rolled_up_before
            GROUP BY r.device, r.metric, r.label, r.community, date_trunc('{unit}', r.ts)
            """);
        Execute(writer, $"DROP TABLE erased_{unit}");
        if (scope.Devices.Count > 0)
        {
            using var command = writer.CreateCommand();
            command.CommandText = $"DELETE FROM {table} WHERE {DevicePredicate(command, scope)}";
            command.ExecuteNonQuery();
        }
        using (var command = writer.CreateCommand())
        {
            command.CommandText = $"UPDATE {table} SET household = NULL WHERE household = $household";
            AddParameter(command, "household", scope.Household);
            command.ExecuteNonQuery();
        }
    }

    private static List<Alert> ReadHouseholdAlerts(DuckDBConnection connection, HouseholdScope scope)
    {
        using var command = connection.CreateCommand();
        // Alerts are few (tens a day); their household and device are inside the JSON body, so they are matched here.
        command.CommandText = $"SELECT body FROM {DuckDbSchema.AlertDatabase}.alerts ORDER BY raised_at, id";
        using var reader = command.ExecuteReader();
        var alerts = new List<Alert>();
        while (reader.Read())
        {
            var alert = JsonSerializer.Deserialize<Alert>(reader.GetString(0)) ?? throw new InvalidDataException("An alert row holds JSON null.");
            if (scope.Owns(alert)) alerts.Add(alert);
        }
        return alerts;
    }

    private static void DeleteByKey(DuckDBConnection writer, string table, string key, IEnumerable<object> values)
    {
        // In chunks: a household with thousands of dead letters must not build one statement with thousands of parameters.
        foreach (var chunk in values.Chunk(500))
        {
            using var command = writer.CreateCommand();
            var names = new List<string>(chunk.Length);
            for (var i = 0; i < chunk.Length; i++)
            {
                names.Add("$k" + i);
                AddParameter(command, "k" + i, chunk[i]);
            }
            command.CommandText = $"DELETE FROM {table} WHERE {key} IN ({string.Join(',', names)})";
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Rows tagged with the household or from one of its devices; the values go in as parameters.</summary>
    private static string HouseholdPredicate(DuckDBCommand command, HouseholdScope scope)
    {
        AddParameter(command, "household", scope.Household);
        return scope.Devices.Count == 0 ? "household = $household" : $"(household = $household OR {DevicePredicate(command, scope)})";
    }

    /// <summary>Rows of one of the household's devices (at least one); the ids go in as parameters.</summary>
    private static string DevicePredicate(DuckDBCommand command, HouseholdScope scope)
    {
        var names = new List<string>(scope.Devices.Count);
        for (var i = 0; i < scope.Devices.Count; i++)
        {
            names.Add("$device" + i);
            AddParameter(command, "device" + i, scope.Devices[i]);
        }
        return $"device IN ({string.Join(',', names)})";
    }
}
