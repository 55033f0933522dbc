using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests.Faults;

/// <summary>
/// A fleet of gate devices publishing at a steady rate for as long as a fault lasts, as real devices do (they do not pause
/// for an outage): one MQTT connection per device, QoS 1, up to a window of publishes in flight, every PUBACK counted.
/// Device <c>d</c>'s message <c>n</c> is a gate pass stamped <see cref="Start"/> + <c>n</c> ms, so a set of stored times is a
/// set of messages. A device whose connection drops (a broker restart) reconnects and carries on; the slots it misses
/// meanwhile are not sent, as a device without its broker cannot send.
/// </summary>
internal sealed class SteadyFeed : IAsyncDisposable
{
    private readonly Lane[] _lanes;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _running;

    private SteadyFeed(string community, DateTimeOffset start, Lane[] lanes, double perDevicePerSecond)
    {
        Community = community;
        Start = start;
        _lanes = lanes;
        _running = [.. lanes.Select(l => Task.Run(() => l.RunAsync(perDevicePerSecond, _stop.Token)))];
    }

    public string Community { get; }
    public DateTimeOffset Start { get; }
    public IEnumerable<string> Devices => _lanes.Select(l => l.Device);
    public long Sent => _lanes.Sum(l => Interlocked.Read(ref l.Sent));
    public long Acknowledged => _lanes.Sum(l => l.Acknowledged.Count);
    /// <summary>Publishing slots that passed while a device had no broker (not sent): proof the fault reached the devices too.</summary>
    public long SlotsWithoutBroker => _lanes.Sum(l => Interlocked.Read(ref l.SlotsWithoutBroker));

