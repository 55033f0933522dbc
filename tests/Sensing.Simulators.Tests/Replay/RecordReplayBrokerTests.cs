using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Sensing.Simulators.Replay;

namespace Sensing.Simulators.Tests.Replay;

[Trait("Category", "Integration")]
public sealed class RecordReplayBrokerTests : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly int _port = FreePort();
    private readonly string _directory = Directory.CreateTempSubdirectory("sensing-replay-").FullName;
    private MqttServer _broker = null!;

    public async Task InitializeAsync()
    {
        _broker = new MqttServerFactory().CreateMqttServer(
            new MqttServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointPort(_port).Build());
        await _broker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _broker.StopAsync();
        _broker.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_recorded_feed_replayed_at_max_speed_reaches_a_subscriber_byte_identical_and_in_order_per_topic()
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        var feed = Feed(900);
        var path = Path.Combine(_directory, "feed.rec");

        // Record: the recorder is subscribed before the first message is published.
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new RecordSettings(Broker("test-recorder"), ["sensing/#"], path, Duration: null, MaxMessages: feed.Count);
        var recording = RecordCommand.RecordAsync(settings, TimeProvider.System, TextWriter.Null, subscribed.SetResult, timeout.Token);
        await subscribed.Task.WaitAsync(timeout.Token);
        using (var publisher = await Connect("test-device-feed", timeout.Token))
        {
            foreach (var (topic, payload) in feed)
                await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token);
        }
        var summary = await recording.WaitAsync(timeout.Token);
        Assert.Equal(feed.Count, summary.Messages);
        Assert.Equal("--max-messages", summary.StoppedBy);

        // The file holds exactly the feed, in publish order.
        var recorded = await RecordingFormatTests.ReadAll(File.OpenRead(path));
        Assert.Equal(RecordingEnd.Complete, recorded.End);
        Assert.Equal(feed.Select(f => f.Topic), recorded.Messages.Select(m => m.Topic));
        Assert.All(recorded.Messages.Zip(feed), p => Assert.Equal(p.Second.Payload, p.First.Payload.ToArray()));

        // Replay it, through the command line, to a fresh subscriber.
        var received = new ConcurrentQueue<(string Topic, byte[] Payload)>();
        using var subscriber = await Connect("test-subscriber", timeout.Token);
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue((e.ApplicationMessage.Topic, e.ApplicationMessage.Payload.ToArray()));
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("sensing/#", MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token);

        var exit = await ReplayCommand.RunAsync(["--in", path, "--host", "127.0.0.1", "--port", _port.ToString(CultureInfo.InvariantCulture), "--speed", "max", "--qos", "1", "--client-id", "test-replay"]);
        Assert.Equal(0, exit);

        while (received.Count < feed.Count)
            await Task.Delay(20, timeout.Token);
        await Task.Delay(200, timeout.Token);
        Assert.Equal(feed.Count, received.Count);
        foreach (var topic in feed.Select(f => f.Topic).Distinct())
        {
            var sent = feed.Where(f => f.Topic == topic).Select(f => f.Payload).ToList();
            var got = received.Where(r => r.Topic == topic).Select(r => r.Payload).ToList();
            Assert.Equal(sent.Count, got.Count);
            for (var i = 0; i < sent.Count; i++)
                Assert.True(sent[i].AsSpan().SequenceEqual(got[i]), $"{topic} message {i} differs");
        }
    }

    [Fact]
    public async Task Record_stops_on_its_duration_and_the_file_is_complete()
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        var path = Path.Combine(_directory, "quiet.rec");
        var summary = await RecordCommand.RecordAsync(
            new RecordSettings(Broker("test-quiet-recorder"), ["#"], path, TimeSpan.FromMilliseconds(500), MaxMessages: null),
            TimeProvider.System, TextWriter.Null, onSubscribed: null, timeout.Token).WaitAsync(timeout.Token);

        Assert.Equal("--duration", summary.StoppedBy);
        Assert.Equal(0, summary.Messages);
        var recorded = await RecordingFormatTests.ReadAll(File.OpenRead(path));
        Assert.Equal(RecordingEnd.Complete, recorded.End);
    }

    [Fact]
    public async Task The_commands_answer_help_and_refuse_unknown_options()
    {
        Assert.Equal(0, await RecordCommand.RunAsync(["--help"]));
        Assert.Equal(0, await ReplayCommand.RunAsync(["replay", "--help"]));
        Assert.Equal(2, await RecordCommand.RunAsync(["--out", "x.rec", "--topcs", "sensing/#"]));
        Assert.Equal(2, await ReplayCommand.RunAsync(["--in", "x.rec", "--speed", "fast"]));
        Assert.Equal(2, await ReplayCommand.RunAsync(["--speed", "max"]));
    }

    /// <summary>Native payloads, a malformed one, binary and empty ones, over a dozen topics.</summary>
    private static List<(string Topic, byte[] Payload)> Feed(int count)
    {
        var random = new Random(5);
        var feed = new List<(string, byte[])>(count);
        for (var i = 0; i < count; i++)
        {
            var topic = $"sensing/c{i % 2 + 1}/meter/wm-{i % 12:000}";
            byte[] payload = (i % 50) switch
            {
                0 => [],
                1 => [0x00, 0xFF, 0x7B, (byte)i, 0x22],
                2 => """{"type":"water","total":"lots"}"""u8.ToArray(),
                _ => Encoding.UTF8.GetBytes($$"""{"ts":{{1763593200000 + i * 60_000L}},"type":"water","total":{{random.Next(100_000) / 1000.0}},"household":"h-{{i % 12:0000}}"}"""),
            };
            feed.Add((topic, payload));
        }
        return feed;
    }

    private BrokerSettings Broker(string clientId) => new("127.0.0.1", _port, clientId, null, null);

    private async Task<IMqttClient> Connect(string clientId, CancellationToken cancellationToken)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithClientId(clientId).WithCleanSession().Build(), cancellationToken);
        return client;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
