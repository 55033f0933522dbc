using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// A detector fed every stored reading, one at a time, in the order ingest stored them. Everything it decides comes
/// from event time (the readings' own times and the watermark), so a feed replayed at any speed and cut into any
/// batches raises the same alerts with the same ids and times. Not thread-safe: one reader calls it.
/// </summary>
public interface IStreamDetector
{
    /// <summary>Takes in one reading; returns the alerts it completes (almost always none, as an empty list).</summary>
    IReadOnlyList<Alert> Observe(in Reading reading);

    /// <summary>
    /// Alerts that became due by <paramref name="watermark"/> without a reading to say so (a car that never leaves);
    /// call it after each batch. Their times come from the readings, never from when the check ran.
    /// </summary>
    IReadOnlyList<Alert> Check(DateTimeOffset watermark);
}
