using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Ingest;
using Sensing.Ingest.Pipeline;
using Sensing.Storage;
using Sensing.Testing;

namespace Sensing.Benchmarks;

/// <summary>
/// Messages/s through a real mosquitto into the store, and the ingest process's memory while a burst waits.
/// Starts mosquitto (<see cref="MosquittoServer"/>, no per-client queue limit) and ingest as a child process of this
/// program (<c>ingest-host</c>: the service's ingest and DuckDB store, nothing else, so its RSS is ingest's), then
/// publishes gate passes and camera events (one reading each, every one a new key) over several connections, either as
/// fast as the publisher can (<c>--rate 0</c>) or at a paced rate, and waits until the store has them all. With
/// <c>--backlog</c> (QoS 1) ingest is stopped first, everything is published while it is away, and the broker sends
/// the whole backlog when it returns: the largest burst there is, at whatever rate ingest lets the broker send.
/// <code>
/// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- broker-load --qos 1 --messages 300000 [--rate 0] [--backlog] [--receive-maximum 10000] [--mosquitto 'max_inflight_messages 20'] [--Ingest:BatchSize=5000 …]
/// </code>
/// Prints publish and end-to-end rates (messages/s), and the child's RSS: peak (VmHWM) and sampled every 100 ms.
/// Further <c>--Section:Key=value</c> arguments go to the ingest process.
/// </summary>
public static class BrokerLoadCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var qos = IntOption(args, "--qos", 1) == 0 ? MqttQualityOfServiceLevel.AtMostOnce : MqttQualityOfServiceLevel.AtLeastOnce;
        var total = IntOption(args, "--messages", 300_000);
        var rate = IntOption(args, "--rate", 0);
        var receiveMaximum = IntOption(args, "--receive-maximum", 10_000);
        var connections = IntOption(args, "--connections", 4);
        // The burst of bursts: everything published while ingest is away, sent by the broker as fast as ingest lets it.
        var backlog = args.Contains("--backlog");
        if (backlog && qos == MqttQualityOfServiceLevel.AtMostOnce)
        {
            Console.Error.WriteLine("--backlog needs QoS 1: a broker keeps no QoS 0 messages for a client that is away.");
            return 2;
        }

        // --mosquitto 'line' (repeatable) adds to mosquitto.conf; a later line wins, e.g. 'max_inflight_messages 20'.
        var brokerLines = args.Select((a, i) => (a, i)).Where(p => p.a == "--mosquitto" && p.i + 1 < args.Length).Select(p => args[p.i + 1]).ToArray();
        await using var broker = await MosquittoServer.StartAsync(new MosquittoSettings { ExtraConfig = brokerLines });
        var folder = Directory.CreateTempSubdirectory("sensing-broker-load-").FullName;
        var start = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds());
        var feed = Feed(total, start);
        var publishers = new IMqttClient[connections];
        string[] ingestArguments =
        [
            "--Mqtt:Embedded=false", "--Mqtt:Host=127.0.0.1", $"--Mqtt:Port={broker.Port}", "--Mqtt:ClientId=broker-load",
            $"--Mqtt:ReceiveMaximum={receiveMaximum}", $"--Store:Path={Path.Combine(folder, "load.duckdb")}",
            $"--Registry:Path={Path.Combine(folder, "registry.json")}",
            .. args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains(':', StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal)),
        ];
        var ingest = IngestProcess.Start(ingestArguments);
        var clock = new Stopwatch();
        try
        {
            await ingest.WaitUntilConnectedAsync(TimeSpan.FromSeconds(60));
            for (var i = 0; i < connections; i++) publishers[i] = await broker.ConnectClientAsync($"load-{i}");
            if (backlog)
            {
                // Subscribed with a persistent session: stop it, and the broker keeps what is published meanwhile.
                await ingest.StopAsync();
                ingest.Dispose();
                var queued = Stopwatch.StartNew();
                await PublishAsync(publishers, feed, qos, rate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"published {total:N0} messages (QoS 1) while ingest was away, in {queued.Elapsed.TotalSeconds:F1} s"));
                // From the process start: without a Receive Maximum the broker pours the backlog in before the SUBACK,
                // so "connected" would come after most of the transfer.
                clock.Start();
                ingest = IngestProcess.Start(ingestArguments);
                await ingest.WaitUntilConnectedAsync(TimeSpan.FromSeconds(120));
            }
            var idleRss = ingest.RssBytes();

            clock.Start();
            if (!backlog)
            {
                await PublishAsync(publishers, feed, qos, rate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"published {total:N0} messages (QoS {(int)qos}) in {clock.Elapsed.TotalSeconds:F1} s = {total / clock.Elapsed.TotalSeconds:N0} msg/s; ingest has {ingest.Stored:N0} stored, RSS {ingest.RssBytes() / 1e6:F0} MB"));
            }

            // QoS 0 may lose messages by definition (a broker queue overflow, say): stop when the store stops growing.
            var last = -1L;
            var still = Stopwatch.StartNew();
            while (ingest.Stored + ingest.Qos0Dropped < total && still.Elapsed < TimeSpan.FromSeconds(qos == MqttQualityOfServiceLevel.AtMostOnce ? 10 : 120))
            {
                await Task.Delay(50);
                if (ingest.Stored != last) { last = ingest.Stored; still.Restart(); }
                if (ingest.HasExited) throw new InvalidOperationException($"ingest exited: {ingest.Log()}");
            }
            var done = ingest.Stored >= total ? clock.Elapsed : clock.Elapsed - still.Elapsed;
            var measuredFrom = backlog ? "from ingest's start" : "from the first publish";
            var (stored, received) = (ingest.Stored, ingest.Received);
            var (peakSampled, peak) = (ingest.PeakSampledRssBytes, ingest.PeakRssBytes());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"broker-load QoS {(int)qos}, receive maximum {(receiveMaximum == 0 ? "off" : receiveMaximum.ToString("N0", CultureInfo.InvariantCulture))}, {(backlog ? "backlog" : rate == 0 ? "max-rate publish" : $"{rate:N0} msg/s publish")}: " +
                $"{stored:N0} of {total:N0} stored ({received:N0} reached ingest, {ingest.Qos0Dropped:N0} QoS 0 shed, {ingest.Reconnects} reconnects) in {done.TotalSeconds:F1} s {measuredFrom} = {stored / done.TotalSeconds:N0} msg/s end to end"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ingest RSS: {(backlog ? "at connect" : "idle")} {idleRss / 1e6:F0} MB, peak {peak / 1e6:F0} MB (VmHWM; sampled peak {peakSampled / 1e6:F0} MB); managed heap peak {ingest.PeakHeapBytes / 1e6:F0} MB"));
            if (stored < total || Environment.GetEnvironmentVariable("SENSING_BROKER_LOG") == "1")
            {
                // Where did the rest go? mosquitto says when it drops messages for a client.
                foreach (var line in broker.Log().Split(Environment.NewLine)) Console.WriteLine("mosquitto: " + line);
            }
            return 0;
        }
        finally
        {
            foreach (var client in publishers) client?.Dispose();
            await ingest.StopAsync();
            ingest.Dispose();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Gate passes and camera detections of 2,000 devices over 10 communities, each message its own reading key.</summary>
    private static List<(string Topic, byte[] Payload)> Feed(int count, DateTimeOffset start)
    {
        var feed = new List<(string, byte[])>(count);
        for (var i = 0; i < count; i++)
        {
            var device = i % 2000;
            var community = $"c{device % 10 + 1}";
            var ts = start.AddMilliseconds(i).ToUnixTimeMilliseconds();
            feed.Add(device % 2 == 0
                ? ($"sensing/{community}/gate/{community}-gate-{device:D4}", Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $$"""{"ts":{{ts}},"event":"pass","direction":"{{(i % 3 == 0 ? "out" : "in")}}","credential":"face"}""")))
                : ($"sensing/{community}/camera/{community}-cam-{device:D4}", Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $$"""{"ts":{{ts}},"event":"person","count":{{i % 7 + 1}},"zone":"east-gate"}"""))));
        }
        return feed;
    }

    /// <summary>As fast as it goes (<paramref name="rate"/> 0), or in 10 ms slices of <paramref name="rate"/>/100 messages.</summary>
    private static async Task PublishAsync(IMqttClient[] clients, List<(string Topic, byte[] Payload)> feed, MqttQualityOfServiceLevel qos, int rate)
    {
        if (rate == 0)
        {
            await FeedPublisher.PublishAsync(clients, feed, qos);
            return;
        }
        var slice = Math.Max(1, rate / 100);
        var clock = Stopwatch.StartNew();
        for (var sent = 0; sent < feed.Count; sent += slice)
        {
            await FeedPublisher.PublishAsync(clients, feed.GetRange(sent, Math.Min(slice, feed.Count - sent)), qos);
            // One read of the clock: a second one for the delay could be past the due time, and a negative delay throws.
            var wait = TimeSpan.FromSeconds((double)(sent + slice) / rate) - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
        }
    }

    /// <summary>
    /// The ingest process: this program's <c>ingest-host</c> command. It reports its counters on stdout every 100 ms;
    /// its RSS comes from <c>/proc/&lt;pid&gt;/status</c>.
    /// </summary>
    internal sealed class IngestProcess : IDisposable
    {
        private readonly Process _process;
        private readonly Queue<string> _log = new();
        private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Timer _sampler;
        private bool _stopping;
        private long _stored;
        private long _received;
        private long _peakHeap;
        private long _dropped;
        private long _reconnects;
        private long _peakSampled;
        private long _queueDepth;
        private long _deadLetters;
        private (long Count, double P50, double P99) _latency;
        private long _allocated;

        private IngestProcess(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => OnLine(e.Data);
            _process.ErrorDataReceived += (_, e) => Remember(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            _sampler = new Timer(_ => Sample(), null, 0, 100);
        }

        public long Stored => Interlocked.Read(ref _stored);
        public long Received => Interlocked.Read(ref _received);
        public long PeakHeapBytes => Interlocked.Read(ref _peakHeap);
        public long Qos0Dropped => Interlocked.Read(ref _dropped);
        public long Reconnects => Interlocked.Read(ref _reconnects);
        public long PeakSampledRssBytes => Interlocked.Read(ref _peakSampled);
        public bool HasExited => _process.HasExited;
        public int Id => _process.Id;
        /// <summary>Messages received but not yet stored (service-host only; 0 from ingest-host).</summary>
        public long QueueDepth => Interlocked.Read(ref _queueDepth);
        public long DeadLetters => Interlocked.Read(ref _deadLetters);
        /// <summary>Managed bytes the child has allocated so far (service-host only).</summary>
        public long AllocatedBytes => Interlocked.Read(ref _allocated);
        /// <summary>Device-to-store latency since the last <see cref="Mark"/> (service-host only).</summary>
        public (long Count, double P50, double P99) Latency { get { lock (_log) return _latency; } }

        public static IngestProcess Start(string[] arguments) => Start("ingest-host", arguments);

        /// <summary>Starts this program's <paramref name="command"/> (<c>ingest-host</c> or <c>service-host</c>) as a child.</summary>
        public static IngestProcess Start(string command, string[] arguments)
        {
            var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
            var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BrokerLoadCommand).Assembly.Location);
            start.ArgumentList.Add(command);
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            // The service runs with cockpit's runtime settings (Sensing.Cockpit.csproj): no thread-pool spinning. Set for
            // the child alone, so the publishers and the ceiling's subscriber in this process stay as they were measured.
            if (command == "service-host") start.Environment.TryAdd("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit", "0");
            return new IngestProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the ingest process"));
        }

        public async Task WaitUntilConnectedAsync(TimeSpan timeout)
        {
            try
            {
                await _connected.Task.WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"ingest did not connect within {timeout.TotalSeconds:0} s: {Log()}");
            }
        }

        /// <summary>Starts a new latency window in the child (service-host).</summary>
        public void Mark()
        {
            _process.StandardInput.WriteLine("mark");
            _process.StandardInput.Flush();
        }

        /// <summary>User + system CPU time of the child so far (<c>/proc/&lt;pid&gt;/stat</c>, clock ticks of 1/100 s).</summary>
        public double CpuSeconds() => ProcessCpu.Seconds(_process.Id);

        public long RssBytes() => Status("VmRSS:");
        public long PeakRssBytes() => Status("VmHWM:");

        private long Status(string field)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
                {
                    if (line.StartsWith(field, StringComparison.Ordinal))
                    {
                        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                    }
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
            return 0;
        }

        private void Sample()
        {
            var rss = RssBytes();
            if (rss > Interlocked.Read(ref _peakSampled)) Interlocked.Exchange(ref _peakSampled, rss);
        }

        private void OnLine(string? line)
        {
            // "stats <received> <stored> <connected> <managed heap bytes> <QoS 0 dropped> <reconnects>"
            if (line is not null && line.StartsWith("stats ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                var received = long.Parse(parts[1], CultureInfo.InvariantCulture);
                var stored = long.Parse(parts[2], CultureInfo.InvariantCulture);
                Interlocked.Exchange(ref _stored, stored);
                Interlocked.Exchange(ref _received, received);
                var heap = long.Parse(parts[4], CultureInfo.InvariantCulture);
                Interlocked.Exchange(ref _dropped, long.Parse(parts[5], CultureInfo.InvariantCulture));
                Interlocked.Exchange(ref _reconnects, long.Parse(parts[6], CultureInfo.InvariantCulture));
                if (heap > Interlocked.Read(ref _peakHeap)) Interlocked.Exchange(ref _peakHeap, heap);
                if (parts.Length >= 12)
                {
                    Interlocked.Exchange(ref _queueDepth, long.Parse(parts[7], CultureInfo.InvariantCulture));
                    var latency = (long.Parse(parts[8], CultureInfo.InvariantCulture), double.Parse(parts[9], CultureInfo.InvariantCulture), double.Parse(parts[10], CultureInfo.InvariantCulture));
                    lock (_log) _latency = latency;
                    Interlocked.Exchange(ref _deadLetters, long.Parse(parts[11], CultureInfo.InvariantCulture));
                    if (parts.Length >= 13) Interlocked.Exchange(ref _allocated, long.Parse(parts[12], CultureInfo.InvariantCulture));
                }
                if (parts[3] == "1") _connected.TrySetResult();
                return;
            }
            Remember(line);
        }

        private void Remember(string? line)
        {
            if (line is null) return;
            lock (_log)
            {
                // The child's warnings and errors (spooling, slow writes, reconnects), kept whole when asked for.
                if (Environment.GetEnvironmentVariable("SENSING_BENCH_CHILD_LOG") is { Length: > 0 } path)
                {
                    File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss.fff} [{_process.Id}] {line}{Environment.NewLine}");
                }
                _log.Enqueue(line);
                if (_log.Count > 50) _log.Dequeue();
            }
        }

        public string Log()
        {
            lock (_log) return string.Join(Environment.NewLine, _log);
        }

        public async Task StopAsync()
        {
            await _sampler.DisposeAsync();
            if (_process.HasExited || _stopping) return;
            _stopping = true;
            // Closing stdin asks the child to stop (it watches for EOF); kill it if it does not.
            _process.StandardInput.Close();
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Disposed already.
            }
            _process.Dispose();
        }
    }

    internal static int IntOption(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : fallback;
    }
}

