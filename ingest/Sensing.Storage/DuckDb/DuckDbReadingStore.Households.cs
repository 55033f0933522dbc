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
        try
        {
            var writer = OpenWriterLocked();
            cancellationToken.ThrowIfCancellationRequested();
            // One transaction: a crash half-way leaves the household whole, never its rollups without their raw rows.
            Execute(writer, "BEGIN TRANSACTION");
            try
            {
                long readings;
                using (var command = writer.CreateCommand())
                {
                    command.CommandText = $"DELETE FROM readings WHERE {HouseholdPredicate(command, scope)}";
                    readings = command.ExecuteNonQuery();
                }
                foreach (var rollup in new[] { "readings_1m", "readings_1h" })
                {
                    using var command = writer.CreateCommand();
                    command.CommandText = $"DELETE FROM {rollup} WHERE {HouseholdPredicate(command, scope)}";
                    command.ExecuteNonQuery();
                }

                var letters = new List<long>();
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

                var alerts = ReadHouseholdAlerts(writer, scope);
                DeleteByKey(writer, "alerts", "id", alerts.Select(a => (object)a.Id));
                Execute(writer, "COMMIT");
                return new HouseholdErasure(readings, letters.Count, alerts.Count);
            }
            catch
            {
                Execute(writer, "ROLLBACK");
                throw;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static List<Alert> ReadHouseholdAlerts(DuckDBConnection connection, HouseholdScope scope)
    {
        using var command = connection.CreateCommand();
        // Alerts are few (tens a day); their household and device are inside the JSON body, so they are matched here.
        command.CommandText = "SELECT body FROM alerts ORDER BY raised_at, id";
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
        if (scope.Devices.Count == 0) return "household = $household";
        var names = new List<string>(scope.Devices.Count);
        for (var i = 0; i < scope.Devices.Count; i++)
        {
            names.Add("$device" + i);
            AddParameter(command, "device" + i, scope.Devices[i]);
        }
        return $"(household = $household OR device IN ({string.Join(',', names)}))";
    }
}
