namespace Sensing.Simulators;

/// <summary>One native-format MQTT message: <c>sensing/{community}/{kind}/{device}</c> and its UTF-8 JSON payload.</summary>
/// <param name="Time">The event time written into the payload's <c>ts</c>.</param>
public sealed record FeedMessage(string Topic, ReadOnlyMemory<byte> Payload, DateTimeOffset Time);

/// <summary>
/// Ground truth of the incident planted on a fresh start: an elderly person living alone whose water and
/// electricity both fall to <see cref="ResidualFraction"/> of usual from <see cref="Onset"/> on, backfill
/// and live alike. The expected alert is <c>living_alone_drop</c> for <see cref="Household"/>.
/// </summary>
public sealed record PlantedIncident(
    string Community,
    string Grid,
    string Household,
    string WaterMeter,
    string ElectricityMeter,
    DateTimeOffset Onset,
    double ResidualFraction);
