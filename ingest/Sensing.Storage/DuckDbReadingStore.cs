using System.Data.Common;
using System.Text;
using System.Text.Json;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>
/// The embedded time-series and alert store: one DuckDB file for readings (alerts in a second file attached beside it,
/// see <see cref="DuckDbSchema.AlertLog"/>), one writer connection, any number of readers.
/// <para>
/// Writers are serialised on one connection behind <see cref="_writeLock"/>: DuckDB allows one writing process per
/// file, and one writer inside it means no write-write conflicts to retry. Queries open their own connection with
/// the same connection string; DuckDB.NET caches the native database per data source and reference-counts its
/// connections, so every connection of this process shares the one database instance the writer keeps open, and
/// MVCC lets queries run while a write is in progress.
/// </para>
/// <para>
/// DuckDB.NET executes synchronously; the async signatures only wait asynchronously for the writer lock.
/// </para>
/// </summary>
public sealed partial class DuckDbReadingStore : IReadingStore, IAlertStore, IAsyncDisposable
{
    private readonly string _path;
    private readonly string _connectionString;
    private readonly ILogger _logger;
    private readonly string _exportDirectory;
    private readonly string? _memoryLimit;
    private readonly TimeProvider _time;

    // Never disposed on purpose: disposing a SemaphoreSlim does not wake its waiters, so a write racing shutdown
    // would hang instead of getting the ObjectDisposedException it gets now.
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    // Set once under _writeLock; read without it by queries to skip the lock once the store is open.
    private volatile DuckDBConnection? _writer;

    // 1 once DuckDB has reported a fatal error (see ReopenIfInvalidatedLockedAsync); back to 0 when reopened.
    private int _invalidated;

    // Alerts are written on their own connection behind their own lock: an alert must not wait behind a readings write
    // that is checkpointing or folding the minute's rollups (1–2 s at 20,000 msg/s) to reach the wall screen. DuckDB
    // commits the two connections' transactions side by side, as they touch different databases. Whoever needs both locks
    // (a household's erasure, closing) takes this one after _writeLock, never before. Never disposed, as _writeLock.
    private readonly SemaphoreSlim _alertWriteLock = new(1, 1);
    private DuckDBConnection? _alertWriter;
    // The newest version in alert_log: read at open, then moved under _alertWriteLock by each alert written.
    private long _alertVersion;
    private int _disposed;

    // What wall screens ask for every 2 s, kept from the writes instead of scanned from the raw history each time.
    private readonly LatestInCommunity _latest = new();

    // Bounds on each series' newest stored time: a batch newer than all of them skips the duplicate check. Under _writeLock.
    private readonly NewestPerSeries _newest = new();
    private long _batchesChecked;
    private long _batchesUnchecked;
    private long _batchesAppended;

    /// <param name="time">The wall clock the rollups' progress follows (<see cref="RollupDelay"/>); the system clock when null.</param>
    public DuckDbReadingStore(DuckDbStoreOptions options, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);

