using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sensing.Cockpit;
using Sensing.Ingest.Pipeline;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>service-host</c>: the whole service as <c>cockpit</c> runs it (<see cref="CockpitHost.Build"/>: broker or broker
/// client, ingest, store, analytics, alert book, SignalR hubs), as a child process of <see cref="E2eCommand"/> so its
/// RSS and CPU time are the service's alone. Adds one thing: a stored-readings listener that measures device-to-store
/// latency, the wall clock when a batch is durable minus each reading's event time (the benchmark's devices stamp
/// <c>ts</c> with the wall clock at publish, on the same machine). Reports on stdout every 100 ms:
/// <c>stats &lt;received&gt; &lt;stored&gt; &lt;connected 0|1&gt; &lt;managed heap&gt; &lt;QoS 0 dropped&gt; &lt;reconnects&gt;
/// &lt;queue depth&gt; &lt;latency samples&gt; &lt;p50 ms&gt; &lt;p99 ms&gt; &lt;dead letters&gt; &lt;managed bytes allocated&gt;</c>, latencies since the last
/// <c>mark</c> line on stdin; stops when stdin closes.
/// </summary>
public static class ServiceHostCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var latency = new LatencyListener();
        var app = CockpitHost.Build(args, builder =>
        {
            builder.Logging.ClearProviders();
            // Logs to stderr: stdout carries the stats lines.
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.Services.AddSingleton<IStoredReadingsListener>(latency);
        });
        var metrics = app.Services.GetRequiredService<IngestMetrics>();
        var connection = app.Services.GetRequiredService<Sensing.Ingest.Mqtt.BrokerConnection>();
        await app.StartAsync();
        var stdin = Task.Run(() =>
        {
            while (Console.In.ReadLine() is { } line)
            {
                if (line == "mark") latency.Reset();
            }
        });
        while (!stdin.IsCompleted)
        {
            var (count, p50, p99) = latency.Percentiles();
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"stats {metrics.MessagesReceived} {metrics.ReadingsStored} {(metrics.BrokerConnected && metrics.PipelineReady ? 1 : 0)} {GC.GetGCMemoryInfo().HeapSizeBytes} {connection.Status.Qos0Dropped} {connection.Status.Reconnects} {metrics.QueueDepth} {count} {p50:F1} {p99:F1} {metrics.DeadLetters} {GC.GetTotalAllocatedBytes()}"));
            Console.Out.Flush();
            await Task.WhenAny(stdin, Task.Delay(100));
        }
        await app.StopAsync();
        await app.DisposeAsync();
        return 0;
    }

    /// <summary>
    /// Device-to-store latency in a histogram of 1 ms buckets up to 60 s (one array, no allocation per reading): the
    /// listener runs on ingest's path, so it must cost next to nothing.
    /// </summary>
    private sealed class LatencyListener : IStoredReadingsListener
    {
        private const int Buckets = 60_000;
        private readonly long[] _histogram = new long[Buckets + 1];
        private readonly Lock _gate = new();

        public ValueTask OnStoredAsync(IReadOnlyList<Reading> batch, CancellationToken cancellationToken)
        {
            var now = DateTimeOffset.UtcNow.UtcTicks;
            lock (_gate)
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var ms = (now - batch[i].Time.UtcTicks) / TimeSpan.TicksPerMillisecond;
                    _histogram[Math.Clamp(ms, 0, Buckets)]++;
                }
            }
            return ValueTask.CompletedTask;
        }

        public void Reset()
        {
            lock (_gate) Array.Clear(_histogram);
        }

        public (long Count, double P50, double P99) Percentiles()
        {
            lock (_gate)
            {
                long count = 0;
                foreach (var n in _histogram) count += n;
                if (count == 0) return (0, 0, 0);
                return (count, At(count * 0.50), At(count * 0.99));
            }

            double At(double rank)
            {
                long seen = 0;
                for (var ms = 0; ms <= Buckets; ms++)
                {
                    seen += _histogram[ms];
                    if (seen >= rank) return ms + 0.5;
                }
                return Buckets;
            }
        }
    }
}

/// <summary>
/// <c>broker-host</c>: the service's embedded MQTTnet broker (<see cref="Sensing.Ingest.Mqtt.EmbeddedBroker"/>, the
/// same options the service gives it) alone in a process, so the e2e command can measure its ceiling the way it
/// measures mosquitto's: publishers and a counting subscriber outside it. <c>--port N</c>; prints <c>ready</c>, stops when
/// stdin closes.
/// </summary>
public static class BrokerHostCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var i = Array.IndexOf(args, "--port");
        var port = i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : 1883;
        var options = new Sensing.Ingest.MqttOptions { Port = port, BindAddress = "127.0.0.1" };
        // Anonymous, like the rig's publishers and counting subscriber: the ceiling without the access checks' cost.
        var brokerOptions = new Sensing.Ingest.Mqtt.BrokerOptions { AllowAnonymous = true };
        var access = new Sensing.Ingest.Mqtt.BrokerAccess(brokerOptions, new Sensing.Ingest.Registry.DeviceRegistry(), new Sensing.Ingest.Mqtt.ServiceCredential(options.ClientId));
        await using var broker = new Sensing.Ingest.Mqtt.EmbeddedBroker(Microsoft.Extensions.Options.Options.Create(options),
            Microsoft.Extensions.Options.Options.Create(brokerOptions), access,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Sensing.Ingest.Mqtt.EmbeddedBroker>.Instance);
        await broker.StartAsync(CancellationToken.None);
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        await Task.Run(() => Console.In.ReadToEnd());
        await broker.StopAsync(CancellationToken.None);
        return 0;
    }
}
