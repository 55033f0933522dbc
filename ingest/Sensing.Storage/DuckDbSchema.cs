namespace Sensing.Storage;

/// <summary>
/// The DuckDB schema. Every statement is idempotent (<c>IF NOT EXISTS</c>), so opening an existing file is a no-op.
/// </summary>
internal static class DuckDbSchema
{
    /// <summary>A rollup table's columns in order: the series, the bucket, then the partial state.</summary>
    private const string RollupColumns =
        "device, metric, label, community, bucket, grid, household, n, sum_value, min_value, max_value, last_value, last_ts";

    /// <summary>The partial state of a group of raw rows (grid, household, then count, sum, min, max, value at the newest time).</summary>
    private const string StateOfRows =
        "any_value(grid) AS grid, any_value(household) AS household, count(*) AS n, sum(value) AS sum_value, min(value) AS min_value, " +
        "max(value) AS max_value, arg_max(value, ts) AS last_value, max(ts) AS last_ts";

    /// <summary>The partial state of a group of partial states: counts and sums add, min/max take the extremes, the last value is the newest's.</summary>
    private const string StateOfStates =
        "any_value(grid) AS grid, any_value(household) AS household, sum(n)::BIGINT AS n, sum(sum_value) AS sum_value, min(min_value) AS min_value, " +
        "max(max_value) AS max_value, arg_max(last_value, last_ts) AS last_value, max(last_ts) AS last_ts";

    /// <summary>
    /// Tables in the database file.
    /// <list type="bullet">
    /// <item><c>readings</c>: device + metric + label + time is the idempotency key of the port, and the write keeps it
    /// unique itself (<see cref="SelectNewRows"/>, under the one writer), so a redelivered MQTT message adds nothing.
    /// There is deliberately no PRIMARY KEY: DuckDB keeps a key as an ART index over every stored row, which grows with
    /// the history (a street office stores ~1,000 readings a second, 30 days raw: billions of rows) far past <c>Store:MemoryLimit</c>,
    /// and maintaining it was a quarter of the write's CPU (<c>store-load</c>: 99k readings/s without, 76k with;
    /// benchmarks/README.md). Files created with the key keep it and stay correct (the check still runs first; the
    /// key then only costs). <c>label</c> is NOT NULL with '' for "no label" because NULL never compares equal, which
    /// would let duplicates in.
    /// <c>ts</c> is a plain TIMESTAMP holding UTC: TIMESTAMPTZ arithmetic would depend on the session's TimeZone
    /// setting, and the contract stores UTC anyway. DuckDB keeps microseconds, so sub-microsecond ticks are dropped.
    /// There is no secondary index: queries filter on metric/community/device plus a time range, and DuckDB's per
    /// row-group min/max zone maps prune by time well because readings arrive roughly in time order.</item>
    /// <item><c>deadletters</c>: append-only, no key (the same bad message twice is two observations of a problem).</item>
    /// <item>alerts: in their own file (<see cref="AlertLog"/>), every state an alert was written in, the alert itself
    /// as JSON in <c>body</c> (so new Alert fields need no migration), with the columns
    /// <see cref="Sensing.Telemetry.IAlertStore.LoadAsync"/> filters on copied out beside it.</item>
    /// </list>
    /// </summary>
    public const string Tables = """
        CREATE TABLE IF NOT EXISTS readings (
            device     VARCHAR   NOT NULL,
            metric     VARCHAR   NOT NULL,
            label      VARCHAR   NOT NULL,
            ts         TIMESTAMP NOT NULL,
            value      DOUBLE    NOT NULL,
            community  VARCHAR   NOT NULL,
            grid       VARCHAR,
            household  VARCHAR,
            attributes VARCHAR
        );
        CREATE TABLE IF NOT EXISTS deadletters (
            received_at   TIMESTAMP NOT NULL,
            topic         VARCHAR   NOT NULL,
            payload       BLOB      NOT NULL,
            payload_bytes INTEGER   NOT NULL,
            reason        VARCHAR   NOT NULL,
            format        VARCHAR   NOT NULL
        );
        """;

    /// <summary>
    /// The name the alerts' own database file is attached under (see <see cref="AlertLog"/>): it is the file beside the
    /// readings' file, <c>sensing.alerts.duckdb</c> for <c>sensing.duckdb</c>.
    /// </summary>
    public const string AlertDatabase = "sensing_alerts";

