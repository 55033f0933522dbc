using System.Security.Authentication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Polly;
using Polly.Retry;
using Sensing.Ingest.Pipeline;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// Ingest's MQTT client. Subscribes with QoS 1 on a persistent session (clean start off, session expiry set) and
/// leaves each message unacknowledged until the pipeline has made it durable, so a crash or a store outage loses
/// nothing: the broker redelivers. Tells the broker its Receive Maximum, so a burst waits at the broker instead of in
/// memory, and reads no further ahead than that (<see cref="ReadAheadLimit"/>). Reconnects with exponential backoff
/// and jitter when the broker goes away or refuses it, and keeps <see cref="BrokerConnection"/> current for
/// <c>/healthz</c>.
/// </summary>
public sealed class MqttIntake(
    IOptions<MqttOptions> mqttOptions,
    IOptions<IngestOptions> ingestOptions,
    IngestQueue queue,
    IngestMetrics metrics,
    BrokerConnection connection,
    TimeProvider time,
    ILogger<MqttIntake> logger) : BackgroundService
{
    /// <summary>The longest wait between connection attempts while the broker is away (see the retry below).</summary>
    public static readonly TimeSpan ReconnectMaxDelay = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _disconnected = new(0, 1);
    private CancellationToken _stopping;
    private ReadAheadLimit? _readAhead;
    // Numbers connection attempts; a message remembers the one it came on, so its acknowledgement is never sent on
    // a later connection, where the same packet identifier may name another message.
    private int _connectionNumber;
    // The attempt whose connection ingest itself closed (a refused subscription): its drop is not news.
    private int _closedByUs;
    private readonly QueueEntrance _entrance = new(queue, ingestOptions.Value, mqttOptions.Value, connection, time, logger);
    // Connections in a row that the broker closed within seconds of their start (only the event handler writes it).
    private int _quickDrops;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var o = mqttOptions.Value;
        var tls = o.UseTls ? BrokerTls.Load(o) : null;
        if (o.AllowUntrustedCertificates)
        {
            logger.LogWarning("Mqtt:AllowUntrustedCertificates is on: ingest accepts any certificate from {Host}:{Port}, so TLS does not prove who the broker is", o.Host, o.Port);
        }
        if (o.ReceiveMaximum > 0 && o.ReceiveMaximum < 2 * ingestOptions.Value.BatchSize)
        {
            logger.LogWarning("Mqtt:ReceiveMaximum ({ReceiveMaximum}) is below twice Ingest:BatchSize ({BatchSize}): batches will be small and intake slow",
                o.ReceiveMaximum, ingestOptions.Value.BatchSize);
        }
        WarnAboutSplitMeterFeed(o);

        _readAhead = o.ReceiveMaximum > 0 ? new ReadAheadLimit(o.ReceiveMaximum) : null;
        var factory = new MqttClientFactory();
        using var client = factory.CreateMqttClient(_readAhead as MQTTnet.Adapter.IMqttClientAdapterFactory ?? new BrokerSocketAdapters());
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.DisconnectedAsync += e =>
        {
            metrics.SetBrokerConnected(false);
            if (!stoppingToken.IsCancellationRequested && e.ClientWasConnected && Volatile.Read(ref _closedByUs) != Volatile.Read(ref _connectionNumber))
            {
                var now = time.GetUtcNow();
                var reason = e.ReasonString
                    ?? (e.Reason != MqttClientDisconnectReason.NormalDisconnection ? e.Reason.ToString()
                        : e.Exception is { } ex ? ex.Message : "the broker closed the connection");
                var lasted = now - connection.Status.Since;
                connection.Disconnected(now, $"connection lost: {reason}");
                _quickDrops = lasted < TimeSpan.FromSeconds(10) ? _quickDrops + 1 : 0;
                if (e.Reason == MqttClientDisconnectReason.SessionTakenOver || _quickDrops % 20 == 3)
                {
                    // Two instances with one client id take the session from each other in turn, each redelivering the
                    // other's backlog. MQTT 5 brokers may say so (Session taken over); mosquitto 2.0 just closes the
                    // connection, so a connection that keeps dropping within seconds is the sign.
                    logger.LogError("MQTT broker {Host}:{Port} {What}: is another client using ingest's client id {ClientId}? Give every ingest instance its own Mqtt:ClientId (and the same Mqtt:SharedGroup to split a feed)",
                        o.Host, o.Port, e.Reason == MqttClientDisconnectReason.SessionTakenOver ? "handed ingest's session to another client" : $"closed ingest's connection within seconds of connecting {_quickDrops} times in a row", o.ClientId);
                }
                else
                {
                    logger.LogWarning("Disconnected from MQTT broker {Host}:{Port}: {Reason}; reconnecting", o.Host, o.Port, reason);
                }
                if (_disconnected.CurrentCount == 0) _disconnected.Release();
            }
            return Task.CompletedTask;
        };

        var connect = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                // Forever: ingest without a broker has nothing to do but wait for it; the cap keeps retries gentle, the
                // jitter keeps a fleet of ingest instances from reconnecting in step after a broker restart. The cap is
                // also how long ingest may stay away from a broker that is back: at 5 s it could miss the target of
                // resuming within 5 s of the broker's return (issue 9, Faults/BrokerRestartTests), so 2 s, one
                // connection attempt every 2 s against a broker that is down.
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = ReconnectMaxDelay,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested),
                OnRetry = args =>
                {
                    ReportFailedAttempt(o, args.AttemptNumber + 1, args.Outcome.Exception, tls);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

        var clientOptions = BuildClientOptions(o, tls);
        var filters = SubscriptionFilters(o);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await connect.ExecuteAsync(ct => ConnectAndSubscribeAsync(client, clientOptions, filters, ct), stoppingToken).ConfigureAwait(false);
                await _disconnected.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (client.IsConnected)
            {
                // Keep the session: messages published while we are down wait at the broker.
                try
                {
                    await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval((uint)o.SessionExpirySeconds).Build(), CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogDebug(e, "MQTT disconnect at shutdown failed; the broker keeps the session anyway");
                }
            }
            metrics.SetBrokerConnected(false);
        }
    }

    private async ValueTask ConnectAndSubscribeAsync(IMqttClient client, MqttClientOptions clientOptions, IReadOnlyList<string> filters, CancellationToken cancellationToken)
    {
        var o = mqttOptions.Value;
        // Drain a drop signalled while we were (re)connecting, so the loop waits for the next real one.
        while (_disconnected.CurrentCount > 0) await _disconnected.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Before CONNECT: the broker may send the session's queued messages right after CONNACK, before ConnectAsync returns.
        var number = Interlocked.Increment(ref _connectionNumber);

        // MQTTnet applies its own timeout only to a token that cannot be cancelled; a broker that accepts TCP and
        // then says nothing (or a stalled TLS handshake) must not hold an attempt for ever.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(TimeSpan.FromSeconds(10));
        var result = await client.ConnectAsync(clientOptions, attempt.Token).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new BrokerRefusedException(Refusal(result.ResultCode, result.ReasonString));
        }
        IReadOnlyList<string> granted;
        try
        {
            // The SUBACK comes after whatever the broker kept for the session (up to Receive Maximum messages, or all
            // of a backlog without one), so it gets longer than the handshake.
            attempt.CancelAfter(TimeSpan.FromSeconds(60));
            granted = await SubscribeAsync(client, filters, attempt.Token).ConfigureAwait(false);
        }
        catch
        {
            // Not usable without its subscriptions: close it (keeping the session) and let the retry start over.
            Volatile.Write(ref _closedByUs, number);
            try
            {
                await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval((uint)o.SessionExpirySeconds).Build(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug(e, "Closing the connection after a failed subscription failed too");
            }
            throw;
        }

        var previous = connection.Status;
        connection.Connected(time.GetUtcNow(), result.IsSessionPresent, granted);
        metrics.SetBrokerConnected(true);
        if (previous.Connects > 0 && !result.IsSessionPresent)
        {
            logger.LogWarning("MQTT broker {Host}:{Port} no longer had ingest's session {ClientId} (expired, or the broker restarted without persistence): messages published while ingest was away were not kept for it",
                o.Host, o.Port, o.ClientId);
        }
        logger.LogInformation("Ingest connected to MQTT broker {Host}:{Port}{Tls} as {ClientId} (connection {Number}, session present: {SessionPresent}, receive maximum {ReceiveMaximum}), subscribed to {Filters}",
            o.Host, o.Port, o.UseTls ? " over TLS" : "", o.ClientId, number, result.IsSessionPresent, o.ReceiveMaximum == 0 ? "not sent" : o.ReceiveMaximum, string.Join(", ", granted));
    }

    /// <summary>
    /// Subscribes to every filter with QoS 1 and returns what the broker granted. With a persistent session the broker
    /// remembers our subscriptions; subscribing again is harmless and covers a broker that lost its state (restarted
    /// without persistence). A refused filter fails the attempt: ingest would silently miss its feed.
    /// </summary>
    private async Task<IReadOnlyList<string>> SubscribeAsync(IMqttClient client, IReadOnlyList<string> filters, CancellationToken cancellationToken)
    {
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in filters)
        {
            subscribe.WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        }
        var subscribed = await client.SubscribeAsync(subscribe.Build(), cancellationToken).ConfigureAwait(false);
        var granted = new List<string>();
        foreach (var item in subscribed.Items)
        {
            switch (item.ResultCode)
            {
                case MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2:
                    granted.Add(item.TopicFilter.Topic);
                    break;
                case MqttClientSubscribeResultCode.GrantedQoS0:
                    granted.Add(item.TopicFilter.Topic + " (QoS 0)");
                    logger.LogWarning("The broker granted only QoS 0 for {Filter}: its messages arrive at most once and are lost if ingest stops before storing them", item.TopicFilter.Topic);
                    break;
                default:
                    var hint = item.ResultCode switch
                    {
                        MqttClientSubscribeResultCode.SharedSubscriptionsNotSupported => " (unset Mqtt:SharedGroup, or use a broker with MQTT 5 shared subscriptions)",
                        MqttClientSubscribeResultCode.NotAuthorized => " (the broker's ACL does not let Mqtt:Username read it)",
                        _ => "",
                    };
                    throw new BrokerRefusedException($"the broker refused the subscription to '{item.TopicFilter.Topic}': {item.ResultCode}{hint}");
            }
        }
        return granted;
    }

    /// <summary>
    /// Logs a failed connection attempt: a refusal that will not go away by itself (credentials, certificates) as an
    /// error, an unreachable broker as a warning; the first of a streak, then about once a minute, so an outage of an
    /// hour does not bury the log.
    /// </summary>
    private void ReportFailedAttempt(MqttOptions o, int attempt, Exception? error, BrokerTls? tls)
    {
        var (message, lasting) = Describe(error, tls);
        connection.AttemptFailed(time.GetUtcNow(), message);
        if (attempt != 1 && attempt % 12 != 0)
        {
            logger.LogDebug("MQTT broker {Host}:{Port}: attempt {Attempt} failed: {Error}", o.Host, o.Port, attempt, message);
            return;
        }
        logger.Log(lasting ? LogLevel.Error : LogLevel.Warning, "Ingest cannot connect to MQTT broker {Host}:{Port} as {ClientId} (attempt {Attempt}, retrying with backoff): {Error}",
            o.Host, o.Port, o.ClientId, attempt, message);
    }

    private static (string Message, bool Lasting) Describe(Exception? error, BrokerTls? tls)
    {
        if (error is BrokerRefusedException refused) return (refused.Message, true);
        // MQTTnet wraps the socket's or the handshake's exception; the innermost says what happened.
        var inner = error;
        while (inner?.InnerException is not null && inner is not AuthenticationException) inner = inner.InnerException;
        return inner switch
        {
            AuthenticationException when tls?.LastRejection is { } why => ($"TLS handshake failed: {why}", true),
            AuthenticationException tlsError => ($"TLS handshake failed: {tlsError.Message}", true),
            null => ("unknown error", false),
            _ => (inner.Message, false),
        };
    }

    private static string Refusal(MqttClientConnectResultCode code, string? reason)
    {
        var hint = code switch
        {
            MqttClientConnectResultCode.BadUserNameOrPassword => " (check Mqtt:Username and Mqtt:Password)",
            // mosquitto answers a wrong password with Not authorized (MQTT 5 lets a broker choose either code).
            MqttClientConnectResultCode.NotAuthorized => " (check Mqtt:Username and Mqtt:Password, and that the broker lets this user connect)",
            MqttClientConnectResultCode.ClientIdentifierNotValid => " (check Mqtt:ClientId)",
            MqttClientConnectResultCode.Banned => " (the broker banned this client)",
            _ => "",
        };
        return $"the broker refused the connection: {code}{hint}{(string.IsNullOrEmpty(reason) ? "" : $": {reason}")}";
    }

    /// <summary>
    /// <c>Mqtt:Topics</c> and the vendor formats' filters through the shared group when one is set, then
    /// <c>Mqtt:UnsharedTopics</c> as they are.
    /// <c>$share/ingest/sensing/#</c>: the broker hands each message to one member of the group <c>ingest</c>.
    /// </summary>
    public static IReadOnlyList<string> SubscriptionFilters(MqttOptions o) =>
        [.. o.Topics.Concat(o.FormatTopics).Select(t => string.IsNullOrEmpty(o.SharedGroup) ? t : $"$share/{o.SharedGroup}/{t}"), .. o.UnsharedTopics];

    /// <summary>
    /// A shared subscription hands consecutive messages of one meter to different instances, and consumption is the
    /// difference between consecutive registers: each instance would difference the registers it happened to get.
    /// </summary>
    private void WarnAboutSplitMeterFeed(MqttOptions o)
    {
        if (string.IsNullOrEmpty(o.SharedGroup)) return;
        foreach (var topic in o.Topics)
        {
            if (TopicFilters.Overlap(topic, "sensing/+/meter/+"))
            {
                logger.LogWarning("Mqtt:SharedGroup splits '{Filter}', which carries meter registers, across ingest instances: consumption would be derived from each instance's share of a meter's registers. " +
                    "Subscribe meters unshared: Mqtt:Topics = sensing/+/gate/#, sensing/+/parking/#, sensing/+/camera/#; Mqtt:UnsharedTopics = sensing/+/meter/#", topic);
            }
        }
    }

    internal static MqttClientOptions BuildClientOptions(MqttOptions o, BrokerTls? tls)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(o.Host, o.Port)
            .WithClientId(o.ClientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)o.SessionExpirySeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (o.ReceiveMaximum > 0)
        {
            builder.WithReceiveMaximum((ushort)o.ReceiveMaximum);
        }
        if (!string.IsNullOrEmpty(o.Username))
        {
            builder.WithCredentials(o.Username, o.Password);
        }
        if (tls is not null)
        {
            builder.WithTlsOptions(tls.ClientOptions());
        }
        var options = builder.Build();
        // The builder has no setting for it; MQTTnet's own default (8 KB) disables TCP window scaling (SocketBufferBytes).
        ((MqttClientTcpOptions)options.ChannelOptions).BufferSize = o.SocketBufferBytes;
        return options;
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var window = _readAhead?.Current;
        try
        {
            // Acknowledge only once stored: the pipeline calls back after the store write.
            e.AutoAcknowledge = false;
            metrics.Received();
            var atMostOnce = e.ApplicationMessage.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce;
            if (atMostOnce && _entrance.ShedsQos0()) return;
            var acknowledge = atMostOnce ? null : AcknowledgementFor(e, Volatile.Read(ref _connectionNumber));
            var message = _entrance.Message(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload, acknowledge);
            // Waits when the queue is full; when stopping, the message stays unacknowledged at the broker.
            await _entrance.EnterAsync(message, _stopping).ConfigureAwait(false);
        }
        finally
        {
            // The message is in the queue (or ingest is stopping): MQTTnet may read the next one off the connection.
            window?.Release();
        }
    }

    /// <summary>
    /// The acknowledgement the pipeline sends once the message is durable, but only on the connection the message
    /// came on. After a reconnect the broker redelivers what was unacknowledged (with the same packet identifiers if
    /// it kept the session, with new ones for new messages if not), so a stale PUBACK is at best redundant and at worst
    /// acknowledges a different, not yet stored message; the redelivered copy is stored idempotently and acknowledged
    /// in its turn. A failed send (the connection dropped meanwhile) is likewise left to redelivery.
    /// </summary>
    private Func<CancellationToken, Task> AcknowledgementFor(MqttApplicationMessageReceivedEventArgs e, int number) => async cancellationToken =>
    {
        if (number != Volatile.Read(ref _connectionNumber))
        {
            connection.AcknowledgementSkipped();
            return;
        }
        try
        {
            await e.AcknowledgeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            connection.AcknowledgementSkipped();
            logger.LogDebug(ex, "Acknowledgement not sent (the connection dropped); the broker will redeliver the message");
        }
    };
}

/// <summary>The broker answered, and said no: wrong credentials, a refused subscription. Retried, and reported as an error.</summary>
public sealed class BrokerRefusedException(string message) : Exception(message);
