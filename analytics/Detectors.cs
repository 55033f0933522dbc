using Sensing.Analytics.Windows;
using Sensing.Telemetry;

namespace Sensing.Analytics;

/// <summary>
/// A detector judged once per complete event-time hour, in order, from the store's window of that hour (see
/// <see cref="AnalyticsLoop"/>): what it judges does not depend on which process saw which message, nor on how fast or
/// in which batches the feed arrived. Examples: <c>living_alone_drop</c>; a night-flow <c>water_leak</c> would be one.
/// </summary>
public interface IHourlyDetector
{
    /// <summary>Metrics whose per-series hourly figures it needs; the loop reads the union of all detectors' once per hour.</summary>
    IReadOnlyCollection<string> Metrics { get; }

    /// <summary>Judges the hour; may read more of the store (history, a retraining) itself. Alerts carry event times.</summary>
    Task<IReadOnlyList<Alert>> JudgeAsync(HourWindow hour, CancellationToken cancellationToken);
}

/// <summary>
/// A detector that sees every reading this process stores, one at a time in the order ingest stored them, and is
/// checked against the event-time watermark after each batch. For what must be caught within seconds
/// (<c>device_silent</c>, <c>gate_forced</c>, <c>camera_event</c>, <c>parking_full</c>). Its alerts must come from the
/// readings themselves, never from when they were seen, so that a feed replayed at any speed and cut into any batches
/// raises the same alerts with the same ids and times. Not thread-safe: one reader calls it.
/// </summary>
public interface IReadingDetector
{
    /// <summary>Takes in one reading; returns the alerts it completes (almost always none, as an empty list).</summary>
    IReadOnlyList<Alert> Observe(in Reading reading);

    /// <summary>
    /// Alerts that became due by <paramref name="watermark"/> without a reading to say so (a device gone silent, a car
    /// that never leaves); their times come from the readings, never from when the check ran.
    /// </summary>
    IReadOnlyList<Alert> Check(DateTimeOffset watermark);
}
