using System.Buffers;
using System.Globalization;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Protocol;

namespace Sensing.Simulators.Replay;

/// <summary>What <c>record</c> does, parsed from its command line.</summary>
internal sealed record RecordSettings(BrokerSettings Broker, IReadOnlyList<string> Topics, string OutputPath, TimeSpan? Duration, long? MaxMessages);

/// <summary>What a recording holds when <c>record</c> stops.</summary>
internal sealed record RecordSummary(long Messages, long PayloadBytes, long UncompressedBytes, long FileBytes, TimeSpan Span, string StoppedBy);

/// <summary>
/// <c>record</c>: subscribes to a broker (QoS 1) and streams every message, with its receive time, into a recording
/// (<see cref="RecordingFormat"/>), flushed every second so a killed recorder loses at most the last second.
/// Stops on <c>--duration</c>, <c>--max-messages</c> or Ctrl+C, and then writes the end record.
/// </summary>
public static class RecordCommand
{
    private const string Usage = $"""
        usage: simulators record --out FILE [options]

        Records a broker's feed to FILE (Brotli-compressed, with receive times) until stopped.

          --out FILE          the recording to write (replaced if it exists)
          --topic FILTER      topic filter to subscribe to, repeatable (default #: everything but $SYS)
          --duration D        stop after D (90s, 10m, 2h, 1d)
          --max-messages N    stop after N messages
        {BrokerSettings.Usage}

        Ctrl+C stops cleanly. Progress goes to stderr, the summary to stdout.
        """;

    private static readonly TimeSpan s_flushEvery = TimeSpan.FromSeconds(1);

