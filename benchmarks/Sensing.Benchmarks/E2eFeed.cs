using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Sensing.Simulators;
using Sensing.Simulators.Simulate;

namespace Sensing.Benchmarks;

/// <summary>
/// The e2e feed: a street office built by the simulator (<see cref="SimulatedWorld"/>, 40 communities of 2,000
/// households, 400 cameras, 4 gates and 3 lots each by default: ~176,000 devices, all in the registry the service
/// loads), every device in turn in a seeded shuffled order, each message written by the simulator's native
/// <see cref="PayloadWriter"/>: meter registers (rising at a household's usual rate), gate passes, lot counts, camera detections and
/// heartbeats. <c>ts</c> is the wall clock at publish, to the millisecond, so the service's stored readings tell the
/// device-to-store latency, and a device comes round again only after every other device (seconds later at any rate
/// here), so no two messages share a reading key and none is deduplicated away.
/// </summary>
internal sealed class E2eFeed
{
    private readonly SimulatedWorld _world;
    private readonly int[] _order;
    private readonly string[] _topics;

    public E2eFeed(int communities, int seed = 2026)
    {
        _world = SimulatedWorld.Create(new WorldOptions { Communities = communities }, seed);
        var devices = _world.Devices;
        _order = [.. Enumerable.Range(0, devices.Count)];
        new Random(seed).Shuffle(_order);
        var writer = new PayloadWriter();
        _topics = [.. devices.Select(d => writer.Topic(_world.Communities[d.Community].Id, d.Kind, d.Id))];
        Gates = [.. devices.Select((d, i) => (d, i)).Where(p => p.d.Kind == DeviceKind.Gate).Select(p => p.i)];
    }

    public int Devices => _world.Devices.Count;
    public int Households => _world.Households.Count;
    public int Communities => _world.Communities.Count;

    /// <summary>Device indexes of the gates, for the alert probe's <c>forced</c> events.</summary>
    public IReadOnlyList<int> Gates { get; }

    public void WriteRegistry(string path) => TruthFile.WriteRegistry(path, _world, []);

    /// <summary>Mean topic + payload bytes over one pass of <paramref name="sample"/> messages.</summary>
    public (double Topic, double Payload) MeanSizes(int sample = 20_000)
    {
        var lane = Lane(0, 1);
        long topic = 0, payload = 0;
        for (var i = 0; i < sample; i++)
        {
            var (t, p) = lane.Next(DateTimeOffset.UtcNow);
            topic += System.Text.Encoding.UTF8.GetByteCount(t);
            payload += p.Length;
        }
        return ((double)topic / sample, (double)payload / sample);
    }

    /// <summary>The share of the devices that lane <paramref name="index"/> of <paramref name="lanes"/> publishes for (a device is always on the same lane).</summary>
    public FeedLane Lane(int index, int lanes) => new(this, index, lanes);

    /// <summary>A gate's door forced open now: raises <c>gate_forced</c> at once.</summary>
    public (string Topic, byte[] Payload) Forced(int gate, DateTimeOffset now) =>
        (_topics[gate], new PayloadWriter().Gate(Millis(now), "forced", "in", null, null).ToArray());

    public string DeviceId(int index) => _world.Devices[index].Id;

    public string CommunityOf(int index) => _world.Communities[_world.Devices[index].Community].Id;

    private static DateTimeOffset Millis(DateTimeOffset now) => DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());

    /// <summary>One publisher connection's devices; not thread-safe (one per connection).</summary>
    internal sealed class FeedLane(E2eFeed feed, int index, int lanes)
    {
        private static readonly DateTimeOffset RegisterEpoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        private readonly PayloadWriter _writer = new();
        private readonly int _count = (feed._order.Length - index + lanes - 1) / lanes;
        private long _next;

        public (string Topic, byte[] Payload) Next(DateTimeOffset now)
        {
            var n = _next++;
            var round = (int)(n / _count);
            var device = feed._order[index + (int)(n % _count) * lanes];
            var d = feed._world.Devices[device];
            var time = Millis(now);
            var payload = d.Kind switch
            {
                DeviceKind.Meter => _writer.Meter(time, d.Meter, Register(device, d.Meter == MeterType.Water, time), feed._world.Households[d.Household].Id),
                DeviceKind.Gate => _writer.Gate(time, "pass", round % 2 == 0 ? "out" : "in", "face", null),
                DeviceKind.Parking => _writer.Lot(time, d.Label, Math.Max(0, d.Capacity / 2 - round % 20), d.Capacity),
                _ => round % 3 == 0 ? _writer.Camera(time, "online", null, d.Label) : _writer.Camera(time, round % 3 == 1 ? "person" : "vehicle", 1 + (device + round) % 6, d.Label),
            };
            return (feed._topics[device], payload.ToArray());
        }

        /// <summary>
        /// A meter's register at <paramref name="time"/>: risen since <see cref="RegisterEpoch"/> at its household's
        /// mean rate (water 18–32 L/h, electricity 0.25–0.5 kW, the simulator's households' range), whatever the offered
        /// rate, so every step and every publisher agree and a register never goes back. It used to rise by a fixed step
        /// each round; at 20,000 msg/s a meter comes round every ~9 s, so every flat's water then ran at ~5 m³/h, a
        /// burst pipe in each of 80,000 flats, which no street office sees and which kept the water-leak detector's
        /// burst evidence for every meter in the service's heap.
        /// </summary>
        internal static double Register(int device, bool water, DateTimeOffset time)
        {
            var spread = device * 0.6180339887 % 1;
            var perHour = water ? 0.018 + 0.014 * spread : 0.25 + 0.25 * spread;
            return 100 + device % 1000 + (time - RegisterEpoch).TotalHours * perHour;
        }
    }
}

