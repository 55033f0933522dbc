using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Server;

namespace Sensing.Simulators.Tests;

public sealed class DemoFeedPublisherTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Publisher_waits_for_a_late_broker_then_publishes_the_backfill_and_goes_live()
    {
        var port = FreePort();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:Host"] = "127.0.0.1",
            ["Mqtt:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Demo:BackfillDays"] = "1",
        });
        var loads = 0;
        builder.Services.AddSensingDemoFeed(builder.Configuration, (_, _) =>
        {
            Interlocked.Increment(ref loads);
            return Task.FromResult<IReadOnlyDictionary<string, (DateTimeOffset Time, double Total)>>(new Dictionary<string, (DateTimeOffset, double)>());
        });
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(s_timeout);
        await host.StartAsync(timeout.Token);

        // The broker comes up after the feed has started trying, as it may in the host.
        await Task.Delay(TimeSpan.FromSeconds(1), timeout.Token);
        var received = new ConcurrentQueue<string>();
        using var broker = new MqttServerFactory().CreateMqttServer(
            new MqttServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointPort(port).Build());
        broker.InterceptingPublishAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        await broker.StartAsync();

        var backfill = 25 * 120;
        while (!(received.Count > backfill && received.Any(t => t.Contains("/gate/")) && received.Any(t => t.Contains("/camera/"))))
            await Task.Delay(50, timeout.Token);

        Assert.Equal(1, loads);
        Assert.All(received.Take(backfill), t => Assert.Contains("/meter/", t));
        await host.StopAsync(timeout.Token);
        await broker.StopAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
