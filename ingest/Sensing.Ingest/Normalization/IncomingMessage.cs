namespace Sensing.Ingest.Normalization;

/// <summary>One MQTT message as ingest received it, before normalization.</summary>
/// <param name="Topic">The topic it was published on.</param>
/// <param name="Payload">The payload bytes (owned by the caller; valid only during the call that receives it).</param>
/// <param name="ReceivedAt">Broker receive time, used when the payload carries no timestamp.</param>
public readonly record struct IncomingMessage(string Topic, ReadOnlyMemory<byte> Payload, DateTimeOffset ReceivedAt);

/// <summary>
/// Turns the messages of one wire format into canonical readings. One instance is used by one pipeline
/// worker at a time, so implementations may keep scratch state without locking.
/// </summary>
public interface IPayloadNormalizer
{
    /// <summary>Short name of the format, recorded on dead letters (<c>native</c>, <c>frigate</c>…).</summary>
    string Format { get; }

    /// <summary>
    /// Appends the message's readings to <paramref name="readings"/> and returns null, or returns a specific
    /// reason and appends nothing. Never throws for bad input.
    /// </summary>
    string? Normalize(in IncomingMessage message, List<Reading> readings);
}
