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
        await using var broker = new EmbeddedBroker(Options.Create(new MqttOptions { Port = port }), NullLogger<EmbeddedBroker>.Instance);
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
        await using var broker = new EmbeddedBroker(Options.Create(new MqttOptions { Port = port }), NullLogger<EmbeddedBroker>.Instance);
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
