using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Ingest.Spool;
using Sensing.Testing;

namespace Sensing.Ingest.Tests;

/// <summary>
/// kill -9 while appending to the spool: a child process (tests/Sensing.CrashWriter, mode spool) appends batches and
/// prints "ack n" once each append returned, which is when ingest acknowledges to the broker; it is killed mid-stream,
/// and the next process must find every acknowledged batch, whole and in order, and carry on appending.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SpoolCrashTests : IDisposable
{
    private const int BatchSize = 200;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-spool-crash", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(60)]
    public async Task Every_acknowledged_batch_survives_a_sigkill_mid_append(int killAfterAcks)
    {
        var acknowledged = await CrashWriterProcess.RunAndKillAsync("spool", _folder, BatchSize, killAfterAcks).Within();

        using var spool = ReadingSpool.Open(new SpoolOptions { Directory = _folder, SegmentBytes = 256 * 1024 }, NullLogger.Instance);
        // Batches after the last ack may be there (appended, not yet announced) or not, but never partly.
        Assert.InRange(spool.Depth, acknowledged, acknowledged + 1);
        for (var n = 1; spool.TryPeek(out var entry, out var batch); n++)
        {
            Assert.Equal(BatchSize, batch!.Readings.Count);
            var minute = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(n);
            Assert.All(batch.Readings, r => Assert.Equal(minute, r.Time));
            spool.Commit(entry);
        }
        // And the spool takes new batches after the crash.
        Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(new SpoolBatch([new Reading("d", "c1", null, null, Metrics.GatePass, DateTimeOffset.UnixEpoch.AddYears(56), 1)], [])));
    }
}
