namespace Sensing.Storage.Influx;

/// <summary>Timestamp precision of written points (and of the numeric times queries ask for).</summary>
public enum InfluxPrecision
{
    /// <summary>Milliseconds: the wire format's own resolution, and smaller line protocol that compresses better.</summary>
    Milliseconds,
    /// <summary>Nanoseconds: keeps every tick of a reading's time (sub-microsecond ticks included).</summary>
    Nanoseconds,
}

/// <summary>Where an InfluxDB server is and how to talk to it; built from the <c>Store</c> section.</summary>
/// <param name="Url">The server's base address (<c>http://127.0.0.1:8086</c>).</param>
public sealed record InfluxDbStoreOptions(Uri Url)
{
    /// <summary>The 1.x database (<c>/write?db=</c>, <c>/query?db=</c>); on 2.x the database name of a DBRP mapping.</summary>
    public string? Database { get; init; }

    /// <summary>The 2.x/3.x bucket written through <c>/api/v2/write</c>; used with <see cref="Token"/>.</summary>
    public string? Bucket { get; init; }

    /// <summary>The 2.x organisation (3.x ignores it).</summary>
    public string? Org { get; init; }

    /// <summary>An API token, sent as <c>Authorization: Token …</c> on every request.</summary>
    public string? Token { get; init; }

    /// <summary>1.x user name and password, sent as HTTP Basic credentials (never in the query string, which gets logged).</summary>
    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>The 1.x retention policy to write to and read from (<c>rp=</c>); null for the database's default.</summary>
    public string? RetentionPolicy { get; init; }

    public InfluxPrecision Precision { get; init; } = InfluxPrecision.Milliseconds;

    /// <summary>Write bodies larger than this are sent gzip-compressed (<c>Content-Encoding: gzip</c>).</summary>
    public int GzipThresholdBytes { get; init; } = 64 * 1024;

    /// <summary>True when writes go through the v2 API: a token and a bucket are both configured.</summary>
    public bool UsesV2Writes => !string.IsNullOrEmpty(Token) && !string.IsNullOrEmpty(Bucket);

    /// <summary>The database InfluxQL queries name: the 1.x database, or on 2.x/3.x the bucket when no database is given.</summary>
    public string QueryDatabase => !string.IsNullOrEmpty(Database) ? Database : Bucket ?? string.Empty;
}
