using Microsoft.Extensions.Options;
using Sensing.Storage.Influx;

namespace Sensing.Storage;

/// <summary>
/// The <c>Store</c> configuration section: which time-series store to use and where it lives.
/// <code>
/// "Store": {
///   "Kind": "duckdb",                   // duckdb (default) | influxdb
///   "Path": "data/sensing.duckdb",      // DuckDB file, relative to the current directory
///   "MemoryLimit": null,                // DuckDB's memory_limit, e.g. "1GB" (default: DuckDB's, 80 % of RAM)
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
    public string? MemoryLimit { get; set; }
    public string? Url { get; set; }
    public string? Database { get; set; }
    public string? Bucket { get; set; }
    public string? Token { get; set; }
    public string? Org { get; set; }
    public string? Username { get; set; }
    public string? Password { get; set; }
    public string? RetentionPolicy { get; set; }
    public string Precision { get; set; } = "ms";

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
            if (string.IsNullOrWhiteSpace(options.Path))
                return ValidateOptionsResult.Fail("Store:Path must name the DuckDB file (default 'data/sensing.duckdb').");
            return options.MemoryLimit is { } limit && !DuckDbStoreOptions.IsMemoryLimit(limit.Trim())
                ? ValidateOptionsResult.Fail($"Store:MemoryLimit must be a size such as '512MB' or '2GB', not '{limit}'.")
                : ValidateOptionsResult.Success;
        }

        if (string.Equals(kind, StoreOptions.InfluxDbKind, StringComparison.OrdinalIgnoreCase))
        {
            return ValidateInfluxDb(options);
        }

        return ValidateOptionsResult.Fail($"Store:Kind must be 'duckdb' or 'influxdb', not '{options.Kind}'.");
    }

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
