using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Registry;
using Sensing.Testing;

namespace Sensing.Ingest.Tests.Brokers;

/// <summary>
/// The embedded broker handing messages to ingest in process (<c>Mqtt:EmbeddedIntake=InProcess</c>), with real MQTTnet
/// publishers on loopback: what ingest reads enters its queue whole, from the publisher's connection, before the
/// publisher's PUBACK; other subscribers still get every message; refused messages and other topics are not taken; a
/// full queue holds a QoS 1 publisher back until there is room, and sheds QoS 0 (counted).
/// </summary>
[Trait("Category", "Integration")]
public sealed class InProcessIntakeTests : IAsyncDisposable
{
    private readonly int _port = LoopbackPorts.Free();
    private readonly List<IMqttClient> _clients = [];
    private IngestMetrics _metrics = null!;
    private BrokerConnection? _connection;
    private EmbeddedBroker? _broker;

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients) client.Dispose();
        if (_broker is not null) await _broker.DisposeAsync();
    }

    private async Task<IngestQueue> StartAsync(int queueCapacity, BrokerOptions? broker = null, DeviceRegistry? registry = null)
    {
        var mqtt = new MqttOptions { Port = _port, Topics = ["sensing/#"], ReceiveMaximum = 40 };
        var queue = new IngestQueue(queueCapacity);
        _metrics = new IngestMetrics(queue);
        _connection = new BrokerConnection(Options.Create(mqtt), TimeProvider.System);
        var intake = new InProcessIntake(Options.Create(mqtt), Options.Create(new IngestOptions { QueueCapacity = queueCapacity }), queue, _metrics,
            _connection, TimeProvider.System, NullLogger<InProcessIntake>.Instance);
        broker ??= new BrokerOptions { AllowAnonymous = true };
        var access = new BrokerAccess(broker, registry ?? World.Registry(), new ServiceCredential("sensing-ingest"));
        _broker = new EmbeddedBroker(Options.Create(mqtt), Options.Create(broker), access, NullLogger<EmbeddedBroker>.Instance, intake);
        await _broker.StartAsync(CancellationToken.None).Within();
        return queue;
    }

    private async Task<IMqttClient> ConnectAsync(string? username = null, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        _clients.Add(client);
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId("test-" + Guid.NewGuid().ToString("N")[..8]).WithTimeout(TimeSpan.FromSeconds(10));
        if (username is not null) options.WithCredentials(username, password);
        var result = await client.ConnectAsync(options.Build()).Within();
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    private static MqttApplicationMessage Message(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build();

    private static string Text(PendingMessage message) => Encoding.UTF8.GetString(message.Payload.Span);

    [Fact]
    public async Task A_message_on_ingests_topics_is_in_its_queue_when_the_publisher_is_acknowledged_and_other_subscribers_still_get_it()
    {
        var queue = await StartAsync(queueCapacity: 100);
        Assert.True(_connection!.Status is { Connected: true, InProcess: true, SessionPresent: null });
        Assert.Equal(["sensing/#"], _connection.Status.Subscriptions);
        Assert.True(_metrics.BrokerConnected);
        var device = await ConnectAsync();

        var first = await device.PublishAsync(Message("sensing/c1/gate/c1-gate-01", """{"ts":1,"event":"pass"}""")).Within();
        // The PUBACK says Success (not "no matching subscribers"), and the message was in the queue before it was sent.
        Assert.Equal(MqttClientPublishReasonCode.Success, first.ReasonCode);
        Assert.True(queue.Reader.TryRead(out var taken));
        Assert.Equal("sensing/c1/gate/c1-gate-01", taken!.Topic);
        Assert.Equal("""{"ts":1,"event":"pass"}""", Text(taken));
        Assert.Equal(1, _metrics.MessagesReceived);

        // Not one of ingest's topics: routed as usual (to nobody yet), not taken.
        await device.PublishAsync(Message("elsewhere/c1", "x")).Within();
        Assert.False(queue.Reader.TryRead(out _));

        // Another client subscribes (a recorder, an operator's mosquitto_sub): it hears ingest's messages too, once each.
        var heard = new List<string>();
        var listener = await ConnectAsync();
        listener.ApplicationMessageReceivedAsync += e =>
        {
            lock (heard) heard.Add(e.ApplicationMessage.Topic + " " + e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await listener.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
        var second = await device.PublishAsync(Message("sensing/c1/meter/c1-wm-0042", """{"ts":2,"water_m3":1.5}""")).Within();
        await device.PublishAsync(Message("elsewhere/c1", "y")).Within();

        Assert.Equal(MqttClientPublishReasonCode.Success, second.ReasonCode);
        Assert.True(queue.Reader.TryRead(out var again));
        Assert.Equal("""{"ts":2,"water_m3":1.5}""", Text(again!));
        Assert.False(queue.Reader.TryRead(out _));
        await TestTimeouts.Until(() => { lock (heard) return Task.FromResult(heard.Count >= 2); }, "the listener's two messages");
        await Task.Delay(200);
        lock (heard) Assert.Equal(["sensing/c1/meter/c1-wm-0042 {\"ts\":2,\"water_m3\":1.5}", "elsewhere/c1 y"], heard);
    }

    [Fact]
    public async Task A_refused_message_is_not_taken()
    {
        var registry = World.Registry();
        registry.SetCredential(new DeviceCredential("c1-wm-0042", PasswordHash.Create("meter-secret")));
        var queue = await StartAsync(queueCapacity: 100, new BrokerOptions { AllowAnonymous = false }, registry);
        var meter = await ConnectAsync("c1-wm-0042", "meter-secret");

        var own = await meter.PublishAsync(Message("sensing/c1/meter/c1-wm-0042", "own")).Within();
        var other = await meter.PublishAsync(Message("sensing/c1/gate/c1-gate-01", "forged")).Within();

        Assert.Equal(MqttClientPublishReasonCode.Success, own.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, other.ReasonCode);
        Assert.True(queue.Reader.TryRead(out var taken));
        Assert.Equal("own", Text(taken!));
        Assert.False(queue.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_full_queue_holds_a_QoS_1_publisher_until_ingest_takes_one_and_sheds_QoS_0()
    {
        var queue = await StartAsync(queueCapacity: 3);
        var device = await ConnectAsync();
        for (var i = 0; i < 3; i++)
        {
            await device.PublishAsync(Message("sensing/c1/gate/c1-gate-01", $"m{i}")).Within();
        }

        // QoS 0 may fill the queue up to capacity less Receive Maximum (at least half): here it is full for QoS 0.
        await device.PublishAsync(Message("sensing/c1/gate/c1-gate-01", "q0", MqttQualityOfServiceLevel.AtMostOnce)).Within();
        // The fourth QoS 1 message waits for room: no PUBACK yet.
        var fourth = device.PublishAsync(Message("sensing/c1/gate/c1-gate-01", "m3"));
        await Task.Delay(500);
        Assert.False(fourth.IsCompleted);
        Assert.Equal(3, queue.Depth);

        Assert.True(queue.Reader.TryRead(out var oldest));
        Assert.Equal("m0", Text(oldest!));
        Assert.Equal(MqttClientPublishReasonCode.Success, (await fourth.Within()).ReasonCode);
        var rest = new List<string>();
        while (queue.Reader.TryRead(out var message)) rest.Add(Text(message));
        // In order, and the QoS 0 message shed and counted rather than queued.
        Assert.Equal(["m1", "m2", "m3"], rest);
        Assert.Equal(1, _connection!.Status.Qos0Dropped);
        Assert.Equal(5, _metrics.MessagesReceived);
    }

    [Theory]
    [InlineData("InProcess")]
    [InlineData("Subscriber")]
    public async Task The_service_stores_what_devices_publish_to_its_embedded_broker_either_way_and_health_says_which(string intake)
    {
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Mqtt:EmbeddedIntake"] = intake,
            ["Ingest:BatchDelayMilliseconds"] = "10",
        });
        var (status, health) = await host.HealthAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("connected", health.GetProperty("broker").GetString());
        Assert.Equal(intake == "InProcess", health.GetProperty("mqtt").GetProperty("in_process").GetBoolean());
        Assert.Contains("sensing/#", health.GetProperty("mqtt").GetProperty("subscriptions").EnumerateArray().Select(s => s.GetString()));

        using var admin = host.Http(await host.TokenAsync("admin"));
        (await admin.PostAsJsonAsync("/api/devices", new { id = "c1-gate-north", kind = "gate", community = "c1", grid = "g1" })).EnsureSuccessStatusCode();
        using var device = await host.ConnectDeviceAsync("c1-gate-north");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 20; i++)
        {
            await SensingTestHost.PublishAsync(device, "sensing/c1/gate/c1-gate-north", $$"""{"ts":{{now - i * 1000}},"event":"pass","direction":"in"}""");
        }
        await SensingTestHost.EventuallyAsync(async () => await host.MetricAsync("sensing_readings_stored_total") >= 20 ? "" : null,
            TimeSpan.FromSeconds(30), "the gate's 20 passes stored");
        Assert.Equal(20, await host.MetricAsync("sensing_messages_received_total"));
        Assert.Equal(0, await host.MetricAsync("sensing_deadletters_total"));
    }
}
