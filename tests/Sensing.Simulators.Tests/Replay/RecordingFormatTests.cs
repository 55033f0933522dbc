using System.Text;
using MQTTnet.Protocol;
using Sensing.Simulators.Replay;

namespace Sensing.Simulators.Tests.Replay;

public sealed class RecordingFormatTests
{
    private static readonly DateTimeOffset s_start = new(2026, 11, 24, 8, 0, 0, TimeSpan.FromHours(8));

    [Fact]
    public async Task Writer_then_reader_round_trips_every_field_exactly()
    {
        var messages = Feed(seed: 7, count: 3000);
        using var file = new MemoryStream();
        await using (var writer = await RecordingWriter.CreateAsync(file, s_start, leaveOpen: true))
        {
            foreach (var message in messages)
                await writer.WriteAsync(message);
        }

        var fileLength = file.Length;
        file.Position = 0;
        var read = await ReadAll(file);

        Assert.Equal(RecordingEnd.Complete, read.End);
        Assert.Null(read.Detail);
        Assert.Equal(s_start, read.Start);
        Assert.Equal(messages.Count, read.Messages.Count);
        for (var i = 0; i < messages.Count; i++)
            AssertSame(messages[i], read.Messages[i], i);
        Assert.True(fileLength > RecordingFormat.HeaderLength);
    }

    [Fact]
    public async Task A_file_cut_anywhere_in_its_last_record_yields_every_complete_message_and_says_it_was_truncated()
    {
        var messages = Feed(seed: 11, count: 40, bigPayloads: false);
        using var file = new MemoryStream();
        long beforeLast, afterLast;
        await using (var writer = await RecordingWriter.CreateAsync(file, s_start, leaveOpen: true))
        {
            foreach (var message in messages.SkipLast(1))
                await writer.WriteAsync(message);
            await writer.FlushAsync();
            beforeLast = file.Length;
            await writer.WriteAsync(messages[^1]);
            await writer.FlushAsync();
            afterLast = file.Length;
        }
        var bytes = file.ToArray();
        Assert.True(afterLast > beforeLast && bytes.Length > afterLast);

        var cutInsideLast = 0;
        for (var cut = beforeLast; cut < bytes.Length; cut++)
        {
            var read = await ReadAll(new MemoryStream(bytes, 0, (int)cut));

            // A cut that only loses the compressed stream's closing bytes still holds the end record: complete.
            if (read.End == RecordingEnd.Complete)
                Assert.True(cut >= afterLast, $"cut at {cut} reads as complete");
            else
                Assert.Equal(RecordingEnd.Truncated, read.End);
            Assert.True(read.End == RecordingEnd.Complete || !string.IsNullOrWhiteSpace(read.Detail));
            // Brotli's flush ends with a few bytes of framing after the data: a cut there loses nothing.
            var expected = cut == beforeLast ? messages.Count - 1 : cut >= afterLast ? messages.Count : -1;
            if (expected >= 0)
                Assert.Equal(expected, read.Messages.Count);
            else
                Assert.InRange(read.Messages.Count, messages.Count - 1, messages.Count);
            for (var i = 0; i < read.Messages.Count; i++)
                AssertSame(messages[i], read.Messages[i], i);
            if (read.Detail?.Contains($"inside message {messages.Count}", StringComparison.Ordinal) == true)
                cutInsideLast++;
        }
        // The cuts did land inside the last record's bytes, not only around it.
        Assert.True(cutInsideLast > 0);
    }

    [Fact]
    public async Task A_file_cut_anywhere_yields_a_prefix_and_never_an_opaque_exception()
    {
        var messages = Feed(seed: 13, count: 200, bigPayloads: false);
        using var file = new MemoryStream();
        await using (var writer = await RecordingWriter.CreateAsync(file, s_start, leaveOpen: true))
        {
            foreach (var (message, i) in messages.Select((m, i) => (m, i)))
            {
                await writer.WriteAsync(message);
                if (i % 25 == 0)
                    await writer.FlushAsync();
            }
        }
        var bytes = file.ToArray();

        for (var cut = 16; cut < bytes.Length; cut += 3)
        {
            var read = await ReadAll(new MemoryStream(bytes, 0, cut));
            Assert.Equal(RecordingEnd.Truncated, read.End);
            for (var i = 0; i < read.Messages.Count; i++)
                AssertSame(messages[i], read.Messages[i], i);
        }
    }

