using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.Alerts;
using StackExchange.Redis;

namespace Sensing.Cockpit.ScaleOut;

/// <summary>One alert-book change on the Redis channel <c>&lt;prefix&gt;:alerts</c>: which instance made it, and the alert as it now is.</summary>
internal sealed record AlertChangeMessage([property: JsonPropertyName("from")] string From, [property: JsonPropertyName("alert")] Alert Alert);

/// <summary>
/// Sends this instance's alert-book changes to the other instances (<see cref="IAlertReplica"/>), on the backplane's
/// Redis connection. Fire and forget: Redis pub/sub keeps nothing for an instance that is away, which catches up from
/// the store when it starts (a shared store: InfluxDB; see the README's scale-out section).
/// </summary>
public sealed class AlertReplica(RedisBackplane backplane, ILogger<AlertReplica> logger) : IAlertReplica
{
    internal static readonly RedisChannel Channel = RedisChannel.Literal("alerts");

    public async ValueTask ShareAsync(Alert alert)
    {
        try
        {
            var connection = await backplane.ConnectAsync();
            var message = JsonSerializer.SerializeToUtf8Bytes(new AlertChangeMessage(backplane.Instance, alert));
            await connection.GetSubscriber().PublishAsync(Channel, message, CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException)
        {
            logger.LogWarning(ex, "Could not share alert {Id} with the other instances", alert.Id);
        }
    }
}

/// <summary>
/// Listens on <c>&lt;prefix&gt;:alerts</c> and has this instance's book learn the others' changes, in the order Redis
/// delivers them (one queue, so a raise is learned before its acknowledgement). Starts after the book has loaded.
/// With <c>SignalR:RedisRequired</c> it is also what refuses the start when Redis cannot be reached.
/// </summary>
public sealed class AlertReplication(RedisBackplane backplane, AlertBook book, IOptions<BackplaneOptions> options, ILogger<AlertReplication> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RedisRequired)
        {
            var connection = await backplane.ConnectAsync().WaitAsync(cancellationToken);
            if (!connection.IsConnected)
            {
                var status = backplane.Status;
                throw new InvalidOperationException(
                    $"SignalR:RedisRequired is true and the Redis backplane at {status.Endpoint} cannot be reached ({status.LastError}); not starting. " +
                    "Set SignalR:RedisRequired=false to start without it (pushes wait for Redis) or empty SignalR:Redis for a single instance.");
            }
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await backplane.ConnectAsync().WaitAsync(stoppingToken);
        ChannelMessageQueue? queue = null;
        // While Redis is away the subscription cannot be sent; StackExchange.Redis renews known subscriptions when the
        // connection comes back, but only those it accepted, so keep asking until it does.
        while (queue is null)
        {
            try
            {
                queue = await connection.GetSubscriber().SubscribeAsync(AlertReplica.Channel);
            }
            catch (RedisException ex)
            {
                logger.LogDebug(ex, "Alert replication: subscribing failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
        await using var _ = stoppingToken.Register(() => queue.Unsubscribe());
        try
        {
            await foreach (var message in queue.WithCancellation(stoppingToken))
            {
                await LearnAsync(message.Message, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task LearnAsync(RedisValue payload, CancellationToken cancellationToken)
    {
        AlertChangeMessage? change;
        try
        {
            change = JsonSerializer.Deserialize<AlertChangeMessage>((byte[])payload!);
        }
        catch (JsonException ex)
        {
            // Something else publishes on our channel (a foreign tool, an incompatible version): say so, and carry on.
            logger.LogWarning("Alert replication: ignored a message that is not an alert change ({Error})", ex.Message);
            return;
        }
        if (change is null || change.From == backplane.Instance) return;
        try
        {
            await book.LearnAsync(change.Alert, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The store refused it; our book misses this version until the next change of the alert or a restart.
            logger.LogWarning(ex, "Alert replication: could not learn alert {Id} from {Instance}", change.Alert.Id, change.From);
        }
    }
}
