using System.Buffers;
using System.Globalization;
using MQTTnet;
using MQTTnet.Protocol;

namespace Sensing.Simulators.Replay;

/// <summary>What <c>replay</c> does, parsed from its command line.</summary>
internal sealed record ReplaySettings(BrokerSettings Broker, string InputPath, ReplayOptions Options);

/// <summary>What a replay did.</summary>
internal sealed record ReplaySummary(long Published, TimeSpan Elapsed, TimeSpan RecordedSpan, RecordingEnd End, string? TruncationDetail)
{
    public double MessagesPerSecond => Elapsed > TimeSpan.Zero ? Published / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// <c>replay</c>: publishes a recording again in recorded order, at N× its recorded pace or as fast as the broker
/// takes it (<see cref="FeedReplayer"/>), optionally moving payload timestamps so the recording starts now.
/// </summary>
public static class ReplayCommand
{
    private const string Usage = $"""
        usage: simulators replay --in FILE [options]

        Publishes a recording made by `record` again, in recorded order.

          --in FILE           the recording to publish
          --speed N|max       N× the recorded pace (0.5, 1, 10, 3600…), or max: as fast as the broker
                              takes it, with a bounded window of publishes in flight (default 1)
          --rewrite-time      shift each payload's top-level "ts" (RFC 3339 keeping its offset, or epoch
                              ms) so the first recorded receive time maps to now; nothing else changes
          --qos 0|1           publish at this QoS instead of the recorded one
          --max-in-flight N   publishes in flight at once (default 256; never two of one topic)
        {BrokerSettings.Usage}

        Ctrl+C stops. Progress goes to stderr, the summary (with messages/s) to stdout.
        """;

    public static Task<int> RunAsync(string[] args) =>
        CommandShell.RunAsync<ReplaySettings>("replay", Usage, args, TryParse, async (settings, stop) =>
        {
            var summary = await ReplayAsync(settings, TimeProvider.System, Console.Error, stop);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replayed {summary.Published} messages from {settings.InputPath} to {settings.Broker} in {summary.Elapsed.TotalSeconds:F2} s: " +
                $"{summary.MessagesPerSecond:F0} messages/s (recorded span {summary.RecordedSpan:c}, speed {Speed(settings.Options)}, " +
                $"QoS {(settings.Options.Qos is { } q ? ((int)q).ToString(CultureInfo.InvariantCulture) : "as recorded")})"));
            if (summary.End == RecordingEnd.Truncated)
                await Console.Error.WriteLineAsync($"replay: warning: {summary.TruncationDetail}; every complete message before it was published");
            return 0;
        },
        stoppedMessage: "stopped (Ctrl+C)");

    internal static bool TryParse(string[] args, out ReplaySettings settings, out string? error)
    {
        settings = null!;
        var valued = new HashSet<string>(BrokerSettings.Options) { "--in", "--speed", "--qos", "--max-in-flight" };
        if (!CommandArguments.TryParse(args, valued, new HashSet<string> { "--rewrite-time" }, out var parsed, out error)
            || !BrokerSettings.TryCreate(parsed, "replay", out var broker, out error))
            return false;
        if (parsed.Value("--in") is not { Length: > 0 } input)
        {
            error = "--in FILE is required";
            return false;
        }
        double? speed = 1;
        if (parsed.Value("--speed") is { } speedText)
        {
            if (speedText is "max" or "MAX")
                speed = null;
            else if (double.TryParse(speedText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) && n > 0 && double.IsFinite(n))
                speed = n;
            else
            {
                error = $"--speed must be a positive number or max, not '{speedText}'";
                return false;
            }
        }
        MqttQualityOfServiceLevel? qos = null;
        if (parsed.Value("--qos") is { } qosText)
        {
            if (qosText is not ("0" or "1"))
            {
                error = $"--qos must be 0 or 1, not '{qosText}'";
                return false;
            }
            qos = qosText == "0" ? MqttQualityOfServiceLevel.AtMostOnce : MqttQualityOfServiceLevel.AtLeastOnce;
        }
        if (!parsed.TryInt("--max-in-flight", 256, 1, 65535, out var maxInFlight, out error))
            return false;
        settings = new ReplaySettings(broker, input, new ReplayOptions(speed, parsed.Has("--rewrite-time"), qos, maxInFlight));
        return true;
    }

    internal static async Task<ReplaySummary> ReplayAsync(ReplaySettings settings, TimeProvider time, TextWriter progress, CancellationToken cancellationToken)
    {
        var file = new FileStream(settings.InputPath, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using var reader = await RecordingReader.OpenAsync(file, leaveOpen: false, cancellationToken);
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(settings.Broker.ToClientOptions(), cancellationToken);

        var replayer = new FeedReplayer(async (message, ct) =>
        {
            var result = await client.PublishAsync(new MqttApplicationMessage
            {
                Topic = message.Topic,
                Payload = new ReadOnlySequence<byte>(message.Payload),
                QualityOfServiceLevel = message.Qos,
                Retain = message.Retain,
            }, ct);
            if (!result.IsSuccess)
                throw new InvalidOperationException($"the broker refused a publish to '{message.Topic}' ({result.ReasonCode} {result.ReasonString})");
        }, settings.Options, time);

        var lastReported = 0L;
        var lastTimestamp = time.GetTimestamp();
        // Progress once a second from a timer, so the publishing loop carries no clock reads of its own for it.
        using var ticker = time.CreateTimer(_ =>
        {
            var published = replayer.Published;
            var now = time.GetTimestamp();
            var rate = (published - lastReported) / time.GetElapsedTime(lastTimestamp, now).TotalSeconds;
            lastReported = published;
            lastTimestamp = now;
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replay: {published} messages published, {rate:F0}/s"));
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        var published = await replayer.RunAsync(reader, cancellationToken);
        var elapsed = replayer.FirstPublishTimestamp == 0 ? TimeSpan.Zero : time.GetElapsedTime(replayer.FirstPublishTimestamp);
        await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None);
        return new ReplaySummary(published, elapsed, replayer.RecordedSpan, reader.End, reader.TruncationDetail);
    }

    private static string Speed(ReplayOptions options) =>
        options.Speed is { } n ? n.ToString("0.###", CultureInfo.InvariantCulture) + "×" : "max";
}
