using Microsoft.Extensions.Options;
using Sensing.Storage.Influx;

namespace Sensing.Storage;

/// <summary>
/// The <c>Store</c> configuration section: which time-series store to use and where it lives.
/// <code>
/// "Store": {
///   "Kind": "duckdb",                   // duckdb (default) | influxdb
///   "Path": "data/sensing.duckdb",      // DuckDB file, relative to the current directory
///   "MemoryLimit": "128MB",             // DuckDB only: its memory_limit (buffer pool, index, the write's working memory)
///   "Threads": 1,                       // DuckDB only: its worker threads (null: one per core)
///   "CheckpointThreshold": "32MB",      // DuckDB only: WAL size at which it checkpoints into the file
///   "Url": "http://127.0.0.1:8086",     // InfluxDB only, from here on
///   "Database": "sensing",              // 1.x database (created at start when missing); 2.x: DBRP database name
///   "Bucket": null,                     // 2.x/3.x bucket for /api/v2/write, used together with Token
///   "Org": null,                        // 2.x organisation
///   "Token": null,                      // Authorization: Token … (2.x/3.x)
///   "Username": null, "Password": null, // 1.x credentials (HTTP Basic)
///   "RetentionPolicy": null,            // 1.x retention policy (rp=), default: the database's default
///   "Precision": "ms"                   // ms | ns: timestamp precision of written points
/// }
/// </code>
/// </summary>
public sealed class StoreOptions
{
    public const string SectionName = "Store";
    public const string DuckDbKind = "duckdb";
    public const string InfluxDbKind = "influxdb";

    public string Kind { get; set; } = DuckDbKind;
    public string Path { get; set; } = "data/sensing.duckdb";

    /// <summary>
    /// DuckDB's <c>memory_limit</c>. DuckDB's own default is 80 % of the machine's RAM, and it keeps what it once
    /// used: under a sustained feed the service's resident memory grew past 1 GB with it. A street office (40
    /// communities) needs far less; the limit makes DuckDB evict cached blocks (and spill a large write to disk)
    /// instead of growing. 128MB since the checkpoint threshold is 32MB: most of DuckDB's memory under a fast feed is
    /// the rows appended since the last checkpoint, and with checkpoints at 64MB those reached ~110 MB and a 128MB
    /// limit refused writes for memory at 14,000–20,000 msg/s; at 32MB no write was refused in e2e runs up to 36,000
    /// msg/s nor in the soak (benchmarks/README.md). A refused write goes to the spool and is retried. Blank: DuckDB's default.
    /// </summary>
    public string? MemoryLimit { get; set; } = DefaultMemoryLimit;

    /// <summary>
    /// DuckDB's worker threads. The writes are small batches whose plans gain little from a second thread, while
    /// DuckDB's idle workers spin (<c>sched_yield</c>) for the next task and took a tenth of the service's CPU on two
    /// shared cores; 0 or blank: DuckDB's default (one per core).
    /// </summary>
    public int? Threads { get; set; } = DefaultThreads;

    /// <summary>
    /// DuckDB's <c>checkpoint_threshold</c>: the size the write-ahead log grows to before DuckDB folds it into the
    /// database file, inside the commit of the write that crossed it. A checkpoint's cost grows with the file (and, in
    /// files created with the old primary key, its index is rewritten), not only with the log, so DuckDB's default of 16MB made the writer stop for 0.3–2 s
    /// every few seconds under a street office's feed; 64MB measured a third more readings/s and a p99 batch write of
    /// 45 ms instead of 514 ms (<c>store-load</c>, benchmarks/README.md). Since new files have no primary key and a live
    /// batch is appended straight into the table, 32MB costs 2 % more CPU per reading than 64MB over three minutes of
    /// writes and its longest checkpoint is shorter (0.8 s against 1.5 s), while the rows DuckDB holds in memory until
    /// a checkpoint (<c>in_memory_table</c>) are halved: the service's peak resident memory at 20,000 msg/s fell by
    /// 60–80 MB. The price: up to that much log replayed after a crash (a few seconds at start). Blank: DuckDB's default.
    /// </summary>
    public string? CheckpointThreshold { get; set; } = DefaultCheckpointThreshold;

    public const string DefaultMemoryLimit = "128MB";
    public const int DefaultThreads = 1;
    public const string DefaultCheckpointThreshold = "32MB";
    public string? Url { get; set; }
    public string? Database { get; set; }
    public string? Bucket { get; set; }
    public string? Token { get; set; }
    public string? Org { get; set; }
    public string? Username { get; set; }
    public string? Password { get; set; }
    public string? RetentionPolicy { get; set; }
    public string Precision { get; set; } = "ms";

