using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace Sensing.Simulators;

/// <summary>Where the demo feed publishes and how it learns what the store already holds; built by <see cref="DemoFeedServiceCollectionExtensions"/>.</summary>
internal sealed record DemoFeedSetup(
    string BrokerHost,
    int BrokerPort,
    Func<IServiceProvider, CancellationToken, Task<IReadOnlyDictionary<string, (DateTimeOffset Time, double Total)>>> LoadRegisters);

/// <summary>
/// Publishes the <see cref="DemoFeed"/>: waits for the broker (it starts in the same process), publishes the
/// backfill as fast as the broker acknowledges it, then the live feed until the host stops.
/// A failing demo never stops the host: errors are logged and the feed ends.
/// </summary>
internal sealed class DemoFeedPublisher(
    IOptions<DemoOptions> options,
    DemoFeedSetup setup,
    IServiceProvider services,
    TimeProvider time,
    ILogger<DemoFeedPublisher> logger) : BackgroundService
{
    // Messages of one event-time slot are published concurrently (QoS 1, all awaited). A slot holds each
    // meter at most once, so concurrency can never reorder one meter's readings at the broker.
    private const int MaxInFlight = 256;
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_maxRetryDelay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_liveProgressEvery = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var demo = options.Value;
        if (!demo.Enabled)
        {
            logger.LogInformation("Demo feed disabled (Demo:Enabled=false)");
            return;
        }

        // Let the host finish starting: everything before the first real await would run inside StartAsync.
        await Task.Yield();
        try
        {
            await RunAsync(demo, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Demo feed stopped");
        }
    }

    private async Task RunAsync(DemoOptions demo, CancellationToken stoppingToken)
    {
        var registers = await setup.LoadRegisters(services, stoppingToken);
        var feed = DemoFeed.Create(DemoWorld.Create(demo.Seed), demo.Seed, time.GetUtcNow(), registers, demo.BackfillDays);
        if (feed.Incident is { } incident)
            logger.LogInformation("Demo feed: fresh start, incident planted for household {Household} (community {Community}, grid {Grid}) from {Onset:O}",
                incident.Household, incident.Community, incident.Grid, incident.Onset);
        else
            logger.LogInformation("Demo feed: resuming {Meters} meter registers from the store", registers.Count);

        using var client = new MqttClientFactory().CreateMqttClient();
        var clientOptions = new MqttClientOptionsBuilder()
            .WithTcpServer(setup.BrokerHost, setup.BrokerPort)
            .WithClientId($"sensing-demo-feed-{Environment.ProcessId}")
            .WithCleanSession()
            .WithTimeout(s_connectTimeout)
            .Build();
        await ConnectAsync(client, clientOptions, stoppingToken);

        await PublishBackfillAsync(client, clientOptions, feed, stoppingToken);

        logger.LogInformation("Demo feed: live at up to {Rate} messages/s; camera {Camera} goes silent after {Silent}",
            demo.LiveRatePerSecond, feed.SilentCamera, DemoFeed.SilentAfter);
        var published = 0L;
        var nextReport = time.GetUtcNow() + s_liveProgressEvery;
        var one = new FeedMessage[1];
        await foreach (var message in feed.LiveAsync(time, demo.LiveRatePerSecond, stoppingToken))
        {
            one[0] = message;
            await PublishAsync(client, clientOptions, one, stoppingToken);
            published++;
            if (message.Time >= nextReport)
            {
                logger.LogInformation("Demo feed: {Published} live messages published", published);
                nextReport = message.Time + s_liveProgressEvery;
            }
        }
    }

    private async Task PublishBackfillAsync(IMqttClient client, MqttClientOptions clientOptions, DemoFeed feed, CancellationToken stoppingToken)
    {
        logger.LogInformation("Demo feed: publishing backfill of {Count} meter readings up to {Now:O}", feed.BackfillCount, feed.Now);
        var stopwatch = Stopwatch.StartNew();
        var batch = new List<FeedMessage>(MaxInFlight);
        var published = 0;
        var nextReport = feed.BackfillCount / 10;
        foreach (var message in feed.Backfill())
        {
            if (batch.Count == MaxInFlight || (batch.Count > 0 && batch[0].Time != message.Time))
            {
                await PublishAsync(client, clientOptions, batch, stoppingToken);
                published += batch.Count;
                batch.Clear();
                if (published >= nextReport)
                {
                    logger.LogInformation("Demo feed: backfill {Published}/{Count}", published, feed.BackfillCount);
                    nextReport += Math.Max(1, feed.BackfillCount / 10);
                }
            }
            batch.Add(message);
        }
        await PublishAsync(client, clientOptions, batch, stoppingToken);
        published += batch.Count;
        logger.LogInformation("Demo feed: backfill of {Published} readings published in {Elapsed:F1} s", published, stopwatch.Elapsed.TotalSeconds);
    }

    /// <summary>Publishes a batch at QoS 1 and awaits every acknowledgement; on a lost connection, reconnects and publishes the batch again (QoS 1 allows the duplicates).</summary>
    private async Task PublishAsync(IMqttClient client, MqttClientOptions clientOptions, IReadOnlyList<FeedMessage> batch, CancellationToken stoppingToken)
    {
        if (batch.Count == 0)
            return;
        var publishes = new Task<MqttClientPublishResult>[batch.Count];
        while (true)
        {
            try
            {
                for (var i = 0; i < batch.Count; i++)
                    publishes[i] = client.PublishAsync(ToApplicationMessage(batch[i]), stoppingToken);
                await Task.WhenAll(publishes);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Demo feed: publish failed; retrying");
                if (!client.IsConnected)
                    await ConnectAsync(client, clientOptions, stoppingToken);
                else
                    await Task.Delay(s_maxRetryDelay, time, stoppingToken);
            }
        }
    }

    private async Task ConnectAsync(IMqttClient client, MqttClientOptions clientOptions, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await client.ConnectAsync(clientOptions, stoppingToken);
                logger.LogInformation("Demo feed: connected to broker {Host}:{Port}", setup.BrokerHost, setup.BrokerPort);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The broker is usually starting in this same process: the first miss is expected, the tenth is news.
                if (attempt == 1 || attempt % 10 == 0)
                    logger.LogInformation("Demo feed: waiting for broker {Host}:{Port} (attempt {Attempt}: {Reason})", setup.BrokerHost, setup.BrokerPort, attempt, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(250 * attempt, s_maxRetryDelay.TotalMilliseconds)), time, stoppingToken);
            }
        }
    }

    private static MqttApplicationMessage ToApplicationMessage(FeedMessage message) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(new ReadOnlySequence<byte>(message.Payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
}
