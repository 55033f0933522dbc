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
public sealed class EmbeddedBroker(IOptions<MqttOptions> options, ILogger<EmbeddedBroker> logger) : IHostedService, IAsyncDisposable, IMetricsSource
{
    private MqttServer? _server;
    private long _dropped;

    /// <summary>
    /// Overflows of a client's queue, each dropping its oldest message. MQTTnet 5.2 reports an overwrite more than
    /// once, so this counts events rather than messages: what matters is that it stays 0, and shows when it does not.
    /// </summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public bool IsRunning => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Parse(o.BindAddress))
            .WithDefaultEndpointPort(o.Port)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(o.MaxPendingMessagesPerClient)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.ValidatingConnectionAsync += AssignClientIdentifier;
        // With the drop-oldest strategy a full queue overwrites its oldest packet; only application messages count
        // (control packets share the queue).
        _server.QueuedApplicationMessageOverwrittenAsync += e =>
        {
            if (e.Packet is MQTTnet.Packets.MqttPublishPacket) CountDrop(e.ReceiverClientId);
            return Task.CompletedTask;
        };
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

    private void CountDrop(string client)
    {
        // Once, then every 1,000th: a full queue drops many in a row, and the log must stay readable.
        if (Interlocked.Increment(ref _dropped) % 1000 == 1)
        {
            logger.LogError("Embedded broker dropped a message for {Client}: its queue of {Max} pending messages is full (Mqtt:MaxPendingMessagesPerClient); {Dropped} overflow events so far",
                client, options.Value.MaxPendingMessagesPerClient, Dropped);
        }
    }

    public void Collect(ICollection<MetricSample> samples) =>
        samples.Add(new("sensing_broker_queue_overflows_total", "Overflow events of the embedded broker's per-client queues, each dropping the oldest message (should stay 0; MQTTnet may report one drop more than once).", "counter", Dropped));

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
