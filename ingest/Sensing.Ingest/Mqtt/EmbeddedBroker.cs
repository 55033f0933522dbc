using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Server;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// The in-process MQTTnet broker of the one-machine setup (<c>Mqtt:Embedded=true</c>). Sessions persist in
/// memory for the broker's lifetime, so an ingest client that reconnects with clean start off gets what was
/// published while it was away. Access and limits (<c>Broker</c> section, issue 9): clients authenticate with a
/// device credential from the registry, a <c>Broker:Users</c> entry or the in-process service credential (anonymous
/// ones only when <c>Broker:AllowAnonymous</c>, the demo's default); each publishes only to its own topics
/// (<see cref="BrokerAccess"/>); packets over <c>Broker:MaxPacketSize</c> close the connection before they are read
/// (<see cref="BrokerListener"/>); <c>Broker:TlsPort</c> adds a TLS listener with the configured certificate.
/// With an <see cref="InProcessIntake"/> (<c>Mqtt:EmbeddedIntake=InProcess</c>, the default) the broker hands every
/// accepted message on ingest's topics to ingest itself; other subscribers get it too, as usual.
/// </summary>
public sealed class EmbeddedBroker(
    IOptions<MqttOptions> options, IOptions<BrokerOptions> brokerOptions, BrokerAccess access, ILogger<EmbeddedBroker> logger,
    InProcessIntake? intake = null)
    : IHostedService, IAsyncDisposable, IMetricsSource
{
    private MqttServer? _server;
    private BrokerListener[] _listeners = [];
    private long _dropped;
    // Set once any client has subscribed since start, and never cleared (a persistent session keeps its subscriptions
    // while away): until then a message ingest took in process has nobody else to go to (see AuthorizePublish).
    private volatile bool _subscribed;

    /// <summary>
    /// Overflows of a client's queue, each dropping its oldest message. MQTTnet 5.2 reports an overwrite more than
    /// once, so this counts events rather than messages: what matters is that it stays 0, and shows when it does not.
    /// </summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public bool IsRunning => _server?.IsStarted == true;

    /// <summary>The per-client queue bound in force: <c>Broker:MaxPendingMessagesPerClient</c>, else <c>Mqtt:MaxPendingMessagesPerClient</c>.</summary>
    public int MaxPendingMessagesPerClient => brokerOptions.Value.MaxPendingMessagesPerClient ?? options.Value.MaxPendingMessagesPerClient;

    /// <summary>Messages queued at the broker for <paramref name="clientId"/>'s session (0 when it has none).</summary>
    public async Task<long> PendingMessagesAsync(string clientId)
    {
        if (_server is null) return 0;
        foreach (var session in await _server.GetSessionsAsync().ConfigureAwait(false))
        {
            if (session.Id == clientId) return session.PendingApplicationMessagesCount;
        }
        return 0;
    }

    /// <summary>The TLS listener's port (useful when <c>Broker:TlsPort</c> is 0: the system picks one), or null.</summary>
    public int? TlsPort => _listeners.Length > 1 ? _listeners[1].Port : null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var b = brokerOptions.Value;
        var address = IPAddress.Parse(o.BindAddress);
        _listeners = b.TlsPort is { } tlsPort
            ? [new(address, o.Port, null, b.MaxPacketSize, access, logger), new(address, tlsPort, BrokerCertificate.Load(b), b.MaxPacketSize, access, logger)]
            : [new(address, o.Port, null, b.MaxPacketSize, access, logger)];
        var serverOptions = new MqttServerOptionsBuilder()
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(MaxPendingMessagesPerClient)
            .WithPendingMessagesOverflowStrategy(b.PendingMessagesOverflow == PendingOverflow.DropNew
                ? MqttPendingMessagesOverflowStrategy.DropNewMessage : MqttPendingMessagesOverflowStrategy.DropOldestQueuedMessage)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, _listeners);
        _server.ValidatingConnectionAsync += AssignClientIdentifier;
        _server.ValidatingConnectionAsync += Authenticate;
        _server.InterceptingPublishAsync += AuthorizePublish;
        _server.InterceptingSubscriptionAsync += AuthorizeSubscription;
        // With the drop-oldest strategy a full queue overwrites its oldest packet; only application messages count
        // (control packets share the queue).
        _server.QueuedApplicationMessageOverwrittenAsync += e =>
        {
            if (e.Packet is MQTTnet.Packets.MqttPublishPacket) CountDrop(e.ReceiverClientId);
            return Task.CompletedTask;
        };
        // With drop-new the message that finds the queue full is the one dropped, reported here.
        _server.ApplicationMessageEnqueuedOrDroppedAsync += e =>
        {
            if (e.IsDropped) CountDrop(e.ReceiverClientId);
            return Task.CompletedTask;
        };
        await _server.StartAsync().ConfigureAwait(false);
        intake?.Opened();
        logger.LogInformation("Embedded MQTT broker listening on {Address}:{Port}{Tls}; anonymous clients {Anonymous}; packets up to {MaxPacket} bytes",
            o.BindAddress, o.Port, TlsPort is { } port ? $" and TLS :{port}" : "", access.AllowAnonymous ? "allowed (the demo, or no credentials configured yet)" : "refused", b.MaxPacketSize);
    }

    /// <summary>Runs after <see cref="AssignClientIdentifier"/> (handlers run in the order added), so an assigned id is checked too.</summary>
    private Task Authenticate(ValidatingConnectionEventArgs e)
    {
        if (e.ReasonCode != MQTTnet.Protocol.MqttConnectReasonCode.Success) return Task.CompletedTask;
        var clientId = string.IsNullOrEmpty(e.ClientId) ? e.AssignedClientIdentifier : e.ClientId;
        if (access.Authenticate(e.UserName, e.Password, clientId, out _) is { } identity)
        {
            e.SessionItems[BrokerAccess.SessionKey] = identity;
        }
        else
        {
            // The client learns only that it is refused; the log and /metrics say why.
            e.ReasonCode = string.IsNullOrEmpty(e.UserName)
                ? MQTTnet.Protocol.MqttConnectReasonCode.NotAuthorized
                : MQTTnet.Protocol.MqttConnectReasonCode.BadUserNameOrPassword;
        }
        return Task.CompletedTask;
    }

    private Task AuthorizePublish(InterceptingPublishEventArgs e)
    {
        // Messages without a session (none today) are the broker's own and pass.
        if (e.SessionItems?[BrokerAccess.SessionKey] is BrokerIdentity identity
            && access.PublishRefusal(identity, e.ApplicationMessage.Topic, out var topicTooLong) is { } refusal)
        {
            // MQTT 5 publishers see the refusal in their PUBACK; MQTT 3.1.1 has no way to say it, so theirs is dropped
            // (counted and logged), as mosquitto does with an ACL.
            e.ProcessPublish = false;
            e.Response.ReasonCode = topicTooLong ? MQTTnet.Protocol.MqttPubAckReasonCode.TopicNameInvalid : MQTTnet.Protocol.MqttPubAckReasonCode.NotAuthorized;
            e.Response.ReasonString = refusal;
        }
        else if (e.SessionItems?[BrokerAccess.SessionKey] is BrokerIdentity sender && access.RateRefusal(sender, e.ApplicationMessage.Topic) is { } tooFast)
        {
            // Refused at the door: a flood never takes places in ingest's queue from other devices' messages.
            e.ProcessPublish = false;
            e.Response.ReasonCode = MQTTnet.Protocol.MqttPubAckReasonCode.QuotaExceeded;
            e.Response.ReasonString = tooFast;
        }
        else if (intake is not null && intake.Reads(e.ApplicationMessage.Topic))
        {
            // Awaited before MQTTnet answers the publisher and reads its next packet: a QoS 1 message is acknowledged
            // once ingest has it, and a full queue holds the publisher back.
            var taken = intake.TakeAsync(e.ApplicationMessage, e.CancellationToken);
            // With no other subscriber and nothing to retain, routing has nothing to do, and would answer an MQTT 5
            // publisher "no matching subscribers" for a message ingest took.
            if (!_subscribed && !e.ApplicationMessage.Retain) e.ProcessPublish = false;
            return taken.IsCompletedSuccessfully ? Task.CompletedTask : taken.AsTask();
        }
        return Task.CompletedTask;
    }

    private Task AuthorizeSubscription(InterceptingSubscriptionEventArgs e)
    {
        if (e.SessionItems?[BrokerAccess.SessionKey] is BrokerIdentity identity
            && access.SubscribeRefusal(identity, e.TopicFilter.Topic) is { } refusal)
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MQTTnet.Protocol.MqttSubscribeReasonCode.NotAuthorized;
            e.ReasonString = refusal;
        }
        else
        {
            _subscribed = true;
        }
        return Task.CompletedTask;
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
            logger.LogError("Embedded broker dropped a message for {Client}: its queue of {Max} pending messages is full (Broker:MaxPendingMessagesPerClient); {Dropped} overflow events so far",
                client, MaxPendingMessagesPerClient, Dropped);
        }
    }

    public void Collect(ICollection<MetricSample> samples) =>
        samples.Add(new("sensing_broker_queue_overflows_total", "Overflow events of the embedded broker's per-client queues, each dropping the oldest message (should stay 0; MQTTnet may report one drop more than once).", "counter", Dropped));

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
            intake?.Closed();
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
        foreach (var listener in _listeners) listener.Dispose();
    }
}
