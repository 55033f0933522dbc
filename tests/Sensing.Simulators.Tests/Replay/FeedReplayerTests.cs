using System.Collections.Concurrent;
using System.Text;
using MQTTnet.Protocol;
using Sensing.Simulators.Replay;

namespace Sensing.Simulators.Tests.Replay;

public sealed class FeedReplayerTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset s_recorded = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task At_speed_10_each_message_goes_out_at_its_recorded_offset_divided_by_10()
    {
        TimeSpan[] offsets = [TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3.5), TimeSpan.FromSeconds(3.5), TimeSpan.FromSeconds(13.5), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(10.001)];
        var file = await Recording(offsets.Select((o, i) => Message(s_recorded + o, $"sensing/c1/meter/wm-{i % 2}", "{}")));
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));
        var start = time.GetUtcNow();
        var sent = new ConcurrentQueue<(string Topic, DateTimeOffset At)>();
        var replayer = new FeedReplayer((m, _) =>
        {
            sent.Enqueue((m.Topic, time.GetUtcNow()));
            return Task.CompletedTask;
        }, new ReplayOptions(Speed: 10), time);

        await using var reader = await RecordingReader.OpenAsync(file);
        var run = replayer.RunAsync(reader, CancellationToken.None);
        await Drive(time, run);

        Assert.Equal(offsets.Length, await run);
        var at = sent.Select(s => s.At - start).ToArray();
        Assert.Equal(offsets.Length, at.Length);
        for (var i = 0; i < offsets.Length; i++)
            Assert.True(Math.Abs((at[i] - offsets[i] / 10).TotalMilliseconds) <= 1, $"message {i} at {at[i]}, expected {offsets[i] / 10}");
    }

    [Fact]
    public async Task A_late_start_catches_up_instead_of_shifting_every_later_message()
    {
        // The first publish is slow (2 s of fake time pass inside it); the later ones still go out on the original schedule.
        TimeSpan[] offsets = [TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(40)];
        var file = await Recording(offsets.Select(o => Message(s_recorded + o, "sensing/c1/gate/g-1", "{}")));
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));
        var start = time.GetUtcNow();
        var sent = new ConcurrentQueue<DateTimeOffset>();
        var first = true;
        var replayer = new FeedReplayer(async (_, _) =>
        {
            sent.Enqueue(time.GetUtcNow());
            if (first)
            {
                first = false;
                await Task.Delay(TimeSpan.FromSeconds(2), time);
            }
        }, new ReplayOptions(Speed: 1), time);

        await using var reader = await RecordingReader.OpenAsync(file);
        var run = replayer.RunAsync(reader, CancellationToken.None);
        await Drive(time, run);
        await run;

        Assert.Equal([TimeSpan.Zero, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(40)], sent.Select(s => s - start).ToArray());
    }

    [Fact]
    public async Task As_fast_as_possible_overlaps_publishes_but_never_two_of_one_topic_and_keeps_each_topics_order()
    {
        var messages = Enumerable.Range(0, 2000).Select(i => Message(s_recorded.AddSeconds(i), $"sensing/c1/meter/wm-{i % 7}", i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var file = await Recording(messages);
        var busy = new ConcurrentDictionary<string, int>();
        var received = new ConcurrentDictionary<string, ConcurrentQueue<int>>();
        var maxInFlight = 0;
        var inFlight = 0;
        var overlapPerTopic = false;
        var random = new Random(3);
        var replayer = new FeedReplayer(async (m, _) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            if (busy.AddOrUpdate(m.Topic, 1, (_, n) => n + 1) > 1)
                overlapPerTopic = true;
            received.GetOrAdd(m.Topic, _ => new()).Enqueue(int.Parse(Encoding.UTF8.GetString(m.Payload.Span), System.Globalization.CultureInfo.InvariantCulture));
            int delay;
            lock (random)
                delay = random.Next(3);
            await Task.Delay(delay);
            busy.AddOrUpdate(m.Topic, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref inFlight);
        }, new ReplayOptions(Speed: null, MaxInFlight: 4), TimeProvider.System);

        await using var reader = await RecordingReader.OpenAsync(file);
        Assert.Equal(messages.Count, await replayer.RunAsync(reader, CancellationToken.None).WaitAsync(s_timeout));

        Assert.False(overlapPerTopic);
        Assert.InRange(maxInFlight, 2, 4);
        foreach (var (topic, values) in received)
            Assert.Equal(messages.Where(m => m.Topic == topic).Select(m => int.Parse(Encoding.UTF8.GetString(m.Payload.Span), System.Globalization.CultureInfo.InvariantCulture)), values);
    }

    [Fact]
    public async Task Rewrite_time_maps_the_first_receive_time_to_now_and_overrides_qos_when_asked()
    {
        var file = await Recording(
        [
            Message(s_recorded, "sensing/c1/meter/wm-1", """{"ts":"2026-11-20T08:00:00+08:00","type":"water","total":1.5,"household":"h-1"}"""),
            Message(s_recorded.AddMinutes(1), "sensing/c1/gate/g-1", """{"ts":1763596860000,"event":"pass","direction":"in"}"""),
            Message(s_recorded.AddMinutes(2), "sensing/c1/meter/wm-1", """{"type":"water","total":"lots"}"""),
        ]);
        var now = new DateTimeOffset(2026, 11, 24, 1, 0, 0, TimeSpan.Zero);
        var sent = new List<(string Payload, MqttQualityOfServiceLevel Qos)>();
        var replayer = new FeedReplayer((m, _) =>
        {
            sent.Add((Encoding.UTF8.GetString(m.Payload.Span), m.Qos));
            return Task.CompletedTask;
        }, new ReplayOptions(Speed: null, RewriteTime: true, Qos: MqttQualityOfServiceLevel.AtMostOnce), new ManualTimeProvider(now));

        await using var reader = await RecordingReader.OpenAsync(file);
        await replayer.RunAsync(reader, CancellationToken.None).WaitAsync(s_timeout);

        Assert.Equal(
        [
            """{"ts":"2026-11-24T09:00:00+08:00","type":"water","total":1.5,"household":"h-1"}""",
            """{"ts":1763946060000,"event":"pass","direction":"in"}""",
            """{"type":"water","total":"lots"}""",
        ], sent.Select(s => s.Payload));
        Assert.All(sent, s => Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, s.Qos));
    }

    private static async Task Drive(ManualTimeProvider time, Task run)
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        while (!run.IsCompleted)
        {
            if (time.NextDue is not null)
                time.AdvanceToNextTimer();
            else
                await Task.Delay(1, timeout.Token);
        }
    }

    private static RecordedMessage Message(DateTimeOffset at, string topic, string payload) =>
        new(at, topic, Encoding.UTF8.GetBytes(payload), MqttQualityOfServiceLevel.AtLeastOnce, false);

    private static async Task<MemoryStream> Recording(IEnumerable<RecordedMessage> messages)
    {
        var file = new MemoryStream();
        await using (var writer = await RecordingWriter.CreateAsync(file, s_recorded, leaveOpen: true))
        {
            foreach (var message in messages)
                await writer.WriteAsync(message);
        }
        file.Position = 0;
        return file;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