    /// <summary>
    /// Alerts live in a database file of their own, attached to the readings' database instance, and are appended,
    /// never replaced: <c>alert_log</c> holds every state an alert was written in, and the view <c>alerts</c> picks
    /// each id's newest version. Both for the same reason: a checkpoint of the readings (every ~25 s at 20,000
    /// msg/s, up to two seconds) held every insert into the same database, and an upsert into a keyed table besides
    /// waits for any checkpoint, and a forced door's alert with it on its way to the wall screen. The alerts' file
    /// checkpoints on its own, rarely (alerts are tens a day, a handful of states each, so choosing the newest per id
    /// when read costs nothing that matters). A transaction writes one database only, so a household's erasure
    /// deletes its alerts in a second transaction (<see cref="DuckDbReadingStore.EraseHouseholdAsync"/>).
    /// </summary>
    public const string AlertLog = $"""
        CREATE TABLE IF NOT EXISTS {AlertDatabase}.alert_log (
            id        VARCHAR   NOT NULL,
            status    VARCHAR   NOT NULL,
            community VARCHAR   NOT NULL,
            raised_at TIMESTAMP NOT NULL,
            body      VARCHAR   NOT NULL,
            version   BIGINT    NOT NULL
        );
        CREATE OR REPLACE VIEW {AlertDatabase}.alerts AS
            SELECT id, status, community, raised_at, body FROM {AlertDatabase}.alert_log
            QUALIFY row_number() OVER (PARTITION BY id ORDER BY version DESC) = 1;
        """;

    /// <summary>
    /// A file written before the alerts' own database kept alerts in a keyed table <c>alerts</c> beside the readings:
    /// its rows move into the log (one version each), unless a move interrupted after this step already did.
    /// The keyed table is dropped after this commits (a transaction writes one database only).
    /// </summary>
    public const string MoveKeyedAlertsToLog = $"""
        INSERT INTO {AlertDatabase}.alert_log (id, status, community, raised_at, body, version)
            SELECT id, status, community, raised_at, body, row_number() OVER (ORDER BY raised_at, id) FROM main.alerts
            WHERE NOT EXISTS (SELECT 1 FROM {AlertDatabase}.alert_log);
        """;

    /// <summary>
    /// The writer connection's private staging table. Temporary tables live in memory per connection and are not
    /// written to the WAL, so the Appender can fill it fast; <c>seq</c> keeps arrival order for "first one wins".
    /// </summary>
    public const string Staging = """
        CREATE TEMP TABLE IF NOT EXISTS readings_staging (
            seq        INTEGER   NOT NULL,
            device     VARCHAR   NOT NULL,
            metric     VARCHAR   NOT NULL,
            label      VARCHAR   NOT NULL,
            ts         TIMESTAMP NOT NULL,
            value      DOUBLE    NOT NULL,
            community  VARCHAR   NOT NULL,
            grid       VARCHAR,
            household  VARCHAR,
            attributes VARCHAR
        );
        """;

    public const string StagingTable = "readings_staging";

    /// <summary>The raw readings' table; its columns are the staging table's after <c>seq</c>, in the same order.</summary>
    public const string ReadingsTable = "readings";

