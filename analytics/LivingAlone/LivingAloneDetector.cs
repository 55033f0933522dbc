using System.Globalization;
using Sensing.Telemetry;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// Raises <c>living_alone_drop</c> when a household's water AND electricity both stay far below what the
/// <see cref="ExpectedConsumptionModel"/> expects of it, over the last <see cref="LivingAloneOptions.WindowHours"/>
/// complete hours: someone who lives alone and is suddenly using neither may have fallen or fallen ill.
/// One alert per episode; the detector remembers open episodes between evaluations, so it is meant to be
/// called once per complete hour (calling it less often only coarsens when an episode ends). Not thread-safe.
/// </summary>
public sealed class LivingAloneDetector
{
    private readonly LivingAloneOptions _options;
    private readonly TimeZoneInfo _zone;
    // Household → onset of the drop episode already alerted on.
    private readonly Dictionary<string, DateTimeOffset> _openEpisodes = new(StringComparer.Ordinal);

    public LivingAloneDetector(LivingAloneOptions options, TimeZoneInfo zone)
    {
        _options = options;
        _zone = zone;
    }

    /// <summary>
    /// Judges each household over the window that ends at <paramref name="windowEnd"/> (exclusive, on the hour)
    /// and returns the alerts of episodes that begin now. <paramref name="isAway"/> answers
    /// <see cref="IDeviceRegistry.IsAway"/>: a household away at the window's end is not judged.
    /// </summary>
    public IReadOnlyList<Alert> Evaluate(
        ExpectedConsumptionModel model,
        IEnumerable<HouseholdUsage> households,
        DateTimeOffset windowEnd,
        Func<string, DateTimeOffset, bool> isAway)
    {
        // Alert times are UTC like every stored time, whatever offset the caller's clock arithmetic carried.
        windowEnd = windowEnd.ToUniversalTime();
        var hours = _options.WindowHours;
        var windowStart = windowEnd.AddHours(-hours);
        var alerts = new List<Alert>();
        foreach (var usage in households)
        {
            var household = usage.Household;
            if (isAway(household.Id, windowEnd) || isAway(household.Id, windowStart))
            {
                // Away ends any episode: coming back and then going quiet is a new one.
                _openEpisodes.Remove(household.Id);
                continue;
            }

            var water = Observed(usage.Water, windowStart, hours);
            var electricity = Observed(usage.Electricity, windowStart, hours);
            if (water is null || electricity is null) continue;
            var expected = model.Expect(usage, windowStart, hours);
            if (expected is null) continue;

            var ratio = household.ElderlyLivingAlone ? _options.ElderlyDropRatio : _options.DropRatio;
            var minLowHours = household.ElderlyLivingAlone ? _options.ElderlyMinLowHours : _options.MinLowHours;
            var expectedWater = expected.Water.Sum();
            var expectedElectricity = expected.Electricity.Sum();
            var observedWater = water.Sum();
            var observedElectricity = electricity.Sum();
            var lowHours = TrailingLowHours(water, expected.Water, electricity, expected.Electricity, ratio);

            var dropped =
                expectedWater >= _options.MinExpectedWater && expectedElectricity >= _options.MinExpectedElectricity
                && observedWater < ratio * expectedWater && observedElectricity < ratio * expectedElectricity
                && lowHours >= minLowHours;
            if (!dropped)
            {
                _openEpisodes.Remove(household.Id);
                continue;
            }
            if (_openEpisodes.ContainsKey(household.Id)) continue;

            // The onset is the first hour of the low run, not the hour we became sure.
            var onset = windowEnd.AddHours(-lowHours);
            _openEpisodes[household.Id] = onset;

            var waterShare = observedWater / expectedWater;
            var electricityShare = observedElectricity / expectedElectricity;
            var depth = 1 - Math.Max(waterShare, electricityShare);
            // Near-total silence of both meters for the whole window is the picture of a fall; elderly living alone get it sooner.
            var severity = depth >= 0.9 && (lowHours >= hours || household.ElderlyLivingAlone)
                ? AlertSeverity.Critical
                : AlertSeverity.Warning;

            var points = new List<EvidencePoint>(2 * hours);
            for (var i = 0; i < hours; i++)
            {
                var hour = windowStart.AddHours(i);
                points.Add(new EvidencePoint(hour, Metrics.WaterConsumption, Round(expected.Water[i]), Round(water[i])));
                points.Add(new EvidencePoint(hour, Metrics.ElectricityConsumption, Round(expected.Electricity[i]), Round(electricity[i])));
            }
            var summary = string.Format(
                CultureInfo.InvariantCulture,
                "Water {0:0.###} m³ of {1:0.###} expected ({2:0%}) and electricity {3:0.##} kWh of {4:0.##} expected ({5:0%}) over the last {6} h; low since {7:HH:mm} ({8} h).",
                observedWater, expectedWater, waterShare, observedElectricity, expectedElectricity, electricityShare,
                hours, LocalClock.Local(onset, _zone), lowHours);

            alerts.Add(new Alert
            {
                Id = Alert.MakeId(AlertKinds.LivingAloneDrop, household.Id, onset),
                Kind = AlertKinds.LivingAloneDrop,
                Severity = severity,
                Community = household.Community,
                Grid = household.Grid,
                Household = household.Id,
                StartedAt = onset,
                RaisedAt = windowEnd,
                Evidence = new AlertEvidence(summary, points),
            });
        }
        return alerts;
    }

    /// <summary>
    /// Consumption per hour of the window. A meter may skip an hour, so an hour without a bucket counts as
    /// zero, but only before the meter's reading in the window's last hour: without that reading the meter
    /// may be silent (a dead gateway takes both meters of a flat at once), which is device_silent's matter,
    /// not a sign of how the household is doing. Null when the window cannot be judged.
    /// </summary>
    private static double[]? Observed(IReadOnlyDictionary<DateTimeOffset, double> series, DateTimeOffset windowStart, int hours)
    {
        if (!series.ContainsKey(windowStart.AddHours(hours - 1))) return null;
        var observed = new double[hours];
        for (var i = 0; i < hours; i++)
            observed[i] = series.TryGetValue(windowStart.AddHours(i), out var value) ? value : 0;
        return observed;
    }

    /// <summary>Hours at the end of the window in which both meters are below the ratio of their expectation.</summary>
    private static int TrailingLowHours(double[] water, IReadOnlyList<double> expectedWater, double[] electricity, IReadOnlyList<double> expectedElectricity, double ratio)
    {
        var run = 0;
        for (var i = water.Length - 1; i >= 0; i--)
        {
            if (water[i] > ratio * expectedWater[i] || electricity[i] > ratio * expectedElectricity[i]) break;
            run++;
        }
        return run;
    }

    private static double Round(double value) => Math.Round(value, 4);
}
