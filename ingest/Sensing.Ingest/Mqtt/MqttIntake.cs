using System.Buffers;
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
/// Ingest's MQTT client. Subscribes with QoS 1 on a persistent session and leaves each message
/// unacknowledged until the pipeline has stored it, so a crash or a store outage loses nothing: the broker
/// redelivers. Reconnects with exponential backoff and jitter when the broker goes away.
/// </summary>
public sealed class MqttIntake(
    IOptions<MqttOptions> mqttOptions,
    IOptions<IngestOptions> ingestOptions,
    IngestQueue queue,
    IngestMetrics metrics,
    TimeProvider time,
    ILogger<MqttIntake> logger) : BackgroundService
{
    private readonly SemaphoreSlim _disconnected = new(0, 1);
    private CancellationToken _stopping;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var o = mqttOptions.Value;
        using var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.DisconnectedAsync += e =>
        {
            metrics.SetBrokerConnected(false);
            if (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Disconnected from MQTT broker {Host}:{Port}: {Reason}", o.Host, o.Port, e.ReasonString ?? e.Reason.ToString());
                if (_disconnected.CurrentCount == 0) _disconnected.Release();
            }
            return Task.CompletedTask;
        };

        var connect = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                // Forever: ingest without a broker has nothing to do but wait for it; the cap keeps retries gentle.
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = TimeSpan.FromSeconds(5),
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
                OnRetry = args =>
                {
                    logger.LogWarning("MQTT broker {Host}:{Port} not reachable (attempt {Attempt}): {Error}", o.Host, o.Port, args.AttemptNumber + 1, args.Outcome.Exception?.Message);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

        var clientOptions = BuildClientOptions(o);
        var filters = o.Topics.Select(t => string.IsNullOrEmpty(o.SharedGroup) ? t : $"$share/{o.SharedGroup}/{t}").ToArray();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await connect.ExecuteAsync(async ct =>
                {
                    var result = await client.ConnectAsync(clientOptions, ct).ConfigureAwait(false);
                    // With a persistent session the broker remembers our subscriptions; subscribing again is harmless
                    // and covers a broker that lost its state (restarted without persistence).
                    var subscribe = new MqttClientSubscribeOptionsBuilder();
                    foreach (var filter in filters)
                    {
                        subscribe.WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
                    }
                    await client.SubscribeAsync(subscribe.Build(), ct).ConfigureAwait(false);
                    metrics.SetBrokerConnected(true);
                    logger.LogInformation("Ingest connected to MQTT broker {Host}:{Port} as {ClientId} (session present: {SessionPresent}), subscribed to {Filters}",
                        o.Host, o.Port, o.ClientId, result.IsSessionPresent, string.Join(", ", filters));
                }, stoppingToken).ConfigureAwait(false);

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
                await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval((uint)o.SessionExpirySeconds).Build(), CancellationToken.None).ConfigureAwait(false);
            }
            metrics.SetBrokerConnected(false);
        }
    }

    private static MqttClientOptions BuildClientOptions(MqttOptions o)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(o.Host, o.Port)
            .WithClientId(o.ClientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)o.SessionExpirySeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15));
        if (!string.IsNullOrEmpty(o.Username))
        {
            builder.WithCredentials(o.Username, o.Password);
        }
        if (o.UseTls)
        {
            builder.WithTlsOptions(t => t.UseTls());
        }
        return builder.Build();
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        // Acknowledge only once stored: the pipeline calls back after the store write.
        e.AutoAcknowledge = false;
        metrics.Received();
        var payload = e.ApplicationMessage.Payload;
        var receivedAt = time.GetUtcNow();
        var cap = ingestOptions.Value.MaxPayloadBytes;
        PendingMessage message;
        if (payload.Length > cap)
        {
            // Too large to read: keep the head for the dead letter and let the pipeline record the reason.
            var head = payload.Slice(0, Math.Min(payload.Length, DeadLetter.MaxPayloadBytes)).ToArray();
            message = new OversizedMessage(e.ApplicationMessage.Topic, head, (int)payload.Length, receivedAt, e.AcknowledgeAsync);
        }
        else if (payload.IsSingleSegment)
        {
            message = new PendingMessage(e.ApplicationMessage.Topic, payload.FirstSpan, receivedAt, e.AcknowledgeAsync);
        }
        else
        {
            var copy = ArrayPool<byte>.Shared.Rent((int)payload.Length);
            payload.CopyTo(copy);
            message = new PendingMessage(e.ApplicationMessage.Topic, copy.AsSpan(0, (int)payload.Length), receivedAt, e.AcknowledgeAsync);
            ArrayPool<byte>.Shared.Return(copy);
        }
        // Waits when the queue is full: that wait is the backpressure that keeps the rest at the broker.
        await queue.EnqueueAsync(message, _stopping).ConfigureAwait(false);
    }
}
