namespace Sensing.Telemetry;

/// <summary>
/// A message ingest could not turn into readings, kept with the reason so nothing is silently dropped.
/// </summary>
/// <param name="Topic">The MQTT topic it arrived on.</param>
/// <param name="Payload">The raw bytes, capped at <see cref="MaxPayloadBytes"/>.</param>
/// <param name="PayloadBytes">The original payload size, which may exceed what was kept.</param>
/// <param name="ReceivedAt">Broker receive time (UTC).</param>
/// <param name="Reason">A specific, human-readable reason (<c>meter: field 'total' is missing</c>).</param>
/// <param name="Format">The normalizer that refused it (<c>native</c>, <c>frigate</c>…).</param>
public sealed record DeadLetter(string Topic, byte[] Payload, int PayloadBytes, DateTimeOffset ReceivedAt, string Reason, string Format)
{
    /// <summary>Dead letters keep at most this many payload bytes: enough to diagnose, not enough to fill a disk.</summary>
    public const int MaxPayloadBytes = 16 * 1024;
}