    /// <summary>The DuckDB store's options; call only after validation.</summary>
    internal DuckDbStoreOptions ToDuckDbOptions(string? exportDirectory = null) =>
        new(System.IO.Path.GetFullPath(Path), exportDirectory)
        {
            MemoryLimit = NullIfBlank(MemoryLimit),
            Threads = Threads is > 0 ? Threads : null,
            CheckpointThreshold = NullIfBlank(CheckpointThreshold),
        };

    internal bool IsInfluxDb => string.Equals(Kind?.Trim(), InfluxDbKind, StringComparison.OrdinalIgnoreCase);

    /// <summary>The InfluxDB store's options; call only after validation.</summary>
    internal InfluxDbStoreOptions ToInfluxDbOptions() => new(new Uri(Url!, UriKind.Absolute))
    {
        Database = NullIfBlank(Database),
        Bucket = NullIfBlank(Bucket),
        Org = NullIfBlank(Org),
        Token = NullIfBlank(Token),
        Username = NullIfBlank(Username),
        Password = Password,
        RetentionPolicy = NullIfBlank(RetentionPolicy),
        Precision = string.Equals(Precision?.Trim(), "ns", StringComparison.OrdinalIgnoreCase)
            ? InfluxPrecision.Nanoseconds
            : InfluxPrecision.Milliseconds,
    };

    private static string? NullIfBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}

/// <summary>Checked at start (<c>ValidateOnStart</c>) so a wrong store fails the host before ingest accepts a message.</summary>
internal sealed class StoreOptionsValidator : IValidateOptions<StoreOptions>
{
    public ValidateOptionsResult Validate(string? name, StoreOptions options)
    {
        var kind = options.Kind?.Trim();
        if (string.Equals(kind, StoreOptions.DuckDbKind, StringComparison.OrdinalIgnoreCase))
        {
            var failures = new List<string>();
            if (string.IsNullOrWhiteSpace(options.Path))
            {
                failures.Add("Store:Path must name the DuckDB file (default 'data/sensing.duckdb').");
            }
            if (!string.IsNullOrWhiteSpace(options.MemoryLimit) && !IsMemorySize(options.MemoryLimit))
            {
                failures.Add($"Store:MemoryLimit must be a size such as '256MB' or '1GB' (DuckDB's memory_limit), not '{options.MemoryLimit}'.");
            }
            if (!string.IsNullOrWhiteSpace(options.CheckpointThreshold) && !IsMemorySize(options.CheckpointThreshold))
            {
                failures.Add($"Store:CheckpointThreshold must be a size such as '64MB' (DuckDB's checkpoint_threshold), not '{options.CheckpointThreshold}'.");
            }
            if (options.Threads is < 0 or > 256)
            {
                failures.Add($"Store:Threads must be between 1 and 256 (0 or blank: one per core), not {options.Threads}.");
            }
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }

        if (string.Equals(kind, StoreOptions.InfluxDbKind, StringComparison.OrdinalIgnoreCase))
        {
            return ValidateInfluxDb(options);
        }

        return ValidateOptionsResult.Fail($"Store:Kind must be 'duckdb' or 'influxdb', not '{options.Kind}'.");
    }

    // DuckDB's size syntax: a number and a unit (bytes, KB/MB/GB/TB in powers of 1000, KiB/MiB/GiB/TiB in powers of 1024).
    private static readonly System.Text.RegularExpressions.Regex s_memorySize = new(
        @"^\s*\d+(\.\d+)?\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib)\s*$",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    private static bool IsMemorySize(string text) => s_memorySize.IsMatch(text);

    private static ValidateOptionsResult ValidateInfluxDb(StoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Url)
            || !Uri.TryCreate(options.Url.Trim(), UriKind.Absolute, out var url)
            || url.Scheme is not ("http" or "https"))
        {
            failures.Add($"Store:Url must be the InfluxDB server's absolute http(s) address (e.g. 'http://127.0.0.1:8086'), not '{options.Url}'.");
        }

        var hasToken = !string.IsNullOrWhiteSpace(options.Token);
        var hasBucket = !string.IsNullOrWhiteSpace(options.Bucket);
        if (hasBucket && !hasToken)
        {
            failures.Add("Store:Bucket is written through /api/v2/write, which needs Store:Token; set Store:Token, or use Store:Database for InfluxDB 1.x.");
        }
        else if (!(hasToken && hasBucket) && string.IsNullOrWhiteSpace(options.Database))
        {
            failures.Add("Store:Database is required for InfluxDB 1.x (or set Store:Token and Store:Bucket for InfluxDB 2.x/3.x).");
        }

        if (options.Precision?.Trim().ToLowerInvariant() is not ("ms" or "ns"))
        {
            failures.Add($"Store:Precision must be 'ms' or 'ns', not '{options.Precision}'.");
        }

        if (string.IsNullOrWhiteSpace(options.Username) && !string.IsNullOrEmpty(options.Password))
        {
            failures.Add("Store:Password is set without Store:Username.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
