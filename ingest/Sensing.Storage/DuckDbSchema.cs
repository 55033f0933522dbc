namespace Sensing.Storage;

/// <summary>
/// The DuckDB schema. Every statement is idempotent (<c>IF NOT EXISTS</c>), so opening an existing file is a no-op.
/// </summary>
internal static class DuckDbSchema
{
    /// <summary>
    /// Tables in the database file.
    /// <list type="bullet">
    /// <item><c>readings</c>: the primary key is the idempotency key of the port (device + metric + label + time), so a
    /// redelivered MQTT message is an <c>INSERT OR IGNORE</c> no-op. <c>label</c> is NOT NULL with '' for "no label"
    /// because a key column must not be NULL (and NULL would never compare equal, letting duplicates in).
    /// <c>ts</c> is a plain TIMESTAMP holding UTC: TIMESTAMPTZ arithmetic would depend on the session's TimeZone
    /// setting, and the contract stores UTC anyway. DuckDB keeps microseconds, so sub-microsecond ticks are dropped.
    /// There is no secondary index: queries filter on metric/community/device plus a time range, and DuckDB's per
    /// row-group min/max zone maps prune by time well because readings arrive roughly in time order.</item>
    /// <item><c>deadletters</c>: append-only, no key (the same bad message twice is two observations of a problem).</item>
    /// <item><c>alerts</c>: the alert itself as JSON in <c>body</c> (so new Alert fields need no migration), with the
    /// columns <see cref="Sensing.Telemetry.IAlertStore.LoadAsync"/> filters on copied out beside it.</item>
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
            attributes VARCHAR,
            PRIMARY KEY (device, metric, label, ts)
        );
        CREATE TABLE IF NOT EXISTS deadletters (
            received_at   TIMESTAMP NOT NULL,
            topic         VARCHAR   NOT NULL,
            payload       BLOB      NOT NULL,
            payload_bytes INTEGER   NOT NULL,
            reason        VARCHAR   NOT NULL,
            format        VARCHAR   NOT NULL
        );
        CREATE TABLE IF NOT EXISTS alerts (
            id        VARCHAR   PRIMARY KEY,
            status    VARCHAR   NOT NULL,
            community VARCHAR   NOT NULL,
            raised_at TIMESTAMP NOT NULL,
            body      VARCHAR   NOT NULL
        );
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

    /// <summary>
    /// Rollups of <c>readings</c> per series and bucket (<c>readings_1m</c>: minute, <c>readings_1h</c>: hour; bucket
    /// starts are <c>date_trunc</c> of the UTC time, so aligned to the Unix epoch like query buckets). Each row keeps
    /// the partial state every aggregation of the port can be finished from exactly: count, sum, min, max, and the
    /// value at the newest time (<c>last_value</c> at <c>last_ts</c>). Merging two states is associative, which is
    /// what lets a write add a batch to a bucket and a query fold many buckets into one.
    /// <para>
    /// <c>community</c> is part of the key although a device normally stays in one community: if it moves within a
    /// bucket, a community-scoped query over the rollup still counts exactly what the raw rows say. <c>grid</c> and
    /// <c>household</c> are the first write's, for filtering and exports, not part of any figure.
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
            last_ts    TIMESTAMP NOT NULL,
            PRIMARY KEY (device, metric, label, community, bucket)
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
            last_ts    TIMESTAMP NOT NULL,
            PRIMARY KEY (device, metric, label, community, bucket)
        );
        CREATE TABLE IF NOT EXISTS retention_horizon (
            raw_horizon TIMESTAMP NOT NULL
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
    public const string SelectNewRows = """
        INSERT INTO readings_new
        SELECT s.device, s.metric, s.label, s.ts, s.value, s.community, s.grid, s.household, s.attributes
        FROM (
            SELECT * FROM readings_staging
            QUALIFY row_number() OVER (PARTITION BY device, metric, label, ts ORDER BY seq) = 1
        ) AS s
        WHERE s.ts >= (SELECT coalesce(max(raw_horizon), TIMESTAMP '-infinity') FROM retention_horizon)
          AND NOT EXISTS (
            SELECT 1 FROM readings AS r
            WHERE r.device = s.device AND r.metric = s.metric AND r.label = s.label AND r.ts = s.ts)
        """;

    /// <summary>
    /// A plain INSERT, not OR IGNORE: <see cref="SelectNewRows"/> removed every existing key, so a conflict here would
    /// be a bug, and failing the transaction is better than rollups that silently disagree with the raw rows.
    /// </summary>
    public const string InsertNewRows = """
        INSERT INTO readings (device, metric, label, ts, value, community, grid, household, attributes)
        SELECT device, metric, label, ts, value, community, grid, household, attributes FROM readings_new
        """;

    /// <summary>Upserts the new rows into <c>readings_1m</c>; see <see cref="RollupUpsert"/>.</summary>
    public static readonly string UpsertMinute = RollupUpsert("readings_1m", "minute");

    /// <summary>Upserts the new rows into <c>readings_1h</c>; see <see cref="RollupUpsert"/>.</summary>
    public static readonly string UpsertHour = RollupUpsert("readings_1h", "hour");

    /// <summary>
    /// Folds the batch's new rows per series and bucket, then merges each fold into the stored state: counts and sums
    /// add, min/max take the lesser/greater, and the last value is whichever side has the newer time. The two sides
    /// never share a time: <c>last_ts</c> is a raw key time of the same series, and the new rows' keys are new, so
    /// "newer" has no ties. SET expressions see the stored row (unqualified) and the incoming one (<c>excluded</c>),
    /// all evaluated against the stored row before any assignment.
    /// </summary>
    private static string RollupUpsert(string table, string unit) => $"""
        {RollupFold(table, unit, "readings_new")}
        ON CONFLICT (device, metric, label, community, bucket) DO UPDATE SET
            n          = n + excluded.n,
            sum_value  = sum_value + excluded.sum_value,
            min_value  = least(min_value, excluded.min_value),
            max_value  = greatest(max_value, excluded.max_value),
            last_value = CASE WHEN excluded.last_ts > last_ts THEN excluded.last_value ELSE last_value END,
            last_ts    = greatest(last_ts, excluded.last_ts)
        """;

    /// <summary>
    /// Builds both rollups from <c>readings</c> in one go, for a file written before rollups existed. Only run when
    /// both rollup tables are empty, so there is nothing to merge with.
    /// </summary>
    public static readonly string Backfill = $"""
        {RollupFold("readings_1m", "minute", "readings")};
        {RollupFold("readings_1h", "hour", "readings")};
        """;

    /// <summary>Inserts the fold of <paramref name="source"/>'s rows per series and bucket into a rollup table.</summary>
    private static string RollupFold(string table, string unit, string source) => $"""
        INSERT INTO {table} (device, metric, label, community, bucket, grid, household,
                             n, sum_value, min_value, max_value, last_value, last_ts)
        SELECT device, metric, label, community, date_trunc('{unit}', ts), any_value(grid), any_value(household),
               count(*), sum(value), min(value), max(value), arg_max(value, ts), max(ts)
        FROM {source}
        GROUP BY device, metric, label, community, date_trunc('{unit}', ts)
        """;
}