    [Fact]
    public async Task A_file_cut_inside_its_header_or_not_a_recording_is_refused_with_a_reason()
    {
        var truncated = await Assert.ThrowsAsync<InvalidDataException>(() => RecordingReader.OpenAsync(new MemoryStream("SREC\u0001"u8.ToArray())));
        Assert.Contains("header", truncated.Message, StringComparison.Ordinal);
        var foreign = await Assert.ThrowsAsync<InvalidDataException>(() => RecordingReader.OpenAsync(new MemoryStream(Encoding.UTF8.GetBytes("{\"ts\":1763593200000}"))));
        Assert.Contains("Not a recording", foreign.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Native_traffic_compresses_to_a_fraction_of_its_payload_bytes()
    {
        var messages = Feed(seed: 17, count: 5000, bigPayloads: false);
        using var file = new MemoryStream();
        await using (var writer = await RecordingWriter.CreateAsync(file, s_start, leaveOpen: true))
        {
            foreach (var message in messages)
                await writer.WriteAsync(message);
        }
        var raw = messages.Sum(m => m.Payload.Length + Encoding.UTF8.GetByteCount(m.Topic));
        Assert.True(file.ToArray().Length < raw / 3, $"{file.ToArray().Length} of {raw} bytes");
    }

    [Fact]
    public async Task An_empty_recording_is_complete_with_no_messages()
    {
        using var file = new MemoryStream();
        await using (await RecordingWriter.CreateAsync(file, s_start, leaveOpen: true))
        {
        }
        file.Position = 0;
        var read = await ReadAll(file);
        Assert.Equal(RecordingEnd.Complete, read.End);
        Assert.Empty(read.Messages);
    }

    /// <summary>Many topics (one with CJK characters), payloads of every shape, all QoS levels and retain, clock gaps of days and a step back.</summary>
    internal static List<RecordedMessage> Feed(int seed, int count, bool bigPayloads = true)
    {
        var random = new Random(seed);
        var topics = Enumerable.Range(0, 60).Select(i => $"sensing/c{i % 2 + 1}/meter/wm-{i:000}").Append("sensing/c1/camera/东门-01").Append("tele/meter-17/SENSOR").ToArray();
        var messages = new List<RecordedMessage>(count);
        var at = s_start.AddMinutes(3);
        for (var i = 0; i < count; i++)
        {
            at += random.Next(20) switch
            {
                0 => TimeSpan.FromDays(2),
                1 => TimeSpan.FromMilliseconds(-250),
                2 => TimeSpan.Zero,
                _ => TimeSpan.FromTicks(random.NextInt64(1, TimeSpan.TicksPerMinute)),
            };
            byte[] payload = (i % 97) switch
            {
                0 => [],
                1 => RandomBytes(random, random.Next(1, 64)),
                2 when bigPayloads => RandomBytes(random, 300_000),
                _ => Encoding.UTF8.GetBytes($"{{\"ts\":{1763593200000 + i * 60_000L},\"type\":\"water\",\"total\":{random.NextDouble() * 1000:F3},\"household\":\"h-{i % 60:0000}\"}}"),
            };
            messages.Add(new RecordedMessage(at, topics[random.Next(topics.Length)], payload, (MqttQualityOfServiceLevel)random.Next(3), random.Next(10) == 0));
        }
        return messages;
    }

    internal static void AssertSame(RecordedMessage expected, RecordedMessage actual, int index)
    {
        Assert.True(expected.ReceivedAt == actual.ReceivedAt, $"message {index}: received {actual.ReceivedAt:O}, expected {expected.ReceivedAt:O}");
        Assert.Equal(expected.Topic, actual.Topic);
        Assert.Equal(expected.Qos, actual.Qos);
        Assert.Equal(expected.Retain, actual.Retain);
        Assert.True(expected.Payload.Span.SequenceEqual(actual.Payload.Span), $"message {index}: payload differs");
    }

    internal static async Task<(DateTimeOffset Start, List<RecordedMessage> Messages, RecordingEnd End, string? Detail)> ReadAll(Stream file)
    {
        await using var reader = await RecordingReader.OpenAsync(file);
        var messages = new List<RecordedMessage>();
        while (await reader.ReadAsync())
        {
            var current = reader.Current;
            messages.Add(current with { Payload = current.Payload.ToArray() });
        }
        return (reader.Start, messages, reader.End, reader.TruncationDetail);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