/// <summary>
/// Publishes the feed at an offered rate (or as fast as it goes, rate 0) over several MQTT 5 connections, each lane
/// keeping up to <c>window</c> publishes in flight (QoS 1 waits for PUBACKs; QoS 0 for the socket write), paced in
/// small slices against the clock. Counts what the broker accepted.
/// </summary>
internal sealed class LoadPublisher : IAsyncDisposable
{
    private readonly IMqttClient[] _clients;
    private readonly E2eFeed.FeedLane[] _lanes;
    private long _published;
    private long _failed;
    private long _attempted;

    private LoadPublisher(IMqttClient[] clients, E2eFeed.FeedLane[] lanes) => (_clients, _lanes) = (clients, lanes);

    public long Published => Interlocked.Read(ref _published);
    public long Failed => Interlocked.Read(ref _failed);
    /// <summary>Publishes started (accepted or not yet): what the feed has offered so far.</summary>
    public long Attempted => Interlocked.Read(ref _attempted);

    public static async Task<LoadPublisher> ConnectAsync(E2eFeed feed, int port, int connections, string prefix)
    {
        var clients = new IMqttClient[connections];
        for (var i = 0; i < connections; i++) clients[i] = await ConnectAsync(port, $"{prefix}-{i}");
        return new LoadPublisher(clients, [.. Enumerable.Range(0, connections).Select(i => feed.Lane(i, connections))]);
    }

    /// <summary>
    /// A client as the benchmark's devices are (MQTTnet's default 8 KB socket buffers), or with <paramref name="socketBuffer"/>:
    /// the ceiling's subscriber gets the service's own <c>Mqtt:SocketBufferBytes</c>, so both read from the broker alike.
    /// </summary>
    public static async Task<IMqttClient> ConnectAsync(int port, string clientId, int? socketBuffer = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCleanStart(true).WithTimeout(TimeSpan.FromSeconds(30)).Build();
        if (socketBuffer is { } bytes) ((MqttClientTcpOptions)options.ChannelOptions).BufferSize = bytes;
        await client.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(30));
        return client;
    }

    /// <summary>Publishes for <paramref name="duration"/> at <paramref name="rate"/> msg/s in total (0: as fast as it goes), or until <paramref name="limit"/> messages.</summary>
    public Task RunAsync(int rate, TimeSpan duration, MqttQualityOfServiceLevel qos, long limit = long.MaxValue, int window = 1000) =>
        Task.WhenAll(_clients.Select((client, i) => Task.Run(() => LaneAsync(client, _lanes[i], rate / (double)_clients.Length, duration,
            qos, limit == long.MaxValue ? long.MaxValue : limit / _clients.Length + (i < limit % _clients.Length ? 1 : 0), window))));

    private async Task LaneAsync(IMqttClient client, E2eFeed.FeedLane lane, double rate, TimeSpan duration, MqttQualityOfServiceLevel qos, long limit, int window)
    {
        using var inFlight = new SemaphoreSlim(window);
        var clock = Stopwatch.StartNew();
        long sent = 0;
        while (clock.Elapsed < duration && sent < limit)
        {
            // Due by now at the lane's rate; publish what is due, then sleep a slice.
            var due = rate <= 0 ? sent + 256 : (long)(clock.Elapsed.TotalSeconds * rate) + 1;
            if (sent >= due)
            {
                await Task.Delay(2);
                continue;
            }
            while (sent < due && sent < limit)
            {
                await inFlight.WaitAsync();
                var (topic, payload) = lane.Next(DateTimeOffset.UtcNow);
                var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build();
                sent++;
                Interlocked.Increment(ref _attempted);
                _ = client.PublishAsync(message).ContinueWith(t =>
                {
                    inFlight.Release();
                    if (t.IsCompletedSuccessfully && t.Result.IsSuccess) Interlocked.Increment(ref _published);
                    else Interlocked.Increment(ref _failed);
                }, TaskScheduler.Default);
            }
        }
        // Wait for what is still in flight (a minute at most: a broker that stopped answering must not hang the run).
        var deadline = Stopwatch.StartNew();
        for (var i = 0; i < window; i++)
        {
            var left = TimeSpan.FromMinutes(1) - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !await inFlight.WaitAsync(left)) break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            try { await client.DisconnectAsync(); } catch (Exception) { }
            client.Dispose();
        }
    }
}

/// <summary>The ceiling's bare subscriber: subscribes to <c>sensing/#</c> and only counts (QoS 1: MQTTnet acknowledges after the handler).</summary>
internal sealed class CountingSubscriber : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private long _received;

    private CountingSubscriber(IMqttClient client)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref _received);
            return Task.CompletedTask;
        };
    }

    public long Received => Interlocked.Read(ref _received);

    public static async Task<CountingSubscriber> ConnectAsync(int port, MqttQualityOfServiceLevel qos)
    {
        var client = await LoadPublisher.ConnectAsync(port, $"e2e-counter-{Guid.NewGuid():N}", new Sensing.Ingest.MqttOptions().SocketBufferBytes);
        var subscriber = new CountingSubscriber(client);
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("sensing/#", qos).Build());
        return subscriber;
    }

    public async ValueTask DisposeAsync()
    {
        try { await _client.DisconnectAsync(); } catch (Exception) { }
        _client.Dispose();
    }
}
