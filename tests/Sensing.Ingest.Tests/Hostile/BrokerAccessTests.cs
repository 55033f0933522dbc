using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>
/// The embedded broker's limits and access (issue 9), against the running broker with real MQTTnet clients on loopback:
/// packet size, topic length, device credentials from the registry with a per-device topic ACL, no subscriptions for
/// devices, ingest's client id reserved, TLS with a configured certificate, anonymous clients refused outside the demo.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BrokerAccessTests : IAsyncLifetime
{
    private const string Password = "meter-secret-0042";
    private readonly int _port = LoopbackPorts.Free();
    private readonly DeviceRegistry _registry = World.Registry();
    private readonly ServiceCredential _service = new("sensing-ingest");
    private readonly List<IMqttClient> _clients = [];
    private EmbeddedBroker? _broker;
    private BrokerAccess? _access;

    public BrokerAccessTests()
    {
        // c1-wm-0042 is a registered meter: its credential needs no topics, it gets its own native topic.
        _registry.SetCredential(new DeviceCredential("c1-wm-0042", PasswordHash.Create(Password)));
        _registry.SetCredential(new DeviceCredential("c1-gate-01", PasswordHash.Create("gate-secret")));
        // A Zigbee2MQTT gateway publishes for many devices under its base topic.
        _registry.SetCredential(new DeviceCredential("z2m-gateway", PasswordHash.Create("gateway-secret"), ["zigbee2mqtt/#"]));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var client in _clients) client.Dispose();
        if (_broker is not null) await _broker.DisposeAsync();
    }

    private async Task StartAsync(BrokerOptions options)
    {
        _access = new BrokerAccess(options, _registry, _service);
        _broker = new EmbeddedBroker(Options.Create(new MqttOptions { Port = _port }), Options.Create(options), _access, Microsoft.Extensions.Logging.Abstractions.NullLogger<EmbeddedBroker>.Instance);
        await _broker.StartAsync(CancellationToken.None).Within();
    }

    private static MqttClientOptionsBuilder Client(int port, string? username = null, string? password = null, string? clientId = null)
    {
        var builder = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(clientId ?? "test-" + Guid.NewGuid().ToString("N")[..8]).WithTimeout(TimeSpan.FromSeconds(10));
        if (username is not null) builder.WithCredentials(username, password);
        return builder;
    }

    private async Task<(IMqttClient Client, MqttClientConnectResult Result)> ConnectAsync(MqttClientOptions options)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        _clients.Add(client);
        // MQTTnet 5 returns a refusal as the CONNACK's result code rather than throwing.
        return (client, await client.ConnectAsync(options).Within());
    }

    /// <summary>The service (ingest) listening to everything, as in production; returns the topics it hears.</summary>
    private async Task<List<string>> ListenAsync()
    {
        var heard = new List<string>();
        var (listener, result) = await ConnectAsync(Client(_port, _service.Username, _service.Password, "listener").Build());
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        listener.ApplicationMessageReceivedAsync += e =>
        {
            lock (heard) heard.Add(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        var subscribed = await listener.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce).Build()).Within();
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, subscribed.Items.Single().ResultCode);
        return heard;
    }

    private static MqttApplicationMessage Message(string topic, int bytes = 16) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(new byte[bytes]).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    [Fact]
    public async Task A_device_publishes_to_its_own_topic_and_is_refused_on_another_devices_topic()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = false });
        var heard = await ListenAsync();
        var (meter, connected) = await ConnectAsync(Client(_port, "c1-wm-0042", Password).Build());
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);

        var own = await meter.PublishAsync(Message("sensing/c1/meter/c1-wm-0042")).Within();
        var other = await meter.PublishAsync(Message("sensing/c1/gate/c1-gate-01")).Within();
        var sideways = await meter.PublishAsync(Message("sensing/c1/meter/c1-wm-0042/extra")).Within();

        Assert.Equal(MqttClientPublishReasonCode.Success, own.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, other.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, sideways.ReasonCode);
        Assert.Contains("may publish only to sensing/c1/meter/c1-wm-0042", other.ReasonString);
        await TestTimeouts.Until(() => { lock (heard) return Task.FromResult(heard.Count >= 1); }, "the meter's own reading");
        await Task.Delay(200);
        lock (heard) Assert.Equal(["sensing/c1/meter/c1-wm-0042"], heard);
        Assert.Equal(2, _access!.Refusals("topic_acl"));

        // A gateway's credential lists its topics.
        var (gateway, gatewayConnected) = await ConnectAsync(Client(_port, "z2m-gateway", "gateway-secret").Build());
        Assert.Equal(MqttClientConnectResultCode.Success, gatewayConnected.ResultCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await gateway.PublishAsync(Message("zigbee2mqtt/kitchen_plug")).Within()).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await gateway.PublishAsync(Message("sensing/c1/meter/c1-wm-0042")).Within()).ReasonCode);
    }

    [Fact]
    public async Task A_device_may_not_subscribe_so_it_cannot_read_other_residents_readings()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = false });
        var (meter, _) = await ConnectAsync(Client(_port, "c1-wm-0042", Password).Build());

        var result = await meter.SubscribeAsync("sensing/#").Within();

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, result.Items.Single().ResultCode);
        Assert.Equal(1, _access!.Refusals("subscribe_acl"));
    }

    [Theory]
    [InlineData("c1-wm-0042", "wrong-password", MqttClientConnectResultCode.BadUserNameOrPassword)]
    [InlineData("c1-wm-9999", Password, MqttClientConnectResultCode.BadUserNameOrPassword)]     // no such credential
    [InlineData("sensing-service", "guessed", MqttClientConnectResultCode.BadUserNameOrPassword)]
    [InlineData("c1-wm-0042", Password, MqttClientConnectResultCode.Success)]
    public async Task Credentials_are_checked_against_the_registry_hash(string username, string password, MqttClientConnectResultCode expected)
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = false });

        var (_, result) = await ConnectAsync(Client(_port, username, password).Build());

        Assert.Equal(expected, result.ResultCode);
        Assert.Equal(expected == MqttClientConnectResultCode.Success ? 0 : 1, _access!.Refusals("credentials"));
    }

    [Fact]
    public async Task Anonymous_clients_are_refused_when_the_demo_is_off()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = false });

        var (_, result) = await ConnectAsync(Client(_port).Build());
        var (_, result311) = await ConnectAsync(Client(_port).WithProtocolVersion(MqttProtocolVersion.V311).Build());

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result311.ResultCode);
        Assert.Equal(2, _access!.Refusals("anonymous"));
    }

    [Fact]
    public async Task A_device_cannot_take_ingests_client_id_and_with_it_ingests_session()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = false });

        var (_, result) = await ConnectAsync(Client(_port, "c1-wm-0042", Password, clientId: _service.ClientId).Build());

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        Assert.Equal(1, _access!.Refusals("client_id"));
    }

    [Fact]
    public async Task A_topic_longer_than_the_limit_is_refused()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = true, MaxTopicLength = 64 });
        var heard = await ListenAsync();
        var (device, _) = await ConnectAsync(Client(_port).Build());

        var tooLong = await device.PublishAsync(Message("sensing/c1/camera/" + new string('x', 100))).Within();
        var fine = await device.PublishAsync(Message("sensing/c1/camera/c1-cam-07")).Within();

        Assert.Equal(MqttClientPublishReasonCode.TopicNameInvalid, tooLong.ReasonCode);
        Assert.Contains("more than Broker:MaxTopicLength (64)", tooLong.ReasonString);
        Assert.Equal(MqttClientPublishReasonCode.Success, fine.ReasonCode);
        await TestTimeouts.Until(() => { lock (heard) return Task.FromResult(heard.Count >= 1); }, "the short topic's message");
        lock (heard) Assert.Equal(["sensing/c1/camera/c1-cam-07"], heard);
        Assert.Equal(1, _access!.Refusals("topic_length"));
    }

    [Fact]
    public async Task A_packet_over_the_limit_closes_the_connection_and_smaller_ones_pass()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = true, MaxPacketSize = 64 * 1024 });
        var heard = await ListenAsync();
        var (device, _) = await ConnectAsync(Client(_port).Build());

        Assert.Equal(MqttClientPublishReasonCode.Success, (await device.PublishAsync(Message("sensing/c1/camera/c1-cam-07", 60 * 1024)).Within()).ReasonCode);
        await Assert.ThrowsAnyAsync<Exception>(() => device.PublishAsync(Message("sensing/c1/camera/c1-cam-07", 100 * 1024)).Within());

        await TestTimeouts.Until(() => Task.FromResult(!device.IsConnected), "the oversized publisher's disconnection");
        await Task.Delay(200);
        lock (heard) Assert.Single(heard);
        Assert.Equal(1, _access!.Refusals("packet_size"));
    }

    /// <summary>
    /// The point of checking as the length arrives: a header announcing 200 MB is refused at once, with no body sent and
    /// no 200 MB buffer (MQTTnet on its own allocates what the header announces before any hook runs).
    /// </summary>
    [Fact]
    public async Task A_header_announcing_a_huge_packet_is_refused_before_its_body_arrives()
    {
        await StartAsync(new BrokerOptions { AllowAnonymous = false, MaxPacketSize = 64 * 1024 });
        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _port).Within();
        var stream = tcp.GetStream();

        // A CONNECT whose remaining length says 200,000,000 bytes (0x80 0xC2 0xD7 0x5F as a varint), and nothing more.
        await stream.WriteAsync(new byte[] { 0x10, 0x80, 0xC2, 0xD7, 0x5F }).AsTask().Within();
        var read = await stream.ReadAsync(new byte[16]).AsTask().Within();

        Assert.Equal(0, read);   // closed by the broker
        Assert.Equal(1, _access!.Refusals("packet_size"));
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 50_000_000, "the broker allocated for the announced packet");
    }

    [Fact]
    public async Task Tls_with_the_configured_certificate_works_and_plain_mqtt_is_not_spoken_on_its_port()
    {
        var folder = Directory.CreateTempSubdirectory("sensing-broker-tls-").FullName;
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            File.WriteAllText(Path.Combine(folder, "broker.crt"), certificate.ExportCertificatePem());
            File.WriteAllText(Path.Combine(folder, "broker.key"), key.ExportPkcs8PrivateKeyPem());
            var tlsPort = LoopbackPorts.Free();
            await StartAsync(new BrokerOptions
            {
                AllowAnonymous = false, TlsPort = tlsPort,
                TlsCertificateFile = Path.Combine(folder, "broker.crt"), TlsKeyFile = Path.Combine(folder, "broker.key"),
            });
            var heard = await ListenAsync();
            var presented = (X509Certificate2?)null;

            var (meter, result) = await ConnectAsync(Client(tlsPort, "c1-wm-0042", Password)
                .WithTlsOptions(o => o.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(c =>
                {
                    presented = new X509Certificate2(c.Certificate);
                    return presented.Thumbprint == certificate.Thumbprint;   // trust exactly the configured certificate
                })).Build());

            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            Assert.Equal(certificate.Thumbprint, presented?.Thumbprint);
            Assert.Equal(MqttClientPublishReasonCode.Success, (await meter.PublishAsync(Message("sensing/c1/meter/c1-wm-0042")).Within()).ReasonCode);
            await TestTimeouts.Until(() => { lock (heard) return Task.FromResult(heard.Count == 1); }, "the reading sent over TLS");

            // Plain MQTT on the TLS port is not spoken: the connection fails rather than running unencrypted.
            await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(Client(tlsPort, "c1-wm-0042", Password).WithTimeout(TimeSpan.FromSeconds(3)).Build()));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>How the host configures the embedded broker's access: the defaults, and what the start refuses.</summary>
