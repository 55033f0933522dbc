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
    /// Moves the staged batch into <c>readings</c>. Duplicates inside the batch are removed first (the lowest
    /// <c>seq</c> wins) because one INSERT must not carry the same key twice; keys already stored are ignored,
    /// so the first write of a reading wins over any redelivery.
    /// </summary>
    public const string MergeStaging = """
        INSERT OR IGNORE INTO readings (device, metric, label, ts, value, community, grid, household, attributes)
        SELECT device, metric, label, ts, value, community, grid, household, attributes
        FROM readings_staging
        QUALIFY row_number() OVER (PARTITION BY device, metric, label, ts ORDER BY seq) = 1
        """;
}