    public static Task<int> RunAsync(string[] args) =>
        CommandShell.RunAsync<RecordSettings>("record", Usage, args, TryParse, async (settings, stop) =>
        {
            var summary = await RecordAsync(settings, TimeProvider.System, Console.Error, onSubscribed: null, stop);
            var mb = 1024.0 * 1024.0;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"recorded {summary.Messages} messages to {settings.OutputPath} (stopped by {summary.StoppedBy}); span {summary.Span:c}; " +
                $"{summary.UncompressedBytes / mb:F2} MiB raw ({summary.PayloadBytes / mb:F2} MiB of payloads), " +
                $"{summary.FileBytes / mb:F2} MiB on disk ({(summary.UncompressedBytes == 0 ? 0 : 100.0 * summary.FileBytes / summary.UncompressedBytes):F1} %)"));
            return 0;
        },
        // Ctrl+C while connecting or subscribing: nothing was recorded and no file was made.
        stoppedMessage: "stopped (Ctrl+C) before recording began");

    internal static bool TryParse(string[] args, out RecordSettings settings, out string? error)
    {
        settings = null!;
        var valued = new HashSet<string>(BrokerSettings.Options) { "--out", "--topic", "--duration", "--max-messages" };
        if (!CommandArguments.TryParse(args, valued, new HashSet<string>(), out var parsed, out error)
            || !BrokerSettings.TryCreate(parsed, "record", out var broker, out error))
            return false;
        if (parsed.Value("--out") is not { Length: > 0 } output)
        {
            error = "--out FILE is required";
            return false;
        }
        TimeSpan? duration = null;
        if (parsed.Value("--duration") is { } durationText)
        {
            if (!CommandArguments.TryDuration(durationText, out var value))
            {
                error = $"--duration must look like 90s, 10m, 2h or 1d, not '{durationText}'";
                return false;
            }
            duration = value;
        }
        if (!parsed.TryInt("--max-messages", 0, 1, int.MaxValue, out var max, out error))
            return false;
        var topics = parsed.Values("--topic");
        settings = new RecordSettings(broker, topics.Count == 0 ? ["#"] : topics, output, duration, max == 0 ? null : max);
        return true;
    }

    /// <summary>Records until <paramref name="cancellationToken"/>, the duration or the message count; <paramref name="onSubscribed"/> runs once the subscription is in place.</summary>
    internal static async Task<RecordSummary> RecordAsync(RecordSettings settings, TimeProvider time, TextWriter progress, Action? onSubscribed, CancellationToken cancellationToken)
    {
        // Bounded: when the disk or the compressor falls behind, the client's receive loop waits (and the broker
        // holds QoS 1 messages) instead of this process growing without limit.
        var received = Channel.CreateBounded<Received>(new BoundedChannelOptions(8192)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var duration = settings.Duration is { } d ? new CancellationTokenSource(d, time) : new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, duration.Token);

        using var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += async e =>
        {
            var receivedAt = time.GetUtcNow();
            var message = e.ApplicationMessage;
            var length = checked((int)message.Payload.Length);
            var payload = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            message.Payload.CopyTo(payload);
            try
            {
                await received.Writer.WriteAsync(new Received(receivedAt, message.Topic, payload, length, message.QualityOfServiceLevel, message.Retain), stop.Token);
            }
            catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
            {
                // Stopping: this one arrived after the end.
                ArrayPool<byte>.Shared.Return(payload);
            }
        };

        await client.ConnectAsync(settings.Broker.ToClientOptions(), cancellationToken);
        var recordingStart = time.GetUtcNow();
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var topic in settings.Topics)
            subscribe.WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        var granted = await client.SubscribeAsync(subscribe.Build(), cancellationToken);
        if (granted.Items.FirstOrDefault(i => (int)i.ResultCode > 2) is { } refused)
            throw new InvalidOperationException($"the broker refused the subscription to '{refused.TopicFilter.Topic}' ({refused.ResultCode})");

        // The file is made once the broker has accepted the subscription, so a wrong host, port or filter leaves no
        // empty recording behind; what arrives meanwhile waits in the channel.
        await using var file = new FileStream(settings.OutputPath, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024, FileOptions.Asynchronous);
        var writer = await RecordingWriter.CreateAsync(file, recordingStart, leaveOpen: true, cancellationToken);
        onSubscribed?.Invoke();

        var payloadBytes = 0L;
        DateTimeOffset? first = null;
        var last = default(DateTimeOffset);
        var stoppedBy = "Ctrl+C";
        var started = time.GetTimestamp();
        var lastFlush = started;
        var lastCount = 0L;
        try
        {
            while (stoppedBy != "--max-messages")
            {
                while (received.Reader.TryRead(out var item))
                {
                    await Write(item);
                    if (writer.MessageCount >= settings.MaxMessages)
                    {
                        stoppedBy = "--max-messages";
                        break;
                    }
                }
                if (stoppedBy == "--max-messages")
                    break;
                var sinceFlush = time.GetElapsedTime(lastFlush);
                if (sinceFlush >= s_flushEvery)
                {
                    await writer.FlushAsync(cancellationToken);
                    var rate = (writer.MessageCount - lastCount) / sinceFlush.TotalSeconds;
                    await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"record: {writer.MessageCount} messages, {rate:F0}/s, {writer.UncompressedBytes / 1048576.0:F2} MiB raw, {file.Length / 1048576.0:F2} MiB written"));
                    lastFlush = time.GetTimestamp();
                    lastCount = writer.MessageCount;
                    continue;
                }
                try
                {
                    await received.Reader.WaitToReadAsync(stop.Token).AsTask().WaitAsync(s_flushEvery - sinceFlush, time, stop.Token);
                }
                catch (TimeoutException)
                {
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            stoppedBy = duration.IsCancellationRequested ? "--duration" : "Ctrl+C";
        }

        // No more deliveries, then keep what was already received (and acknowledged to the broker).
        received.Writer.TryComplete();
        if (client.IsConnected)
        {
            using var disconnectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            try
            {
                await client.DisconnectAsync(new MqttClientDisconnectOptions(), disconnectTimeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException)
            {
            }
        }
        while (received.Reader.TryRead(out var item))
        {
            if (writer.MessageCount < settings.MaxMessages || settings.MaxMessages is null)
                await Write(item);
            else
                ArrayPool<byte>.Shared.Return(item.Payload);
        }
        var messages = writer.MessageCount;
        var uncompressed = writer.UncompressedBytes;
        await writer.DisposeAsync();
        await file.FlushAsync(CancellationToken.None);
        return new RecordSummary(messages, payloadBytes, uncompressed, file.Length, first is { } f ? last - f : TimeSpan.Zero, stoppedBy);

        async ValueTask Write(Received item)
        {
            try
            {
                await writer.WriteAsync(new RecordedMessage(item.At, item.Topic, item.Payload.AsMemory(0, item.Length), item.Qos, item.Retain), CancellationToken.None);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(item.Payload);
            }
            payloadBytes += item.Length;
            first ??= item.At;
            last = item.At;
        }
    }

    private readonly record struct Received(DateTimeOffset At, string Topic, byte[] Payload, int Length, MqttQualityOfServiceLevel Qos, bool Retain);
}
