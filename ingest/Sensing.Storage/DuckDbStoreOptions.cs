namespace Sensing.Storage;

/// <summary>Where the embedded DuckDB store keeps its file and writes its exports.</summary>
/// <param name="Path">The database file. A relative path is taken relative to the current directory; its folder is created on open.</param>
/// <param name="ExportDirectory">
/// The only folder <see cref="DuckDbReadingStore.ExportAsync"/> writes Parquet files into. Null means an <c>exports</c>
/// folder beside the database file (<c>data/exports</c> with the default <c>Store:Path</c>).
/// </param>
public sealed record DuckDbStoreOptions(string Path, string? ExportDirectory = null);