        // One spelling per file: DuckDB.NET shares the database instance by data-source string, and a second
        // instance of the same file in one process would fail on DuckDB's file lock.
        _path = Path.GetFullPath(options.Path);
        // DuckDB takes its configuration from the connection string; every connection of the store (writer and
        // readers) uses this one string, so they share one database instance with one memory limit.
        var connection = new DuckDBConnectionStringBuilder { DataSource = _path };
        if (!string.IsNullOrWhiteSpace(options.MemoryLimit)) connection["memory_limit"] = options.MemoryLimit.Trim();
        if (!string.IsNullOrWhiteSpace(options.CheckpointThreshold)) connection["checkpoint_threshold"] = options.CheckpointThreshold.Trim();
        if (options.Threads is { } threads) connection["threads"] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _connectionString = connection.ConnectionString;
        _exportDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(
            options.ExportDirectory ?? Path.Combine(Path.GetDirectoryName(_path) ?? ".", "exports")));
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        // Checked at start by the options' validator; DuckDB refuses a size it cannot read when the writer opens.
        _memoryLimit = string.IsNullOrWhiteSpace(options.MemoryLimit) ? null : options.MemoryLimit.Trim();
    }

    /// <summary>The absolute path of the database file.</summary>
    public string FilePath => _path;

    /// <summary>
    /// Creates the folder, the file and the schema if they are missing. Idempotent and safe to call concurrently;
    /// every other method calls it first, so calling it explicitly only moves the cost (and any error) earlier.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (_writer is not null && Volatile.Read(ref _invalidated) == 0)
        {
            return;
        }

        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReopenIfInvalidatedLockedAsync().ConfigureAwait(false);
            OpenWriterLocked();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Notes a fatal DuckDB error; returns false, for use as an exception filter that lets the error through. DuckDB
    /// invalidates its database instance on one (a checkpoint that failed, e.g. after running out of memory half-way
    /// through an append: "Corrupted in-memory column" in the end-to-end benchmark at <c>Store:MemoryLimit=64MB</c>),
    /// and from then on every statement on every connection fails until all are closed and the file is opened again.
    /// </summary>
    private bool NoteIfFatal(Exception error)
    {
        if (error is DuckDBException { ErrorType: DuckDB.NET.Native.DuckDBErrorType.Fatal } && Interlocked.Exchange(ref _invalidated, 1) == 0)
        {
            _logger.LogError(error, "DuckDB store at {Path} was invalidated by a fatal error; it is opened again before its next write, query or alert", _path);
        }
        return false;
    }

    /// <summary>A query that meets a fatal error marks the store too, so the next query or write reopens it.</summary>
    private async Task<T> NotingFatalAsync<T>(Task<T> query)
    {
        try
        {
            return await query.ConfigureAwait(false);
        }
        catch (Exception error) when (NoteIfFatal(error))
        {
            throw;
        }
    }

    /// <summary>
    /// After a fatal error (<see cref="NoteIfFatal"/>), closes the store's own connections so that DuckDB.NET releases
    /// the invalidated instance; the caller then opens the file again, and DuckDB replays its write-ahead log, so every
    /// write that had committed is there. Before, the store stayed broken until the process was restarted: readings
    /// went to the spool, and queries and alerts failed, for as long as it ran. A query still holding the old instance
    /// makes the next statement fail the same way, and the write after it tries again. Call only while holding
    /// <see cref="_writeLock"/>.
    /// </summary>
    private async Task ReopenIfInvalidatedLockedAsync()
    {
        if (Volatile.Read(ref _invalidated) == 0)
        {
            return;
        }

        // The alert writer shares the instance; its lock is taken after _writeLock, as everywhere.
        await _alertWriteLock.WaitAsync().ConfigureAwait(false);
        try
        {
            // A fold in progress fails on the invalidated instance too (and logs it); W stays where the file has it.
            await CloseConnectionsLockedAsync().ConfigureAwait(false);
            Volatile.Write(ref _invalidated, 0);
        }
        finally
        {
            _alertWriteLock.Release();
        }

        _logger.LogWarning("DuckDB store at {Path} closed after a fatal error; opening it again", _path);
    }

    /// <summary>Opens a file, creating it and its schema when needed.</summary>
    public static async Task<DuckDbReadingStore> OpenAsync(DuckDbStoreOptions options, ILogger? logger = null, CancellationToken cancellationToken = default, TimeProvider? time = null)
    {
        var store = new DuckDbReadingStore(options, logger, time);
        try
        {
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(readings);
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            if (r.Device is null || r.Metric is null || r.Community is null)
            {
                throw new ArgumentException($"Reading {i} lacks a device, metric or community.", nameof(readings));
            }
        }

        if (readings.Count == 0)
        {
            return;
        }

        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReopenIfInvalidatedLockedAsync().ConfigureAwait(false);
            var writer = OpenWriterLocked();
            cancellationToken.ThrowIfCancellationRequested();
            RefuseReadingsBeforeTheHorizon(writer, readings);
            // Before this batch is staged: its rows are not in the range folded, whatever their times; a reading in
            // the range of the fold in progress waits for it and is then late, folded below by this write.
            await SettleFoldIfTouchedLocked(readings).ConfigureAwait(false);
            StartFoldOfClosedMinutesLocked();
            await SettleFoldIfTouchedLocked(readings).ConfigureAwait(false);
            // Read once: a fold beside this write may move W, but never across one of this batch's readings.
            var rolledUpBefore = RolledUpBefore;
            var late = AnyOlderThan(readings, rolledUpBefore);

            var series = _newest.SeriesOf(readings);
            var noneStored = _newest.AllNewer(readings, series);
            // Bounds raised before the commit: should the write fail, its retry is checked, which is only slower.
            var inOrder = noneStored && _newest.RaiseInOrder(readings, series);
            if (inOrder && !late)
            {
                // Nothing of the batch can be stored already, no key repeats within it, none is before the horizon
                // (refused above) and none is late for the rollups: what the staged statements below would select
                // is the whole batch, so it goes straight into readings, once copied instead of three times and
                // with 3 statements instead of 9. The live feed's batches are all of this kind.
                using var transaction = writer.BeginTransaction();
                using (var appender = writer.CreateAppender(DuckDbSchema.ReadingsTable))
                {
                    AppendRows(appender, readings, withSequence: false);
                }
                transaction.Commit();
                Interlocked.Increment(ref _batchesAppended);
            }
            else
            {
                WriteStagedLocked(writer, readings, noneStored, late, rolledUpBefore);
                if (!noneStored) _newest.Written(readings, series);
            }
            Interlocked.Increment(ref noneStored ? ref _batchesUnchecked : ref _batchesChecked);
            _latest.Observe(readings);
            // Staged rows stay until the next staged write resets both tables before it stages (WriteStagedLocked):
            // resetting them here as well cost more statements per batch for nothing, and one batch's rows are bounded.
        }
        catch (Exception error) when (NoteIfFatal(error))
        {
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Writes a batch through the writer's scratch tables: repeats within the batch dropped (the first wins), readings
    /// already stored dropped unless <paramref name="noneStored"/>, and late readings' rollup rows appended. Call only
    /// while holding <see cref="_writeLock"/>.
    /// </summary>
    private void WriteStagedLocked(DuckDBConnection writer, IReadOnlyList<Reading> readings, bool noneStored, bool late, DateTime rolledUpBefore)
    {
        // A write that failed half-way may have left rows behind; they must not join this batch.
        ResetScratchTables(writer);
        using (var appender = writer.CreateAppender("temp", "main", DuckDbSchema.StagingTable))
        {
            AppendRows(appender, readings, withSequence: true);
        }

        // One transaction for the raw rows and the rollup rows of its late readings: the batch lands whole or not
        // at all, and DuckDB has written and synced its WAL before COMMIT returns, which is what makes a completed
        // write durable and keeps the rollups equal to the raw rows even when the process is killed mid-write.
        using var transaction = writer.BeginTransaction();
        Execute(writer, noneStored ? DuckDbSchema.SelectNewRowsNoneStored : DuckDbSchema.SelectNewRows);
        Execute(writer, DuckDbSchema.InsertNewRows);
        if (late)
        {
            ExecuteBelow(writer, DuckDbSchema.AppendMinute, rolledUpBefore);
            ExecuteBelow(writer, DuckDbSchema.AppendHour, rolledUpBefore);
        }
        transaction.Commit();
    }

    /// <summary>Appends one row per reading in the column order of <c>readings</c>, after the batch position when staged.</summary>
    private static void AppendRows(DuckDBAppender appender, IReadOnlyList<Reading> readings, bool withSequence)
    {
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            var row = appender.CreateRow();
            if (withSequence) row.AppendValue(i);
            row.AppendValue(r.Device)
                .AppendValue(r.Metric)
                .AppendValue(r.Label ?? string.Empty)
                .AppendValue(r.Time.UtcDateTime)
                .AppendValue(r.Value)
                .AppendValue(r.Community);
            AppendNullable(row, r.Grid);
            AppendNullable(row, r.Household);
            AppendNullable(row, r.Attributes);
            row.EndRow();
        }
    }

    public async Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deadLetters);
        if (deadLetters.Count == 0)
        {
            return;
        }

        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReopenIfInvalidatedLockedAsync().ConfigureAwait(false);
            var writer = OpenWriterLocked();
            cancellationToken.ThrowIfCancellationRequested();

            // The appender flushes (and commits) once when disposed, so the batch is one transaction.
            using var appender = writer.CreateAppender("deadletters");
            foreach (var letter in deadLetters)
            {
                var payload = letter.Payload ?? [];
                var kept = payload.Length > DeadLetter.MaxPayloadBytes ? payload[..DeadLetter.MaxPayloadBytes] : payload;
                appender.CreateRow()
                    .AppendValue(letter.ReceivedAt.UtcDateTime)
                    .AppendValue(letter.Topic ?? string.Empty)
                    .AppendValue(kept)
                    // The caller's figure is the original size; never report less than what we were handed.
                    .AppendValue(Math.Max(letter.PayloadBytes, payload.Length))
                    .AppendValue(letter.Reason ?? string.Empty)
                    .AppendValue(letter.Format ?? string.Empty)
                    .EndRow();
            }
        }
        catch (Exception error) when (NoteIfFatal(error))
        {
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Answers from the coarsest rollup that gives the same figures as the raw rows (see <see cref="RollupSource"/>),
    /// else from the raw rows.
    /// </summary>
    public Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken) =>
        QueryAsync(query, useRollups: true, cancellationToken);

    /// <summary>The query with the rollups optionally switched off: the reference tests and benchmarks compare against.</summary>
    internal Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, bool useRollups, CancellationToken cancellationToken) =>
        NotingFatalAsync(QueryCoreAsync(query, useRollups, cancellationToken));

    private async Task<IReadOnlyList<Bucket>> QueryCoreAsync(ReadingQuery query, bool useRollups, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var everyMicros = query.Validate();

        if (query.From >= query.To)
        {
            return [];
        }

        // Only fixed fragments are concatenated; every value travels as a parameter.
        // The series scope is shared by the raw and the rollup tables, which name these columns alike.
        var scope = new StringBuilder();
        if (query.Device is not null)
        {
            scope.Append(" AND device = $device");
        }

        if (query.Community is not null)
        {
            scope.Append(" AND community = $community");
        }

        var where = $"metric = $metric AND ts >= $from AND ts < $to{scope}";

        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        // A rollup answer reads W and then the rollup rows below it and the raw rows from it on, all in one snapshot:
        // W read outside it could be older than the rollup rows the query sees, and the minutes in between would be
        // counted from both.
        using var snapshot = everyMicros is not null && useRollups ? connection.BeginTransaction() : null;
        var rollup = snapshot is not null ? RollupSource.Choose(query, RolledUpBeforeInSnapshot(connection)) : null;
        string sql;
        if (everyMicros is null)
        {
            // Device and label break ties so a community's points at one instant come back in a stable order.
            sql = $"SELECT epoch_us(ts), value FROM readings WHERE {where} ORDER BY ts, device, label LIMIT $limit";
        }
        else if (rollup is null)
        {
            // Bucket start = floor(us / every) * every, written with a positive modulo so times before 1970 floor
            // down too (DuckDB's % keeps the dividend's sign). Epoch alignment means an hourly bucket always starts
            // on the hour in UTC, whatever the query's From.
            var fold = query.Aggregation switch
            {
                Aggregation.Mean => "avg(value)",
                Aggregation.Sum => "sum(value)",
                Aggregation.Min => "min(value)",
                Aggregation.Max => "max(value)",
                Aggregation.Count => "CAST(count(*) AS DOUBLE)",
                Aggregation.Last => "last(value ORDER BY us, device, label)",
                _ => throw new ArgumentOutOfRangeException(nameof(query), query.Aggregation, "Unknown aggregation."),
            };
            sql = $"""
                SELECT bucket, {fold}
                FROM (
                    SELECT epoch_us(ts) AS us, value, device, label,
                           epoch_us(ts) - (((epoch_us(ts) % $every) + $every) % $every) AS bucket
                    FROM readings
                    WHERE {where}
                )
                GROUP BY bucket
                ORDER BY bucket
                LIMIT $limit
                """;
        }
        else
        {
            sql = rollup.Sql(query.Aggregation, scope.ToString());
        }

        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        AddParameter(command, "metric", query.Metric);
        AddParameter(command, "from", query.From.UtcDateTime);
        AddParameter(command, "to", query.To.UtcDateTime);
        if (query.Device is not null)
        {
            AddParameter(command, "device", query.Device);
        }

        if (query.Community is not null)
        {
            AddParameter(command, "community", query.Community);
        }

        if (everyMicros is not null)
        {
            AddParameter(command, "every", everyMicros.Value);
        }

        if (rollup is not null)
        {
            AddRollupParameters(command, rollup);
        }

        AddParameter(command, "limit", query.Limit);

        var buckets = new List<Bucket>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                buckets.Add(new Bucket(FromMicros(reader.GetInt64(0)), reader.GetDouble(1)));
            }
        }

        // Read only: committing just ends the snapshot.
        snapshot?.Commit();
        return buckets;
    }

    /// <summary>The range parameters of <see cref="RollupSource.Sql"/> and <see cref="RollupSource.CountPerCommunitySql"/>.</summary>
    private static void AddRollupParameters(DuckDBCommand command, RollupSource rollup)
    {
        AddParameter(command, "rollup_from", rollup.From);
        AddParameter(command, "rollup_to", rollup.To);
        AddParameter(command, "raw_from", rollup.RawFrom);
        if (rollup.HoursFrom is { } hoursFrom && rollup.HoursTo is { } hoursTo)
        {
            AddParameter(command, "hours_from", hoursFrom);
            AddParameter(command, "hours_to", hoursTo);
        }
    }

    /// <summary>
    /// Every community's count in one scan: the whole hours and minutes from the rollups and the raw rows only for the
    /// edges and from the rollups' progress on, as an hourly <see cref="QueryAsync(ReadingQuery, CancellationToken)"/>
    /// reads them (<see cref="RollupSource"/>), in one snapshot.
    /// </summary>
    public Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        NotingFatalAsync(CountPerCommunityCoreAsync(metric, from, to, cancellationToken));

    private async Task<IReadOnlyDictionary<string, long>> CountPerCommunityCoreAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(metric);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (from >= to)
        {
            return counts;
        }

        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var snapshot = connection.BeginTransaction();
        var rollup = RollupSource.Choose(new ReadingQuery(metric, from, to, Every: TimeSpan.FromHours(1)), RolledUpBeforeInSnapshot(connection));
        await using var command = connection.CreateCommand();
        command.CommandText = rollup?.CountPerCommunitySql()
            ?? "SELECT community, count(*) FROM readings WHERE metric = $metric AND ts >= $from AND ts < $to GROUP BY community";
        AddParameter(command, "metric", metric);
        AddParameter(command, "from", from.UtcDateTime);
        AddParameter(command, "to", to.UtcDateTime);
        if (rollup is not null)
        {
            AddRollupParameters(command, rollup);
        }

        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        snapshot.Commit();
        return counts;
    }

    public async Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(community);
        ArgumentException.ThrowIfNullOrEmpty(metric);

        // Asked every 2 s per watched wall screen: the scan below runs once per community and metric, and the writes
        // keep its answer current from then on (LatestInCommunity says why).
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        return await _latest.GetAsync(community, metric, ScanAsync, cancellationToken).ConfigureAwait(false);

        Task<IReadOnlyList<LatestReading>> ScanAsync(CancellationToken cancellation)
        {
            // One hash aggregate (arg_max) rather than a window over every row, which had to sort the metric's whole history.
            const string sql = """
                SELECT device, label, epoch_us(max(ts)), arg_max(value, ts)
                FROM readings
                WHERE community = $community AND metric = $metric
                GROUP BY device, label
                ORDER BY device, label
                """;
            return LatestCoreAsync(sql, metric, cancellation, ("community", community));
        }
    }

    public async Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(metric);

        // When two labels of one device share the newest instant, the smallest label wins so restarts agree.
        const string sql = """
            SELECT device, label, epoch_us(ts), value
            FROM readings
            WHERE metric = $metric
            QUALIFY row_number() OVER (PARTITION BY device ORDER BY ts DESC, label) = 1
            ORDER BY device
            """;
        return await LatestCoreAsync(sql, metric, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken) =>
        NotingFatalAsync(DeadLettersCoreAsync(since, limit, cancellationToken));

    private async Task<IReadOnlyList<DeadLetter>> DeadLettersCoreAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);

        // rowid breaks ties between letters received in the same microsecond: the table is append-only, so a
        // higher rowid was written later.
        var sql = since is null
            ? "SELECT epoch_us(received_at), topic, payload, payload_bytes, reason, format FROM deadletters ORDER BY received_at DESC, rowid DESC LIMIT $limit"
            : "SELECT epoch_us(received_at), topic, payload, payload_bytes, reason, format FROM deadletters WHERE received_at >= $since ORDER BY received_at DESC, rowid DESC LIMIT $limit";

        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (since is { } s)
        {
            AddParameter(command, "since", s.UtcDateTime);
        }

        AddParameter(command, "limit", limit);

        var letters = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            letters.Add(new DeadLetter(
                Topic: reader.GetString(1),
                Payload: ReadBlob(reader, 2),
                PayloadBytes: reader.GetInt32(3),
                ReceivedAt: FromMicros(reader.GetInt64(0)),
                Reason: reader.GetString(4),
                Format: reader.GetString(5)));
        }

        return letters;
    }

    public async Task UpsertAsync(Alert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var body = JsonSerializer.Serialize(alert);
        // The status column holds the contract's string ("resolved"), the same text as in the JSON body.
        var status = JsonSerializer.Serialize(alert.Status).Trim('"');

        // The writer first (it creates the schema), outside the alerts' lock: _writeLock is never taken after it.
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        await _alertWriteLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            // Opened as a reader is, and kept.
            var writer = _alertWriter ??= await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            using var command = writer.CreateCommand();
            // Appended, never replaced (see DuckDbSchema.AlertLog): the newest version is the alert's state.
            command.CommandText = $"""
                INSERT INTO {DuckDbSchema.AlertDatabase}.alert_log (id, status, community, raised_at, body, version)
                VALUES ($id, $status, $community, $raised_at, $body, $version)
                """;
            AddParameter(command, "version", _alertVersion + 1);
            AddParameter(command, "id", alert.Id);
            AddParameter(command, "status", status);
            AddParameter(command, "community", alert.Community);
            AddParameter(command, "raised_at", alert.RaisedAt.UtcDateTime);
            AddParameter(command, "body", body);
            command.ExecuteNonQuery();
            _alertVersion++;
        }
        catch (Exception error) when (NoteIfFatal(error))
        {
            throw;
        }
        finally
        {
            _alertWriteLock.Release();
        }
    }

    /// <summary>For tests: holds the readings writer, as a long write does (a checkpoint, the minute's fold), until disposed.</summary>
    internal async Task<IDisposable> HoldReadingWritesAsync()
    {
        await InitializeAsync().ConfigureAwait(false);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        return new Held(_writeLock);
    }

    private sealed class Held(SemaphoreSlim held) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) held.Release();
        }
    }

    public Task<IReadOnlyList<Alert>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken) =>
        NotingFatalAsync(LoadCoreAsync(since, cancellationToken));

    private async Task<IReadOnlyList<Alert>> LoadCoreAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT body FROM {DuckDbSchema.AlertDatabase}.alerts
            WHERE raised_at >= $since OR status <> $resolved
            ORDER BY raised_at, id
            """;
        AddParameter(command, "since", since.UtcDateTime);
        AddParameter(command, "resolved", JsonSerializer.Serialize(AlertStatus.Resolved).Trim('"'));

        var alerts = new List<Alert>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var alert = JsonSerializer.Deserialize<Alert>(reader.GetString(0))
                ?? throw new InvalidDataException("An alert row holds JSON null.");
            alerts.Add(alert);
        }

        return alerts;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Let a write in progress finish: closing its connection under it would lose a batch ingest is waiting on.
        // So does a fold in progress, which would otherwise be rolled back and done again at the next start.
        await _writeLock.WaitAsync().ConfigureAwait(false);
        await _alertWriteLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (await CloseConnectionsLockedAsync().ConfigureAwait(false))
            {
                _logger.LogInformation("DuckDB store at {Path} closed", _path);
            }
        }
        finally
        {
            _alertWriteLock.Release();
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Waits for a fold in progress, then closes the fold's, the alerts' and the writer's connections; true when the
    /// writer was open. Call only while holding both <see cref="_writeLock"/> and <see cref="_alertWriteLock"/>.
    /// </summary>
    private async Task<bool> CloseConnectionsLockedAsync()
    {
        await SettleFoldIfTouchedLocked(null).ConfigureAwait(false);
        _foldConnection?.Dispose();
        _foldConnection = null;
        _alertWriter?.Dispose();
        _alertWriter = null;
        if (_writer is not { } writer)
        {
            return false;
        }

        _writer = null;
        writer.Dispose();
        return true;
    }

    /// <summary>A DuckDB setting as the store's database instance has it (<c>memory_limit</c>, <c>threads</c>): for tests and diagnostics.</summary>
    internal async Task<string?> SettingAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT current_setting($name)::VARCHAR";
        AddParameter(command, "name", name);
        return (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))?.ToString();
    }

    /// <summary>Opens the writer connection and the schema on first use. Call only while holding <see cref="_writeLock"/>.</summary>
    private DuckDBConnection OpenWriterLocked()
    {
        ThrowIfDisposed();
        if (_writer is { } open)
        {
            return open;
        }

        var folder = Path.GetDirectoryName(_path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        var connection = new DuckDBConnection(_connectionString);
        try
        {
            connection.Open();
            // memory_limit belongs to the database instance, which every reader shares; checked by the constructor, so
            // interpolating it is safe (SET takes no parameters).
            if (_memoryLimit is not null) Execute(connection, $"SET memory_limit = '{_memoryLimit}'");
            Execute(connection, DuckDbSchema.Tables);
            OpenAlertLog(connection);
            Execute(connection, DuckDbSchema.Rollups);
            Execute(connection, DuckDbSchema.Staging);
            Execute(connection, DuckDbSchema.NewRows);
            StartRollupProgressLocked(connection);
            NoteAnOldPrimaryKey(connection);
            BoundStoredSeries(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        _writer = connection;
        _logger.LogInformation("DuckDB store opened at {Path}", _path);
        return connection;
    }

    /// <summary>
    /// Reads what <see cref="NewestPerSeries"/> starts from: the file's newest time up to the clock plus
    /// <see cref="NewestPerSeries.Ahead"/>, and each series stamped beyond it (few: devices whose clocks run fast). Both
    /// scans are pruned by the time column's zone maps to the newest row groups.
    /// </summary>
    private void BoundStoredSeries(DuckDBConnection connection)
    {
        var cap = (_time.GetUtcNow() + NewestPerSeries.Ahead).UtcDateTime;
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT max(ts) FROM readings WHERE ts <= $cap";
        AddParameter(command, "cap", cap);
        var newest = command.ExecuteScalar() is DateTime stored ? stored : (DateTime?)null;
        command.CommandText = "SELECT device, metric, label, max(ts) FROM readings WHERE ts > $cap GROUP BY device, metric, label";
        var ahead = new List<(string, string, string, DateTime)>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) ahead.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetDateTime(3)));
        }
        _newest.Opened(newest, ahead);
        if (ahead.Count > 0)
            _logger.LogInformation("{Count} series have readings stamped more than {Ahead} ahead of the clock; their batches are checked for duplicates until newer", ahead.Count, NewestPerSeries.Ahead);
    }

    /// <summary>Batches written with the check for readings already stored, and without it (every reading newer than its series' stored ones).</summary>
    public (long Checked, long Unchecked) DuplicateChecks => (Interlocked.Read(ref _batchesChecked), Interlocked.Read(ref _batchesUnchecked));

    /// <summary>
    /// Of the unchecked batches, those appended straight into <c>readings</c>: no key repeated within the batch and no
    /// reading late for the rollups, so nothing was left for the scratch tables' statements to drop or fold.
    /// </summary>
    public long BatchesAppendedDirectly => Interlocked.Read(ref _batchesAppended);

    /// <summary>
    /// Attaches the alerts' own file (<see cref="DuckDbSchema.AlertLog"/>), moves a keyed <c>alerts</c> table of an older
    /// file into it and reads the newest version. Call only while holding <see cref="_writeLock"/>, before any alert is written.
    /// </summary>
    private void OpenAlertLog(DuckDBConnection connection)
    {
        Execute(connection, $"ATTACH IF NOT EXISTS '{AlertsFilePath.Replace("'", "''", StringComparison.Ordinal)}' AS {DuckDbSchema.AlertDatabase}");
        Execute(connection, DuckDbSchema.AlertLog);
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                SELECT count(*) FROM duckdb_tables()
                WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'alerts'
                """;
            if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
            {
                Execute(connection, DuckDbSchema.MoveKeyedAlertsToLog);
                Execute(connection, "DROP TABLE main.alerts");
                _logger.LogInformation("DuckDB store at {Path}: alerts moved to {AlertsPath}", _path, AlertsFilePath);
            }
        }

        using var newest = connection.CreateCommand();
        newest.CommandText = $"SELECT coalesce(max(version), 0) FROM {DuckDbSchema.AlertDatabase}.alert_log";
        _alertVersion = Convert.ToInt64(newest.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The alerts' own database file, beside the readings' one: <c>sensing.alerts.duckdb</c> for <c>sensing.duckdb</c>.</summary>
    public string AlertsFilePath => Path.Combine(Path.GetDirectoryName(_path) ?? ".", Path.GetFileNameWithoutExtension(_path) + ".alerts" + Path.GetExtension(_path));

    /// <summary>
    /// A file created before the <c>readings</c> table lost its primary key keeps it (DuckDB cannot drop one): it stays
    /// correct, but each write also maintains the key's index, which grows with the history. Said once at open, so a
    /// slow store on an old file has an explanation in the log.
    /// </summary>
    private void NoteAnOldPrimaryKey(DuckDBConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT count(*) FROM duckdb_constraints()
            WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'readings' AND constraint_type = 'PRIMARY KEY'
            """;
        if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
        {
            _logger.LogWarning(
                "DuckDB file {Path} has a primary key on readings, as files created by earlier versions do; " +
                "writes stay correct but also maintain its index, which costs CPU and memory as the history grows. New files are created without it",
                _path);
        }
    }

    /// <summary>
    /// DuckDB's own memory by component (<c>duckdb_memory()</c>: base tables, ART indexes, hash tables, …) and its
    /// <c>memory_limit</c>, for <c>/metrics</c>: the part of the process's resident memory the managed heap does not
    /// explain. Empty until the store is open. Synchronous: a catalog query of a few rows.
    /// </summary>
    public (IReadOnlyList<(string Tag, long Bytes)> Tags, long Limit) MemoryUsage()
    {
        if (_writer is null || Volatile.Read(ref _disposed) != 0) return ([], 0);
        using var connection = new DuckDBConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0";
        var tags = new List<(string, long)>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) tags.Add((reader.GetString(0), reader.GetInt64(1)));
        }
        command.CommandText = "SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'";
        var limit = command.ExecuteScalar() as string;
        return (tags, ParseSize(limit));

        static long ParseSize(string? text)
        {
            // "18.6 GiB", "512.0 MiB"
            if (text is null) return 0;
            var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !double.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n)) return 0;
            return (long)(n * parts[1] switch
            {
                "KiB" => 1L << 10, "MiB" => 1L << 20, "GiB" => 1L << 30, "TiB" => 1L << 40,
                "KB" => 1_000L, "MB" => 1_000_000L, "GB" => 1_000_000_000L, "TB" => 1_000_000_000_000L,
                _ => 1,
            });
        }
    }

    private async Task<DuckDBConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        // The writer must be open first: it creates the schema and keeps the shared database instance alive.
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        return OpenConnection();
    }

    /// <summary>A connection to the store's database instance; the writer must be open.</summary>
    private DuckDBConnection OpenConnection()
    {
        var connection = new DuckDBConnection(_connectionString);
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private Task<IReadOnlyList<LatestReading>> LatestCoreAsync(
        string sql, string metric, CancellationToken cancellationToken, params (string Name, object Value)[] parameters) =>
        NotingFatalAsync(LatestScanAsync(sql, metric, cancellationToken, parameters));

    private async Task<IReadOnlyList<LatestReading>> LatestScanAsync(
        string sql, string metric, CancellationToken cancellationToken, (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        AddParameter(command, "metric", metric);
        foreach (var (name, value) in parameters)
        {
            AddParameter(command, name, value);
        }

        var latest = new List<LatestReading>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var label = reader.GetString(1);
            latest.Add(new LatestReading(
                Device: reader.GetString(0),
                Metric: metric,
                Label: label.Length == 0 ? null : label,
                Time: FromMicros(reader.GetInt64(2)),
                Value: reader.GetDouble(3)));
        }

        return latest;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>
    /// Readings older than the raw retention horizon cannot be stored: their raw copies may be gone, so a redelivery
    /// could not be told from a first delivery and the rollups would count it twice. They are refused out loud
    /// (<see cref="ArgumentException"/>, which the ingest store writer turns into dead letters for exactly those
    /// readings) rather than dropped in silence.
    /// </summary>
    private static void RefuseReadingsBeforeTheHorizon(DuckDBConnection writer, IReadOnlyList<Reading> readings)
    {
        using var command = writer.CreateCommand();
        command.CommandText = "SELECT max(raw_horizon) FROM retention_horizon";
        if (command.ExecuteScalar() is not DateTime horizon) return;
        var utcHorizon = new DateTimeOffset(DateTime.SpecifyKind(horizon, DateTimeKind.Utc));
        for (var i = 0; i < readings.Count; i++)
        {
            if (readings[i].Time < utcHorizon)
            {
                throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"Reading of {readings[i].Device} {readings[i].Metric} at {readings[i].Time:O} is older than the raw retention horizon {utcHorizon:O} (Store:Retention:Raw): it can no longer be told apart from a reading already counted."),
                    nameof(readings));
            }
        }
    }

    /// <summary>
    /// Empties the writer's two scratch tables by dropping and recreating them. Not <c>DELETE</c>: DuckDB keeps the
    /// memory of rows deleted from an in-memory (temp) table, so a DELETE per batch grew the process by tens of KB a
    /// batch without bound (<c>duckdb_memory()</c> tag <c>IN_MEMORY_TABLE</c>: 214 MB after a simulated day and a half
    /// of a street office in the soak benchmark; a scratch probe of 3,000 batches of 500 rows: 110 MB with DELETE,
    /// 3 MB with DROP and CREATE).
    /// </summary>
    private static void ResetScratchTables(DuckDBConnection writer)
    {
        Execute(writer, $"DROP TABLE IF EXISTS temp.main.{DuckDbSchema.StagingTable}");
        Execute(writer, "DROP TABLE IF EXISTS temp.main.readings_new");
        Execute(writer, DuckDbSchema.Staging);
        Execute(writer, DuckDbSchema.NewRows);
    }

    private static void Execute(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void AddParameter(DuckDBCommand command, string name, object value) =>
        command.Parameters.Add(new DuckDBParameter(name, value));

    private static void AppendNullable(IDuckDBAppenderRow row, string? value)
    {
        if (value is null)
        {
            row.AppendNullValue();
        }
        else
        {
            row.AppendValue(value);
        }
    }

    private static byte[] ReadBlob(DbDataReader reader, int ordinal)
    {
        using var blob = reader.GetStream(ordinal);
        using var copy = new MemoryStream();
        blob.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>DuckDB's microseconds since the Unix epoch as a UTC <see cref="DateTimeOffset"/>.</summary>
    private static DateTimeOffset FromMicros(long micros) =>
        DateTimeOffset.UnixEpoch.AddTicks(micros * TimeSpan.TicksPerMicrosecond);
}
