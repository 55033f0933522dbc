namespace Sensing.Storage;

/// <summary>Where the embedded DuckDB store keeps its file and writes its exports.</summary>
/// <param name="Path">The database file. A relative path is taken relative to the current directory; its folder is created on open.</param>
/// <param name="ExportDirectory">
/// The only folder <see cref="DuckDbReadingStore.ExportAsync"/> writes Parquet files into. Null means an <c>exports</c>
/// folder beside the database file (<c>data/exports</c> with the default <c>Store:Path</c>).
/// </param>
/// <param name="MemoryLimit">
/// DuckDB's <c>memory_limit</c> for this database (e.g. <c>512MB</c>, <c>2GB</c>), or null for DuckDB's own default, 80 % of
/// the machine's RAM. DuckDB keeps table and index blocks it has touched in its buffer pool up to that limit, so without
/// one a long-running service's resident memory grows with the data it writes (see the soak in benchmarks/README.md).
/// </param>
public sealed record DuckDbStoreOptions(string Path, string? ExportDirectory = null, string? MemoryLimit = null)
{
    /// <summary>A size DuckDB understands: a number and a unit (<c>KB MB GB TB</c>, or <c>KiB MiB GiB TiB</c>).</summary>
    internal static bool IsMemoryLimit(string text) =>
        System.Text.RegularExpressions.Regex.IsMatch(text, @"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
}
