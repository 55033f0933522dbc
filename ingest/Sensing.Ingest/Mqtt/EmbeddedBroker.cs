using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Server;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// The in-process MQTTnet broker of the one-machine setup (<c>Mqtt:Embedded=true</c>). Sessions persist in
/// memory for the broker's lifetime, so an ingest client that reconnects with clean start off gets what was
/// published while it was away.
/// </summary>
public sealed class EmbeddedBroker(IOptions<MqttOptions> options, ILogger<EmbeddedBroker> logger) : IHostedService, IAsyncDisposable
{
    private MqttServer? _server;

    public bool IsRunning => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Parse(o.BindAddress))
            .WithDefaultEndpointPort(o.Port)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.ValidatingConnectionAsync += AssignClientIdentifier;
        await _server.StartAsync().ConfigureAwait(false);
        logger.LogInformation("Embedded MQTT broker listening on {Address}:{Port}", o.BindAddress, o.Port);
    }

    /// <summary>
    /// MQTT lets a client connect with an empty client id, and the broker must then assign one (3.1.1 §3.1.3-6,
    /// with a clean session only, which MQTTnet's decoder enforces; 5.0 §3.1.3.1.1). mosquitto_pub does exactly that, over 3.1.1 by default. MQTTnet 5.2
    /// assigns ids only to MQTT 5 clients and refuses 3.1.1 ones with "identifier rejected", so for those the id is
    /// set on the CONNECT packet itself, which MQTTnet exposes to this hook only through a private field.
    /// The package version is pinned and a test covers it; if the field ever goes away, such clients are refused
    /// as before and a warning says why.
    /// </summary>
    private Task AssignClientIdentifier(ValidatingConnectionEventArgs e)
    {
        if (!string.IsNullOrEmpty(e.ClientId))
        {
            return Task.CompletedTask;
        }
        var assigned = "auto-" + Guid.NewGuid().ToString("N");
        e.AssignedClientIdentifier = assigned;
        if (e.ProtocolVersion != MQTTnet.Formatter.MqttProtocolVersion.V500)
        {
            if (s_connectPacket?.GetValue(e) is MQTTnet.Packets.MqttConnectPacket packet)
            {
                packet.ClientId = assigned;
            }
            else
            {
                logger.LogWarning("Cannot assign a client id to an MQTT {Version} client that sent none (MQTTnet internals changed); it will be refused", e.ProtocolVersion);
            }
        }
        return Task.CompletedTask;
    }

    private static readonly System.Reflection.FieldInfo? s_connectPacket =
        typeof(ValidatingConnectionEventArgs).GetField("_connectPacket", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
            _server.Dispose();
            _server = null;
        }
    }
}
