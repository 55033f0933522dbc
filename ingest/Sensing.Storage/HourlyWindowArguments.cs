using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>The argument checks every <see cref="IHourlyWindowStore"/> makes the same way.</summary>
internal static class HourlyWindowArguments
{
    /// <summary>False when the window holds nothing to read; throws when it does not start and end on whole UTC hours.</summary>
    public static bool HasWork(IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (metrics.Count == 0 || from >= to)
        {
            return false;
        }

        if (from.UtcTicks % TimeSpan.TicksPerHour != 0 || to.UtcTicks % TimeSpan.TicksPerHour != 0)
        {
            throw new ArgumentException($"An hourly window starts and ends on whole UTC hours, not {from:O} to {to:O}.", nameof(from));
        }

        return true;
    }
}