public sealed class BrokerConfigurationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSensingIngest(configuration);
        return services.BuildServiceProvider();
    }

    [Theory]
    [InlineData(null, false, true)]    // Demo:Enabled defaults to true: the demo and its tools publish anonymously
    [InlineData("true", true, true)]
    [InlineData("false", false, true)] // the contract: a plain Demo:Enabled=false service still takes native devices on first sight
    [InlineData("false", true, false)] // an installation with credentials configured: anonymous clients refused
    public void Anonymous_access_follows_the_demo_and_the_installations_credentials(string? demo, bool withUser, bool expected)
    {
        var settings = new Dictionary<string, string?> { ["Demo:Enabled"] = demo };
        if (withUser)
        {
            settings["Broker:Users:0:Username"] = "simulator";
            settings["Broker:Users:0:PasswordHash"] = PasswordHash.Create("simulator-password");
        }
        using var provider = Build(settings);

        Assert.Equal(expected, provider.GetRequiredService<BrokerAccess>().AllowAnonymous);
    }

    [Fact]
    public void A_device_credential_in_the_registry_closes_the_broker_to_anonymous_clients_outside_the_demo()
    {
        var registry = new DeviceRegistry();
        var access = new BrokerAccess(new BrokerOptions(), registry, new ServiceCredential("ingest"));
        Assert.True(access.AllowAnonymous);

        registry.SetCredential(new DeviceCredential("c1-wm-0042", PasswordHash.Create("secret")));

        Assert.False(access.AllowAnonymous);
        Assert.Null(access.Authenticate(null, null, "anon-1", out var refusal));
        Assert.Contains("anonymous", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_connects_to_the_embedded_broker_with_the_service_credential()
    {
        using var provider = Build(new() { ["Demo:Enabled"] = "false" });

        var mqtt = provider.GetRequiredService<IOptions<MqttOptions>>().Value;
        var service = provider.GetRequiredService<ServiceCredential>();
        Assert.Equal(ServiceCredential.DefaultUsername, mqtt.Username);
        Assert.Equal(service.Password, mqtt.Password);
        Assert.True(service.Password.Length >= 32);
    }

    [Theory]
    [InlineData("Broker:AllowAnonymous", "false", "Demo:Enabled", "true", "Broker:AllowAnonymous=false needs Demo:Enabled=false")]
    [InlineData("Broker:Users:0:Username", "simulator", "Broker:Users:0:PasswordHash", "simulator-password", "PasswordHash must be a hash from PasswordHash.Create")]
    [InlineData("Broker:TlsPort", "8883", "Demo:Enabled", "false", "Broker:TlsPort is set without Broker:TlsCertificateFile")]
    [InlineData("Broker:TlsPort", "8883", "Broker:TlsCertificateFile", "/nonexistent/broker.crt", "Broker:TlsCertificateFile '/nonexistent/broker.crt' does not exist")]
    [InlineData("Broker:MaxPacketSize", "100", "Demo:Enabled", "false", "MaxPacketSize")]
    public void A_bad_broker_setting_stops_the_start_naming_the_key(string key, string value, string otherKey, string otherValue, string message)
    {
        using var provider = Build(new() { [key] = value, [otherKey] = otherValue });

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<BrokerOptions>>().Value);
        Assert.Contains(message, error.Message);
    }
}
