using System.ComponentModel.DataAnnotations;

namespace Sensing.Ingest.Spool;

/// <summary>
/// Section <c>Spool</c>: where batches wait, on local disk, while the store is slow or down.
/// <code>"Spool": { "Enabled": true, "Directory": null, "MaxBytes": 1073741824, "SegmentBytes": 67108864, "StoreTimeoutMilliseconds": 2000, "SlowStoreBatches": 8 }</code>
/// </summary>
public sealed class SpoolOptions : IValidatableObject
{
    public const string Section = "Spool";

    /// <summary>Without the spool a store outage stops intake at once (messages wait at the broker).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The spool's folder; when not set, <c>spool/</c> beside the DuckDB file of <c>Store:Path</c> (default <c>data/spool</c>).</summary>
    public string? Directory { get; set; }

    /// <summary>
    /// The spool's ceiling. When it is reached, ingest stops acknowledging and the broker holds the rest:
    /// nothing is dropped, and the disk is not filled for other programs.
    /// </summary>
    [Range(1024 * 1024, long.MaxValue)] public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>Segment file size: a drained segment is deleted whole, so smaller segments free disk sooner.</summary>
    [Range(64 * 1024, 1L << 32)] public long SegmentBytes { get; set; } = 64L << 20;

    /// <summary>How long a direct store write may take before the batch goes to the spool instead (a slow store must not stall intake).</summary>
    [Range(50, 600_000)] public int StoreTimeoutMilliseconds { get; set; } = 2000;

    /// <summary>
    /// While the store is slow but still taking writes (the spool's drainer stored a batch within the last few
    /// seconds), the spool holds at most this many batches and further intake waits (the broker keeps the messages):
    /// under an overload, spooling without bound only adds the spool's own write and read to every batch and starves
    /// the drainer. A store that takes nothing (down, hung) is not slowed by this: the spool then takes batches up to
    /// <see cref="MaxBytes"/>.
    /// </summary>
    [Range(1, 100_000)] public int SlowStoreBatches { get; set; } = 8;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SegmentBytes > MaxBytes)
        {
            yield return new ValidationResult("Spool:SegmentBytes must not exceed Spool:MaxBytes.", [nameof(SegmentBytes)]);
        }
    }
}