/// <summary>
/// <c>ingest-host</c>: the service's ingest (MQTT intake, pipeline, spool) and store, composed as the host composes them,
/// for <see cref="BrokerLoadCommand"/>. Reports <c>stats &lt;messages received&gt; &lt;readings stored&gt; &lt;connected 0|1&gt; &lt;managed heap bytes&gt;
/// &lt;QoS 0 dropped&gt; &lt;reconnects&gt;</c> on
/// stdout every 100 ms; stops when stdin closes (its parent went away).
/// </summary>
public static class IngestHostCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddCommandLine(args);
        // Logs to stderr: stdout carries the stats lines.
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole(o => o.SingleLine = true)
            .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        builder.Services.AddSensingStore(builder.Configuration);
        builder.Services.AddSensingIngest(builder.Configuration);
        using var host = builder.Build();
        var metrics = host.Services.GetRequiredService<IngestMetrics>();
        var connection = host.Services.GetRequiredService<Sensing.Ingest.Mqtt.BrokerConnection>();
        await host.StartAsync();
        var stdin = Task.Run(() => Console.In.ReadToEnd());
        while (!stdin.IsCompleted)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"stats {metrics.MessagesReceived} {metrics.ReadingsStored} {(metrics.BrokerConnected && metrics.PipelineReady ? 1 : 0)} {GC.GetGCMemoryInfo().HeapSizeBytes} {connection.Status.Qos0Dropped} {connection.Status.Reconnects}"));
            Console.Out.Flush();
            await Task.WhenAny(stdin, Task.Delay(100));
        }
        await host.StopAsync();
        return 0;
    }
}
