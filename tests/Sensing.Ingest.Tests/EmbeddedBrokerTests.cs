using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Sensing.Ingest.Mqtt;

namespace Sensing.Ingest.Tests;

/// <summary>The embedded broker accepts what common clients send, such as mosquitto_pub's empty client id.</summary>
[Trait("Category", "Integration")]
public sealed class EmbeddedBrokerTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_client_without_an_id_and_a_clean_session_gets_one_and_can_publish(MqttProtocolVersion version)
    {
        var port = LoopbackPorts.Free();
        await using var broker = TestBrokers.Create(new MqttOptions { Port = port });
        await broker.StartAsync(CancellationToken.None).Within();

        using var subscriber = new MqttClientFactory().CreateMqttClient();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("listener").Build()).Within();
        await subscriber.SubscribeAsync("sensing/#").Within();

        // What mosquitto_pub sends by default: MQTT 3.1.1, no client id, clean session.
        using var anonymous = new MqttClientFactory().CreateMqttClient();
        var result = await anonymous.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(version)
            .WithClientId("")
            .WithCleanSession(true)
            .Build()).Within();
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        await anonymous.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensing/c1/gate/g-1").WithPayload("hello")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
        Assert.Equal("hello", await received.Task.Within());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_raw_mqtt311_connect_without_an_id_is_accepted_only_with_a_clean_session(bool cleanSession)
    {
        var port = LoopbackPorts.Free();
        await using var broker = TestBrokers.Create(new MqttOptions { Port = port });
        await broker.StartAsync(CancellationToken.None).Within();

        // Raw MQTT 3.1.1 CONNECT, as mosquitto_pub sends it: protocol "MQTT" level 4, keep-alive 60 s, empty
        // client id; connect flags 0x02 asks for a clean session, 0x00 for a persistent one.
        byte[] connect = [0x10, 12, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, cleanSession ? (byte)0x02 : (byte)0x00, 0x00, 0x3C, 0x00, 0x00];
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port).Within();
        var stream = tcp.GetStream();
        await stream.WriteAsync(connect).AsTask().Within();
        var connAck = new byte[4];
        var read = 0;
        while (read < connAck.Length)
        {
            var n = await stream.ReadAsync(connAck.AsMemory(read)).AsTask().Within();
            if (n == 0) break;
            read += n;
        }
        if (cleanSession)
        {
            // CONNACK, return code 0: accepted, with an id the broker chose.
            Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);
        }
        else
        {
            // A persistent session needs a name the client will use again [MQTT-3.1.3-8]. MQTTnet's decoder drops such
            // a CONNECT before any hook runs (no CONNACK 0x02), so "refused" here means: never accepted.
            Assert.False(read == 4 && connAck[3] == 0x00, "a persistent session without a client id was accepted");
        }
    }

}

/// <summary>
/// While ingest restarts, the broker keeps what devices publish in ingest's persistent session. MQTTnet keeps 1,000
/// messages per client by default and drops the oldest beyond that: a restart during a burst would lose data. Ours
/// keeps far more, and a drop, should one still happen, is counted and logged.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EmbeddedBrokerSessionQueueTests
{
    [Theory]
    [InlineData(1_000, true)]       // MQTTnet's default: 3,000 messages during the restart overflow it
    [InlineData(250_000, false)]    // ours: all of them wait for ingest
    public async Task Messages_published_while_ingest_is_away_wait_for_it_or_their_drop_is_counted(int maxPending, bool expectDrops)
    {
        const int burst = 3000;
        var port = LoopbackPorts.Free();
        await using var broker = TestBrokers.Create(new MqttOptions { Port = port, MaxPendingMessagesPerClient = maxPending });
        await broker.StartAsync(CancellationToken.None).Within();
        var ingestOptions = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("ingest")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(false).WithSessionExpiryInterval(3600).Build();

        // Ingest subscribes on a persistent session, then goes away (a restart).
        using (var first = new MqttClientFactory().CreateMqttClient())
        {
            await first.ConnectAsync(ingestOptions).Within();
            await first.SubscribeAsync("sensing/#", MqttQualityOfServiceLevel.AtLeastOnce).Within();
            await first.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(3600).Build()).Within();
        }

        using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("burst").Build()).Within();
        for (var i = 0; i < burst; i++)
        {
            await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensing/c1/gate/g-1").WithPayload(i.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
        }

        // Ingest is back: it gets what its session kept.
        var received = new List<int>();
        using var again = new MqttClientFactory().CreateMqttClient();
        again.ApplicationMessageReceivedAsync += e =>
        {
            lock (received) received.Add(int.Parse(e.ApplicationMessage.ConvertPayloadToString(), System.Globalization.CultureInfo.InvariantCulture));
            return Task.CompletedTask;
        };
        await again.ConnectAsync(ingestOptions).Within();

        if (expectDrops)
        {
            // The queue kept the newest 1,000; the 2,000 it dropped are counted and logged, not silent.
            await TestTimeouts.Until(() => { lock (received) return Task.FromResult(received.Count == maxPending); }, "what the queue kept");
            lock (received) Assert.Equal(Enumerable.Range(burst - maxPending, maxPending), received);
            Assert.True(broker.Dropped >= burst - maxPending, $"{broker.Dropped} overflow events for {burst - maxPending} dropped messages");
            var samples = new List<MetricSample>();
            broker.Collect(samples);
            Assert.Equal(broker.Dropped, samples.Single(s => s.Name == "sensing_broker_queue_overflows_total").Value);
        }
        else
        {
            await TestTimeouts.Until(() => { lock (received) return Task.FromResult(received.Count == burst); }, $"all {burst} messages after the restart");
            Assert.Equal(0, broker.Dropped);
            lock (received) Assert.Equal(Enumerable.Range(0, burst), received);
        }
    }
}
