namespace Sensing.Storage;

/// <summary>Where the embedded DuckDB store keeps its file and writes its exports, and how much of the machine it may use.</summary>
/// <param name="Path">The database file. A relative path is taken relative to the current directory; its folder is created on open.</param>
/// <param name="ExportDirectory">
/// The only folder <see cref="DuckDbReadingStore.ExportAsync"/> writes Parquet files into. Null means an <c>exports</c>
/// folder beside the database file (<c>data/exports</c> with the default <c>Store:Path</c>).
/// </param>
public sealed record DuckDbStoreOptions(string Path, string? ExportDirectory = null)
{
    /// <summary>
    /// DuckDB's <c>memory_limit</c> (<c>"128MB"</c> by default, <c>"1GB"</c>…): the cap of its buffer pool (cached blocks, the
    /// write's hash tables and sorts; in files created with the old primary key, its index). Null leaves DuckDB's own default, 80 % of the machine's
    /// RAM, which a service sharing a small box must not take.
    /// </summary>
    public string? MemoryLimit { get; init; }

    /// <summary>DuckDB's worker threads (<c>threads</c>); null leaves DuckDB's default, one per core.</summary>
    public int? Threads { get; init; }

    /// <summary>DuckDB's <c>checkpoint_threshold</c> (<c>"32MB"</c> by default): the write-ahead log's size that triggers a checkpoint; null leaves DuckDB's default (16MB).</summary>
    public string? CheckpointThreshold { get; init; }
}
