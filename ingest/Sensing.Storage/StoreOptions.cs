using Microsoft.Extensions.Options;

namespace Sensing.Storage;

/// <summary>
/// The <c>Store</c> configuration section: which time-series store to use and where it lives.
/// <code>
/// "Store": {
///   "Kind": "duckdb",                 // duckdb (default) | influxdb
///   "Path": "data/sensing.duckdb",    // DuckDB file, relative to the current directory
///   "Url": "http://localhost:8181",   // InfluxDB only
///   "Database": "sensing",            // InfluxDB 3 database (or "Bucket" for InfluxDB 2)
///   "Bucket": null,
///   "Token": null
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
    public string? Url { get; set; }
    public string? Database { get; set; }
    public string? Bucket { get; set; }
    public string? Token { get; set; }
}

/// <summary>Checked at start (<c>ValidateOnStart</c>) so a wrong store fails the host before ingest accepts a message.</summary>
internal sealed class StoreOptionsValidator : IValidateOptions<StoreOptions>
{
    public ValidateOptionsResult Validate(string? name, StoreOptions options)
    {
        var kind = options.Kind?.Trim();
        if (string.Equals(kind, StoreOptions.DuckDbKind, StringComparison.OrdinalIgnoreCase))
        {
            return string.IsNullOrWhiteSpace(options.Path)
                ? ValidateOptionsResult.Fail("Store:Path must name the DuckDB file (default 'data/sensing.duckdb').")
                : ValidateOptionsResult.Success;
        }

        if (string.Equals(kind, StoreOptions.InfluxDbKind, StringComparison.OrdinalIgnoreCase))
        {
            // Refuse rather than quietly fall back to DuckDB: an operator who asked for InfluxDB must not
            // find weeks later that readings went to a local file instead.
            return ValidateOptionsResult.Fail(
                "Store:Kind 'influxdb' is not available in this build yet; use Store:Kind=duckdb (the default).");
        }

        return ValidateOptionsResult.Fail($"Store:Kind must be 'duckdb' or 'influxdb', not '{options.Kind}'.");
    }
}
