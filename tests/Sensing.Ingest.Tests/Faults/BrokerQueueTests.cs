using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Sensing.Ingest.Mqtt;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Faults;

/// <summary>
/// Issue 9, slow and absent subscribers at the embedded broker, with <c>Broker:MaxPendingMessagesPerClient</c> at 1,000:
/// a recorder whose session waits while it is away, and one that stays connected but stops reading its socket. Their
/// queues must stay within the bound, each overflow counted (<c>sensing_broker_queue_overflows_total</c>), what the
/// absent one gets on return must be what the overflow strategy keeps, and a subscriber that keeps up must get every
/// message meanwhile.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BrokerQueueTests(ITestOutputHelper output)
{
    private const int Bound = 1000;
    private const string Topic = "sensing/c1/gate/c1-gate-busy";

    [Theory]
    [InlineData(PendingOverflow.DropOldest)]
    [InlineData(PendingOverflow.DropNew)]
    public async Task An_absent_subscribers_queue_is_bounded_and_keeps_what_the_strategy_says(PendingOverflow overflow)
    {
        const int messages = 3000;
        var port = LoopbackPorts.Free();
        await using var broker = await StartAsync(port, overflow);
        var factory = new MqttClientFactory();
        var (fast, fastGot) = await SubscribeAsync(factory, port, "fast-subscriber");
        using var _ = fast;

        // The recorder subscribes on a persistent session and goes away: the broker queues for it.
        var absentGot = new ConcurrentQueue<int>();
        using var absent = factory.CreateMqttClient();
        absent.ApplicationMessageReceivedAsync += e =>
        {
            absentGot.Enqueue(Index(e));
            return Task.CompletedTask;
        };
        var absentOptions = Options(port, "absent-recorder").WithCleanStart(false).WithSessionExpiryInterval(3600).Build();
        await absent.ConnectAsync(absentOptions).Within();
        await absent.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("sensing/#", MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
        await absent.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(3600).Build()).Within();

        var watch = await PublishAsync(factory, port, messages, payloadBytes: 0);
        await TestTimeouts.Until(() => Task.FromResult(fastGot.Count == messages), "the fast subscriber to get every message");
        var pending = await broker.PendingMessagesAsync("absent-recorder").Within();
        // A message's overflow event is raised when it is queued for the absent session, which can come after the fast
        // subscriber has it (CI saw 1,999 of 2,000 counted once): wait for the count, which still fails the test if it
        // never gets there.
        await TestTimeouts.Until(() => Task.FromResult(broker.Dropped >= messages - Bound), $"{messages - Bound} overflow events to be counted");
        output.WriteLine($"{overflow}: published {messages} in {watch.ElapsedMilliseconds} ms; fast subscriber got {fastGot.Count}; absent recorder's queue {pending} (bound {Bound}); overflow events counted {broker.Dropped}");
        Assert.Equal(Bound, pending);
        var samples = new List<MetricSample>();
        broker.Collect(samples);
        Assert.Equal(broker.Dropped, Assert.Single(samples, s => s.Name == "sensing_broker_queue_overflows_total").Value);

        // Back, it gets what its queue kept: the newest with drop-oldest, the oldest with drop-new.
        await absent.ConnectAsync(absentOptions).Within();
        await TestTimeouts.Until(() => Task.FromResult(absentGot.Count >= Bound), "the recorder to get its queue");
        await Task.Delay(200);
        var got = absentGot.ToArray();
        output.WriteLine($"{overflow}: the recorder came back and got {got.Length} messages, {got.Min()}…{got.Max()}");
        Assert.Equal(Bound, got.Length);
        Assert.Equal(overflow == PendingOverflow.DropOldest ? Enumerable.Range(messages - Bound, Bound) : Enumerable.Range(0, Bound), got.Order());
    }

    [Fact]
    public async Task A_subscriber_that_stops_reading_is_bounded_and_does_not_hold_up_the_others()
    {
        // 4 KB payloads, so the stuck subscriber's socket buffers fill and the rest must wait in its queue.
        const int messages = 5000;
        var port = LoopbackPorts.Free();
        await using var broker = await StartAsync(port, PendingOverflow.DropOldest);
        var factory = new MqttClientFactory();
        var (fast, fastGot) = await SubscribeAsync(factory, port, "fast-subscriber");
        using var _ = fast;

        // A raw MQTT 3.1.1 client: CONNECT, SUBSCRIBE sensing/# at QoS 1, then it never reads its socket again.
        using var stuck = new TcpClient();
        await stuck.ConnectAsync("127.0.0.1", port).Within();
        var stream = stuck.GetStream();
        await stream.WriteAsync(Connect("stuck-recorder")).AsTask().Within();
        await stream.WriteAsync(Subscribe("sensing/#")).AsTask().Within();
        var ack = new byte[9];
        await stream.ReadExactlyAsync(ack).AsTask().Within();   // CONNACK (4 bytes) and SUBACK (5 bytes)
        Assert.Equal([0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x01, 0x01], ack);

        var watch = await PublishAsync(factory, port, messages, payloadBytes: 4096);
        await TestTimeouts.Until(() => Task.FromResult(fastGot.Count == messages), "the fast subscriber to get every message");
        var pending = await broker.PendingMessagesAsync("stuck-recorder").Within();
        output.WriteLine($"published {messages} × 4 KB in {watch.ElapsedMilliseconds} ms; fast subscriber got {fastGot.Count}; stuck subscriber's queue {pending} (bound {Bound}); overflow events counted {broker.Dropped}");
        Assert.InRange(pending, 1, Bound);
        Assert.True(broker.Dropped > 0, "the stuck subscriber's overflow was counted");
    }

    private static async Task<EmbeddedBroker> StartAsync(int port, PendingOverflow overflow)
    {
        var broker = TestBrokers.Create(new MqttOptions { Port = port },
            new BrokerOptions { AllowAnonymous = true, MaxPendingMessagesPerClient = Bound, PendingMessagesOverflow = overflow });
        await broker.StartAsync(CancellationToken.None).Within();
        Assert.Equal(Bound, broker.MaxPendingMessagesPerClient);
        return broker;
    }

    private static async Task<(IMqttClient Client, ConcurrentDictionary<int, bool> Got)> SubscribeAsync(MqttClientFactory factory, int port, string clientId)
    {
        var client = factory.CreateMqttClient();
        var got = new ConcurrentDictionary<int, bool>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            got.TryAdd(Index(e), true);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(port, clientId).Build()).Within();
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("sensing/#", MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
        return (client, got);
    }

    private static async Task<Stopwatch> PublishAsync(MqttClientFactory factory, int port, int messages, int payloadBytes)
    {
        using var device = factory.CreateMqttClient();
        await device.ConnectAsync(Options(port, "c1-gate-busy").Build()).Within();
        var padding = new string(' ', payloadBytes);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < messages; i++)
        {
            var result = await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topic)
                .WithPayload(i.ToString(CultureInfo.InvariantCulture) + padding).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
            Assert.True(result.IsSuccess, result.ReasonString);
        }
        watch.Stop();
        await device.DisconnectAsync().Within();
        return watch;
    }

    private static MqttClientOptionsBuilder Options(int port, string clientId) =>
        new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId).WithProtocolVersion(MqttProtocolVersion.V500);

    private static int Index(MqttApplicationMessageReceivedEventArgs e) =>
        int.Parse(e.ApplicationMessage.ConvertPayloadToString().TrimEnd(), CultureInfo.InvariantCulture);

    /// <summary>MQTT 3.1.1 CONNECT, clean session, keep-alive off (§3.1).</summary>
    private static byte[] Connect(string clientId)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        byte[] variable = [0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x00, 0x00, (byte)id.Length, .. id];
        return [0x10, (byte)variable.Length, .. variable];
    }

    /// <summary>MQTT 3.1.1 SUBSCRIBE, packet id 1, one filter at QoS 1 (§3.8).</summary>
    private static byte[] Subscribe(string filter)
    {
        var f = Encoding.UTF8.GetBytes(filter);
        byte[] body = [0x00, 0x01, 0x00, (byte)f.Length, .. f, 0x01];
        return [0x82, (byte)body.Length, .. body];
    }
}
