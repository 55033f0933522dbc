namespace Sensing.Storage;

/// <summary>Where the embedded DuckDB store keeps its file.</summary>
/// <param name="Path">The database file. A relative path is taken relative to the current directory; its folder is created on open.</param>
public sealed record DuckDbStoreOptions(string Path);