    /// <summary>
    /// Rollups of <c>readings</c> per series and bucket (<c>readings_1m</c>: minute, <c>readings_1h</c>: hour; bucket
    /// starts are <c>date_trunc</c> of the UTC time, so aligned to the Unix epoch like query buckets). Each row is a
    /// partial state every aggregation of the port can be finished from exactly: count, sum, min, max, and the value
    /// at the newest time (<c>last_value</c> at <c>last_ts</c>). Merging states is associative and commutative, so
    /// one series and bucket may have several rows (one per batch that touched it) and a query folds them like any
    /// other rows of its bucket.
    /// <para>
    /// No key and no index, on purpose: each write appends its batch's states instead of upserting into stored ones.
    /// Measured on 10,000-reading batches, <c>INSERT … ON CONFLICT DO UPDATE</c> into keyed rollups made a write
    /// about 3.5× slower than appending (most of it in COMMIT, updating the ART indexes); the price is more rows per
    /// bucket, which compaction (<see cref="Compact"/>) folds back to one per series and bucket for recent buckets.
    /// </para>
    /// <para>
    /// <c>community</c> is part of the series: if a device moves within a bucket, a community-scoped query over the
    /// rollup still counts exactly what the raw rows say. <c>grid</c> and <c>household</c> are carried for filtering
    /// and exports, not part of any figure.
    /// </para>
    /// <para>
    /// <c>rollup_progress</c> holds one time, W: the rollups hold every raw reading older than W and none at or after
    /// it. Readings of the live feed (newer than W when written) are folded once their minute has closed
    /// (<see cref="FoldClosedMinutes"/>, when W moves forward), not per batch: a device reporting every few seconds
    /// then adds one minute row and one hour row per minute instead of two rows per reading, which was half of the
    /// write (<c>store-load</c>, benchmarks/README.md). Readings older than W when written (replays, backfills, devices
    /// that were offline) are folded by the write itself (<see cref="AppendMinute"/>). Queries read the rollups below
    /// W and the raw rows from W on (<see cref="RollupSource"/>), in one snapshot, so the answers stay exact.
    /// </para>
    /// <c>retention_horizon</c> holds the oldest raw time still kept (one row, moved forward by retention): a reading
    /// older than it is not written at all, because its raw twin may already be gone and a redelivery could then no
    /// longer be recognised, and would be counted into the rollups twice.
    /// </summary>
    public const string Rollups = """
        CREATE TABLE IF NOT EXISTS readings_1m (
            device     VARCHAR   NOT NULL,
            metric     VARCHAR   NOT NULL,
            label      VARCHAR   NOT NULL,
            community  VARCHAR   NOT NULL,
            bucket     TIMESTAMP NOT NULL,
            grid       VARCHAR,
            household  VARCHAR,
            n          BIGINT    NOT NULL,
            sum_value  DOUBLE    NOT NULL,
            min_value  DOUBLE    NOT NULL,
            max_value  DOUBLE    NOT NULL,
            last_value DOUBLE    NOT NULL,
            last_ts    TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS readings_1h (
            device     VARCHAR   NOT NULL,
            metric     VARCHAR   NOT NULL,
            label      VARCHAR   NOT NULL,
            community  VARCHAR   NOT NULL,
            bucket     TIMESTAMP NOT NULL,
            grid       VARCHAR,
            household  VARCHAR,
            n          BIGINT    NOT NULL,
            sum_value  DOUBLE    NOT NULL,
            min_value  DOUBLE    NOT NULL,
            max_value  DOUBLE    NOT NULL,
            last_value DOUBLE    NOT NULL,
            last_ts    TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS retention_horizon (
            raw_horizon TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS rollup_progress (
            rolled_up_before TIMESTAMP NOT NULL
        );
        """;

    /// <summary>
    /// The writer connection's second temporary table: the rows of the current batch that are really new, i.e. the
    /// ones the raw insert adds. Rollups are built from this set and only from it.
    /// </summary>
    public const string NewRows = """
        CREATE TEMP TABLE IF NOT EXISTS readings_new (
            device     VARCHAR   NOT NULL,
            metric     VARCHAR   NOT NULL,
            label      VARCHAR   NOT NULL,
            ts         TIMESTAMP NOT NULL,
            value      DOUBLE    NOT NULL,
            community  VARCHAR   NOT NULL,
            grid       VARCHAR,
            household  VARCHAR,
            attributes VARCHAR
        );
        """;

    /// <summary>
    /// Picks the new rows of the staged batch. Duplicates inside the batch are removed first (the lowest
    /// <c>seq</c> wins, the port's "first write wins"); keys already in <c>readings</c> are dropped by the anti-join
    /// (DuckDB pushes the batch's min/max keys into the scan of <c>readings</c>, so row groups outside the batch's
    /// time range are skipped by their zone maps); readings older than the retention horizon are dropped (see
    /// <see cref="Rollups"/>). Runs inside the write transaction, under the writer lock: nothing can insert a key
    /// between this check and the insert.
    /// </summary>
    public const string SelectNewRows = SelectNewRowsNoneStored + """

          AND NOT EXISTS (
            SELECT 1 FROM readings AS r
            WHERE r.device = s.device AND r.metric = s.metric AND r.label = s.label AND r.ts = s.ts)
        """;

    /// <summary>
    /// <see cref="SelectNewRows"/> without the anti-join, for a batch whose every reading is newer than anything stored of
    /// its series (<see cref="NewestPerSeries"/>): duplicates within the batch and readings before the retention
    /// horizon are still dropped.
    /// </summary>
    public const string SelectNewRowsNoneStored = """
        INSERT INTO readings_new
        SELECT s.device, s.metric, s.label, s.ts, s.value, s.community, s.grid, s.household, s.attributes
        FROM (
            SELECT * FROM readings_staging
            QUALIFY row_number() OVER (PARTITION BY device, metric, label, ts ORDER BY seq) = 1
        ) AS s
        WHERE s.ts >= (SELECT coalesce(max(raw_horizon), TIMESTAMP '-infinity') FROM retention_horizon)
        """;

