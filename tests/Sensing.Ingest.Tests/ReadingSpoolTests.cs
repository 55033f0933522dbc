using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest.Tests;

/// <summary>The spool on a real disk: what was appended is there after a crash, in order, and a torn tail is cut off.</summary>
public sealed class ReadingSpoolTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-spool-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private SpoolOptions Options(long maxBytes = 1 << 20, long segmentBytes = 64 * 1024) =>
        new() { Directory = _folder, MaxBytes = maxBytes, SegmentBytes = segmentBytes };

    private static SpoolBatch Batch(int n, int readings = 3) => new(
        [.. Enumerable.Range(0, readings).Select(i => new Reading(
            $"dev-{n}", "c1", i % 2 == 0 ? "g1" : null, i == 0 ? "h-0042" : null, Metrics.WaterTotal,
            T0.AddMinutes(n * 10 + i), n + i / 10.0, i == 1 ? "P1" : null, i == 2 ? """{"credential":"face","n":1}""" : null))],
        n % 2 == 0 ? [] : [new DeadLetter($"sensing/c1/meter/dev-{n}", [0xFF, 0x00, (byte)n], 3, T0.AddSeconds(n), "meter: field 'total' is missing", "native")]);

    private static List<SpoolBatch> Drain(ReadingSpool spool)
    {
        var drained = new List<SpoolBatch>();
        while (spool.TryPeek(out var entry, out var batch))
        {
            drained.Add(batch!);
            spool.Commit(entry);
        }
        return drained;
    }

    private static void AssertSame(SpoolBatch expected, SpoolBatch actual)
    {
        Assert.Equal(expected.Readings, actual.Readings);
        Assert.Equal(expected.DeadLetters.Count, actual.DeadLetters.Count);
        for (var i = 0; i < expected.DeadLetters.Count; i++)
        {
            var (e, a) = (expected.DeadLetters[i], actual.DeadLetters[i]);
            Assert.Equal((e.Topic, e.PayloadBytes, e.ReceivedAt, e.Reason, e.Format), (a.Topic, a.PayloadBytes, a.ReceivedAt, a.Reason, a.Format));
            Assert.Equal(e.Payload, a.Payload);
        }
    }

    [Fact]
    public void A_batch_survives_serialization_exactly()
    {
        var batch = Batch(7);
        var buffer = new ArrayBufferWriter<byte>();
        batch.WriteTo(buffer);
        AssertSame(batch, SpoolBatch.ReadFrom(buffer.WrittenSpan));
    }

    [Fact]
    public void A_backlog_is_read_several_batches_at_a_time_in_order_and_committed_through_the_last_one()
    {
        var appended = Enumerable.Range(0, 5).Select(n => Batch(n)).ToList();
        var spool = ReadingSpool.Open(Options(), NullLogger.Instance);
        foreach (var batch in appended) Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(batch));

        // 3 readings a batch: 7 readings take two batches whole, never part of a third.
        Assert.True(spool.TryPeekRun(7, out var last, out var count, out var run));
        Assert.Equal(2, count);
        Assert.Equal(appended.Take(2).SelectMany(b => b.Readings), run!.Readings);
        Assert.Equal(appended.Take(2).SelectMany(b => b.DeadLetters).Select(d => d.Topic), run.DeadLetters.Select(d => d.Topic));
        spool.Commit(last);
        Assert.Equal(3, spool.Depth);

        // A batch larger than the limit still goes, alone.
        Assert.True(spool.TryPeekRun(1, out last, out count, out run));
        Assert.Equal(1, count);
        AssertSame(appended[2], run!);
        spool.Commit(last);

        spool.Dispose();
        using var reopened = ReadingSpool.Open(Options(), NullLogger.Instance);
        Assert.True(reopened.TryPeekRun(100, out last, out count, out run));
        Assert.Equal(2, count);
        Assert.Equal(appended.Skip(3).SelectMany(b => b.Readings), run!.Readings);
        reopened.Commit(last);
        Assert.True(reopened.IsEmpty);
        Assert.False(reopened.TryPeekRun(100, out _, out _, out _));
        Assert.Throws<InvalidOperationException>(() => reopened.Commit(last));
    }

    [Fact]
    public void Appended_batches_are_there_after_a_crash_in_order_and_committed_ones_are_not()
    {
        var first = ReadingSpool.Open(Options(), NullLogger.Instance);
        for (var n = 0; n < 5; n++) Assert.Equal(SpoolAppendResult.Appended, first.TryAppend(Batch(n)));
        Assert.True(first.TryPeek(out var entry, out _));
        first.Commit(entry);
        // The process "dies" here. Appends are flushed to disk before they return and Dispose writes nothing, so
        // closing the handles leaves the files exactly as a kill would (and releases the lock a dead process drops).
        first.Dispose();

        using var second = ReadingSpool.Open(Options(), NullLogger.Instance);
        Assert.Equal(4, second.Depth);
        var drained = Drain(second);
        Assert.Equal(4, drained.Count);
        for (var n = 1; n < 5; n++) AssertSame(Batch(n), drained[n - 1]);
        Assert.True(second.IsEmpty);
        Assert.Equal(0, second.Bytes);
    }

    [Fact]
    public void A_torn_last_record_is_cut_off_and_the_spool_goes_on()
    {
        using (var spool = ReadingSpool.Open(Options(), NullLogger.Instance))
        {
            for (var n = 0; n < 3; n++) spool.TryAppend(Batch(n));
        }
        // A crash halfway through writing a fourth record: a header that promises more bytes than follow.
        var segment = Directory.GetFiles(_folder, "spool-*.seg").Single();
        var goodLength = new FileInfo(segment).Length;
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write([200, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]);
        }

        using var reopened = ReadingSpool.Open(Options(), NullLogger.Instance);
        Assert.Equal(3, reopened.Depth);
        Assert.Equal(goodLength, new FileInfo(segment).Length);
        Assert.Equal(SpoolAppendResult.Appended, reopened.TryAppend(Batch(3)));
        var drained = Drain(reopened);
        Assert.Equal(4, drained.Count);
        for (var n = 0; n < 4; n++) AssertSame(Batch(n), drained[n]);
    }

    [Fact]
    public void A_record_whose_checksum_fails_ends_its_segment()
    {
        using (var spool = ReadingSpool.Open(Options(), NullLogger.Instance))
        {
            for (var n = 0; n < 3; n++) spool.TryAppend(Batch(n));
        }
        var segment = Directory.GetFiles(_folder, "spool-*.seg").Single();
        var bytes = File.ReadAllBytes(segment);
        bytes[^5] ^= 0x55; // one flipped byte inside the last batch
        File.WriteAllBytes(segment, bytes);

        using var reopened = ReadingSpool.Open(Options(), NullLogger.Instance);
        var drained = Drain(reopened);
        Assert.Equal(2, drained.Count);
        AssertSame(Batch(1), drained[1]);
    }

    [Fact]
    public void A_full_spool_refuses_until_it_is_drained()
    {
        var sample = new ArrayBufferWriter<byte>();
        Batch(1).WriteTo(sample);
        var record = sample.WrittenCount + ReadingSpool.RecordHeaderBytes;
        // Room for exactly three such records (MaxBytes has a 1 MiB floor, so use a larger batch to make that true).
        var big = new SpoolBatch([.. Enumerable.Range(0, 5000).Select(i => new Reading("d", "c1", null, null, Metrics.GatePass, T0.AddSeconds(i), 1))], []);
        var bigSize = new ArrayBufferWriter<byte>();
        big.WriteTo(bigSize);
        var bigRecord = bigSize.WrittenCount + ReadingSpool.RecordHeaderBytes;
        using var spool = ReadingSpool.Open(Options(maxBytes: Math.Max(1 << 20, bigRecord * 3 + record), segmentBytes: 1 << 20), NullLogger.Instance);

        var appended = 0;
        while (spool.TryAppend(big) == SpoolAppendResult.Appended) appended++;
        Assert.True(appended >= 3, $"only {appended} batches fitted");
        Assert.True(spool.Bytes <= Math.Max(1 << 20, bigRecord * 3 + record));
        Assert.Equal(SpoolAppendResult.Full, spool.TryAppend(big));

        Assert.True(spool.TryPeek(out var entry, out _));
        spool.Commit(entry);
        Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(big));
    }

    [Fact]
    public void Segments_roll_and_drained_ones_are_deleted()
    {
        using var spool = ReadingSpool.Open(Options(segmentBytes: 64 * 1024), NullLogger.Instance);
        var big = new SpoolBatch([.. Enumerable.Range(0, 1000).Select(i => new Reading("d", "c1", null, null, Metrics.GatePass, T0.AddSeconds(i), 1))], []);
        for (var n = 0; n < 10; n++) Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(big));
        Assert.True(Directory.GetFiles(_folder, "spool-*.seg").Length >= 3, "a 64 KiB segment holds only a few ~40 KiB batches");

        Assert.Equal(10, Drain(spool).Count);
        Assert.Empty(Directory.GetFiles(_folder, "spool-*.seg"));

        // And it keeps working after being drained dry.
        Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(Batch(1)));
        AssertSame(Batch(1), Assert.Single(Drain(spool)));
    }
}
