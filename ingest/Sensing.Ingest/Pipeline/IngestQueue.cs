using System.Buffers;
using System.Threading.Channels;

namespace Sensing.Ingest.Pipeline;

/// <summary>
/// A message taken off the broker but not yet durably stored. It owns a pooled copy of the payload, and the
/// broker's acknowledgement waits until the store has the readings (<see cref="AcknowledgeAsync"/>).
/// </summary>
public class PendingMessage
{
    private readonly Func<CancellationToken, Task>? _acknowledge;
    private byte[]? _buffer;

    public PendingMessage(string topic, ReadOnlySpan<byte> payload, DateTimeOffset receivedAt, Func<CancellationToken, Task>? acknowledge)
    {
        Topic = topic;
        ReceivedAt = receivedAt;
        Length = payload.Length;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(_buffer);
        _acknowledge = acknowledge;
    }

    public string Topic { get; }
    public DateTimeOffset ReceivedAt { get; }
    public int Length { get; }
    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(0, Length);

    /// <summary>Tells the broker the message is safe (QoS 1 PUBACK); a no-op for QoS 0 or in-process sources.</summary>
    public Task AcknowledgeAsync(CancellationToken cancellationToken) =>
        _acknowledge?.Invoke(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Returns the payload buffer to the pool; the message's payload must not be used afterwards.</summary>
    public void ReleasePayload()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }
}

/// <summary>
/// The bounded hand-over between the MQTT client and the pipeline. Full mode is Wait on purpose: when the
/// store falls behind, intake stops taking messages, unacknowledged ones stay at the broker, and memory stays
/// bounded instead of growing with the backlog. Single reader (the pipeline), single writer (the MQTT client).
/// </summary>
public sealed class IngestQueue(int capacity)
{
    private readonly Channel<PendingMessage> _channel = Channel.CreateBounded<PendingMessage>(new BoundedChannelOptions(capacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
        SingleWriter = false,
    });

    public int Depth => _channel.Reader.Count;
    public ChannelReader<PendingMessage> Reader => _channel.Reader;
    public ValueTask EnqueueAsync(PendingMessage message, CancellationToken cancellationToken) => _channel.Writer.WriteAsync(message, cancellationToken);
}

/// <summary>A message over <see cref="IngestOptions.MaxPayloadBytes"/>: only its head is kept, for the dead letter.</summary>
internal sealed class OversizedMessage(string topic, ReadOnlySpan<byte> head, int originalLength, DateTimeOffset receivedAt, Func<CancellationToken, Task>? acknowledge)
    : PendingMessage(topic, head, receivedAt, acknowledge)
{
    public int OriginalLength { get; } = originalLength;
}
