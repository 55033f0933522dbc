using System.Buffers;
using MQTTnet.Protocol;

namespace Sensing.Simulators.Replay;

/// <summary>How to replay: <see cref="Speed"/> is a multiple of recorded time, or null for as fast as the broker takes it.</summary>
internal sealed record ReplayOptions(double? Speed, bool RewriteTime = false, MqttQualityOfServiceLevel? Qos = null, int MaxInFlight = 256);

/// <summary>
/// Publishes a recording in recorded order. Paced (<see cref="ReplayOptions.Speed"/> = N), message i is due at
/// start + (received_i − received_0) / N on the <see cref="TimeProvider"/>'s monotonic clock, so waits never
/// accumulate error: a late message is published at once and the ones after it are still due on schedule.
/// Publishes overlap up to <see cref="ReplayOptions.MaxInFlight"/>, but never two of one topic: a client library may
/// put concurrent publishes on the wire in any order, and MQTT's ordering guarantee is per topic, so a topic's
/// next message waits for its previous one to complete (sent at QoS 0, acknowledged at QoS 1).
/// </summary>
internal sealed class FeedReplayer(
    Func<RecordedMessage, CancellationToken, Task> publish,
    ReplayOptions options,
    TimeProvider time)
{
    private long _published;

    /// <summary>Messages whose publish has completed; safe to read from another thread for progress.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>When the first message went out, on the <see cref="TimeProvider"/>'s timestamp clock (0 before that).</summary>
    public long FirstPublishTimestamp { get; private set; }

    /// <summary>Receive time of the latest message read minus the first's: how much recorded time was replayed.</summary>
    public TimeSpan RecordedSpan { get; private set; }

    /// <summary>Replays every message the reader yields; returns how many were published.</summary>
    public async Task<long> RunAsync(RecordingReader reader, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (options.Speed is <= 0 or double.NaN or double.PositiveInfinity)
            throw new ArgumentOutOfRangeException(nameof(options), options.Speed, "Speed must be a positive, finite multiple.");
        var inFlight = new Queue<InFlight>(options.MaxInFlight);
        var lastOfTopic = new Dictionary<string, Task>(StringComparer.Ordinal);
        var rewritten = new ArrayBufferWriter<byte>(1024);
        var startTimestamp = time.GetTimestamp();
        long? firstTicks = null;
        TimeSpan shift = default;
        try
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var message = reader.Current;
                if (firstTicks is null)
                {
                    firstTicks = message.ReceivedAt.UtcTicks;
                    // Whole milliseconds, so epoch-ms timestamps stay integral and RFC 3339 ones gain no odd digits.
                    shift = TimeSpan.FromMilliseconds(Math.Round((time.GetUtcNow() - message.ReceivedAt).TotalMilliseconds));
                    FirstPublishTimestamp = time.GetTimestamp();
                }
                RecordedSpan = TimeSpan.FromTicks(message.ReceivedAt.UtcTicks - firstTicks.Value);
                if (options.Speed is { } speed)
                {
                    var due = TimeSpan.FromTicks((long)((message.ReceivedAt.UtcTicks - firstTicks.Value) / speed));
                    var wait = due - time.GetElapsedTime(startTimestamp);
                    if (wait > TimeSpan.Zero)
                        await Task.Delay(wait, time, cancellationToken);
                }

                // The reader's buffer moves on at the next read, and the publish may outlive it: copy into a pooled array.
                var payload = message.Payload.Span;
                if (options.RewriteTime)
                {
                    rewritten.ResetWrittenCount();
                    if (TimestampShifter.TryShift(payload, shift, rewritten))
                        payload = rewritten.WrittenSpan;
                }
                var rented = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
                payload.CopyTo(rented);
                var outgoing = message with
                {
                    Payload = rented.AsMemory(0, payload.Length),
                    Qos = options.Qos ?? message.Qos,
                };

                if (lastOfTopic.TryGetValue(message.Topic, out var previous) && !previous.IsCompleted)
                    await previous;
                while (inFlight.Count >= options.MaxInFlight)
                    await Complete(inFlight.Dequeue());
                var task = publish(outgoing, cancellationToken);
                inFlight.Enqueue(new InFlight(task, rented));
                lastOfTopic[message.Topic] = task;
            }
            while (inFlight.Count > 0)
                await Complete(inFlight.Dequeue());
        }
        finally
        {
            // On failure or cancellation: let the remaining publishes finish before their buffers go back to the pool.
            foreach (var pending in inFlight)
            {
                try
                {
                    await pending.Task;
                }
                catch (Exception)
                {
                    // The first failure is already on its way out; these are its echoes.
                }
                ArrayPool<byte>.Shared.Return(pending.Payload);
            }
        }
        return Published;
    }

    private async Task Complete(InFlight pending)
    {
        try
        {
            await pending.Task;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pending.Payload);
        }
        Interlocked.Increment(ref _published);
    }

    private readonly record struct InFlight(Task Task, byte[] Payload);
}