    /// <summary>
    /// A plain INSERT: <see cref="SelectNewRows"/> removed every existing key and every repeat within the batch, and
    /// the rollups are folded from the same rows, so raw rows and rollups agree. (In a file created with the old
    /// primary key, a conflict here would be a bug and fails the transaction rather than let them disagree.)
    /// </summary>
    public const string InsertNewRows = """
        INSERT INTO readings (device, metric, label, ts, value, community, grid, household, attributes)
        SELECT device, metric, label, ts, value, community, grid, household, attributes FROM readings_new
        """;

    /// <summary>
    /// Appends the minute states of the new rows older than <c>$rolled_up_before</c> (late readings) to
    /// <c>readings_1m</c>; newer ones wait for <see cref="FoldClosedMinutes"/>.
    /// </summary>
    public static readonly string AppendMinute = RollupFold("readings_1m", "minute", "readings_new", "ts < $rolled_up_before");

    /// <summary>The same as <see cref="AppendMinute"/> for <c>readings_1h</c>.</summary>
    public static readonly string AppendHour = RollupFold("readings_1h", "hour", "readings_new", "ts < $rolled_up_before");

    /// <summary>
    /// Moves the rollups' progress W from <c>$from</c> to <c>$to</c>: folds the raw rows of [$from, $to) into minute
    /// states, appends them to <c>readings_1m</c> and their fold per hour to <c>readings_1h</c>, and records $to. Every
    /// raw row in that range was written while W was at most $from, so none of them is in a rollup yet, and no minute
    /// row of the range exists before this fold (a write folds only readings older than W itself): so the hours are
    /// folded from the minute rows the first statement just added, read back in the same transaction, rather than
    /// from a temporary table of them, which held a whole minute's states (one per series: ~176,000 for a street
    /// office) in DuckDB's memory a second time while the fold ran beside the writes. Run in one transaction: W and
    /// the rollups move together or not at all.
    /// </summary>
    public static readonly string FoldClosedMinutes = $"""
        INSERT INTO readings_1m ({RollupColumns})
            SELECT device, metric, label, community, date_trunc('minute', ts) AS bucket, {StateOfRows}
            FROM readings
            WHERE ts >= $from AND ts < $to
            GROUP BY device, metric, label, community, date_trunc('minute', ts);
        INSERT INTO readings_1h ({RollupColumns})
            SELECT device, metric, label, community, date_trunc('hour', bucket), {StateOfStates}
            FROM readings_1m
            WHERE bucket >= $from AND bucket < $to
            GROUP BY device, metric, label, community, date_trunc('hour', bucket);
        DELETE FROM rollup_progress;
        INSERT INTO rollup_progress VALUES ($to);
        """;

    /// <summary>
    /// Folds the series and buckets of a rollup table that have more than one row, from <c>$since</c> on, into one
    /// row each: counts and sums add, min/max take the least/greatest, the last value is the one at the newest time
    /// (times never tie within a series, as they are raw key times). Run in a transaction, under the writer lock.
    /// </summary>
    public static string Compact(string table) => $"""
        CREATE OR REPLACE TEMP TABLE rollup_compacted AS
            SELECT device, metric, label, community, bucket, {StateOfStates}
            FROM {table}
            WHERE bucket >= $since
            GROUP BY device, metric, label, community, bucket
            HAVING count(*) > 1
        """;

    /// <summary>Replaces the rows <see cref="Compact"/> folded by their folds.</summary>
    public static string CompactReplace(string table) => $"""
        DELETE FROM {table} AS t USING rollup_compacted AS c
            WHERE t.device = c.device AND t.metric = c.metric AND t.label = c.label AND t.community = c.community
              AND t.bucket = c.bucket;
        INSERT INTO {table} ({RollupColumns})
            SELECT * FROM rollup_compacted;
        DROP TABLE rollup_compacted;
        """;

    /// <summary>
    /// Builds both rollups from <c>readings</c> in one go, for a file written before rollups existed. Only run when
    /// both rollup tables are empty and the file has no rollup progress yet (a file from before rollups), so nothing is counted twice.
    /// </summary>
    public static readonly string Backfill = $"""
        {RollupFold("readings_1m", "minute", "readings")};
        {RollupFold("readings_1h", "hour", "readings")};
        """;

    /// <summary>Appends the fold of <paramref name="source"/>'s rows (those matching <paramref name="filter"/>) per series and bucket to a rollup table.</summary>
    private static string RollupFold(string table, string unit, string source, string filter = "true") => $"""
        INSERT INTO {table} ({RollupColumns})
        SELECT device, metric, label, community, date_trunc('{unit}', ts), {StateOfRows}
        FROM {source}
        WHERE {filter}
        GROUP BY device, metric, label, community, date_trunc('{unit}', ts)
        """;
}