    /// <summary>
    /// Connects <paramref name="devices"/> devices of <paramref name="community"/> through <paramref name="connect"/> (client id →
    /// connected client) and starts publishing <paramref name="ratePerSecond"/> messages a second between them.
    /// </summary>
    public static async Task<SteadyFeed> StartAsync(Func<string, Task<IMqttClient>> connect, string community, int devices, int ratePerSecond)
    {
        // Whole milliseconds, a couple of hours back: inside every store's raw retention, and the same on every run's clock.
        var start = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeMilliseconds());
        var lanes = new Lane[devices];
        for (var d = 0; d < devices; d++)
        {
            var device = string.Create(CultureInfo.InvariantCulture, $"{community}-gate-{d:D2}");
            lanes[d] = new Lane(device, $"sensing/{community}/gate/{device}", start, connect, await connect(device + "-pub"));
        }
        return new SteadyFeed(community, start, lanes, (double)ratePerSecond / devices);
    }

    /// <summary>Stops publishing and waits for the PUBACKs still owed (or for their connection's end).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(120));
    }

    /// <summary>
    /// Waits until the store holds at least as many readings as the devices had acknowledged (<paramref name="storedCount"/>:
    /// the store's count for <see cref="Community"/>), or <paramref name="timeout"/> passes: a broker's PUBACK says it has the
    /// message, not that ingest has stored it yet, so the ledger is counted once ingest has had time to catch up. What is
    /// still missing then is lost.
    /// </summary>
    public async Task<TimeSpan> WaitUntilStoredAsync(Func<Task<long>> storedCount, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (await storedCount() < Acknowledged && clock.Elapsed < timeout)
        {
            await Task.Delay(200);
        }
        return clock.Elapsed;
    }

    /// <summary>
    /// Counts the ledger: what the store holds for each device (every point, and distinct times), against what the devices had
    /// acknowledged. <paramref name="storedTimes"/> answers a device's stored gate-pass times, duplicates included.
    /// </summary>
    public async Task<FaultLedger> LedgerAsync(Func<string, Task<IReadOnlyList<DateTimeOffset>>> storedTimes)
    {
        long stored = 0, lost = 0, duplicated = 0, unacknowledgedStored = 0;
        var examples = new List<string>();
        foreach (var lane in _lanes)
        {
            var times = await storedTimes(lane.Device);
            var distinct = times.ToHashSet();
            stored += distinct.Count;
            duplicated += times.Count - distinct.Count;
            var acknowledged = lane.Acknowledged.Keys.Select(n => Start.AddMilliseconds(n)).ToHashSet();
            var missing = acknowledged.Where(t => !distinct.Contains(t)).Order().ToList();
            lost += missing.Count;
            if (missing.Count > 0)
            {
                examples.Add($"{lane.Device} #{string.Join(",#", missing.Take(8).Select(t => (long)(t - Start).TotalMilliseconds))}{(missing.Count > 8 ? ",…" : "")}");
            }
            unacknowledgedStored += distinct.Count(t => !acknowledged.Contains(t));
        }
        return new FaultLedger(Sent, Acknowledged, stored, lost, duplicated, unacknowledgedStored) { LostExamples = string.Join("; ", examples) };
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
            try { await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(30)); } catch (Exception) { /* the test failed already */ }
        }
        foreach (var lane in _lanes) lane.Client.Dispose();
        _stop.Dispose();
    }

    private sealed class Lane(string device, string topic, DateTimeOffset start, Func<string, Task<IMqttClient>> connect, IMqttClient client)
    {
        private const int Window = 400;

        public readonly string Device = device;
        public readonly ConcurrentDictionary<long, byte> Acknowledged = new();
        public long Sent;
        public long SlotsWithoutBroker;
        public IMqttClient Client = client;

        public async Task RunAsync(double perSecond, CancellationToken stop)
        {
            using var window = new SemaphoreSlim(Window);
            var pending = new ConcurrentDictionary<Task, byte>();
            var clock = Stopwatch.StartNew();
            long n = 0;
            while (!stop.IsCancellationRequested)
            {
                // Paced by the clock, not by the acknowledgements: the n-th message is due at n / rate seconds.
                // The clock read once: read again for the delay, it could have passed the due time in between, and a
                // negative delay throws (it failed a CI run this way).
                var wait = TimeSpan.FromSeconds(n / perSecond) - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try { await Task.Delay(wait, stop); } catch (OperationCanceledException) { break; }
                }
                var seq = n++;
                if (!Client.IsConnected)
                {
                    Interlocked.Increment(ref SlotsWithoutBroker);
                    await ReconnectAsync(stop);
                    continue; // this slot passed while the device had no broker
                }
                try { await window.WaitAsync(stop); } catch (OperationCanceledException) { break; }
                var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $$"""{"ts":{{start.AddMilliseconds(seq).ToUnixTimeMilliseconds()}},"event":"pass","direction":"in"}"""));
                Interlocked.Increment(ref Sent);
                Task publish;
                try
                {
                    publish = Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), CancellationToken.None)
                        .ContinueWith(t =>
                        {
                            window.Release();
                            if (t.IsCompletedSuccessfully && t.Result.IsSuccess) Acknowledged.TryAdd(seq, 0);
                        }, TaskScheduler.Default);
                }
                catch (Exception)
                {
                    window.Release(); // not connected after all: sent, never acknowledged
                    continue;
                }
                pending.TryAdd(publish, 0);
                _ = publish.ContinueWith(t => pending.TryRemove(t, out _), TaskScheduler.Default);
            }
            // The PUBACKs still owed: they come, or the connection ends and MQTTnet fails them.
            await Task.WhenAll(pending.Keys).WaitAsync(TimeSpan.FromSeconds(90));
        }

        private async Task ReconnectAsync(CancellationToken stop)
        {
            try
            {
                Client.Dispose();
                Client = await connect(Device + "-pub").WaitAsync(TimeSpan.FromSeconds(2), stop);
            }
            catch (Exception) when (!stop.IsCancellationRequested)
            {
                // The broker is still away; try again at the next slot, no sooner than 100 ms from now.
                try { await Task.Delay(100, stop); } catch (OperationCanceledException) { }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}

/// <summary>
/// What a fault test counts: messages sent and acknowledged (PUBACKs) by the devices, distinct readings stored, acknowledged
/// readings the store lacks (lost) and points stored more than once (duplicated). Readings stored without a PUBACK (the
/// broker or the service took them but the acknowledgement died with a connection) are at-least-once working as designed.
/// </summary>
internal sealed record FaultLedger(long Sent, long Acknowledged, long Stored, long Lost, long Duplicated, long StoredUnacknowledged)
{
    /// <summary>Which acknowledged messages the store lacks (device, message numbers), for the failure message.</summary>
    public string LostExamples { get; init; } = "";

    /// <summary>One line for the test output: the fault injected, then the counts.</summary>
    public string Line(string fault) => string.Create(CultureInfo.InvariantCulture,
        $"LEDGER {fault}: sent {Sent}, acknowledged {Acknowledged}, stored {Stored}, lost {Lost}, duplicated {Duplicated} (stored without a PUBACK: {StoredUnacknowledged})");

    public void Print(ITestOutputHelper output, string fault)
    {
        var line = Line(fault) + (LostExamples.Length > 0 ? $"; lost: {LostExamples}" : "");
        output.WriteLine(line);
        // Also on the runner's own console, so a CI log shows the ledger without a detailed logger.
        Console.WriteLine(line);
    }
}
