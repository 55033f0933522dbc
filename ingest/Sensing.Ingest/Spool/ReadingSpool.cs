using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Sensing.Ingest.Spool;

/// <summary>Where a spooled batch sits on disk.</summary>
public readonly record struct SpoolEntry(long Segment, long Offset, int Length)
{
    public long End => Offset + ReadingSpool.RecordHeaderBytes + Length;
}

/// <summary>Why an append did not happen.</summary>
public enum SpoolAppendResult { Appended, Full, Failed }

/// <summary>
/// An append-only, checksummed, size-bounded queue of batches on local disk. Batches are appended to segment
/// files (<c>spool-0000000001.seg</c>) as records <c>[length u32][crc32 u32][batch]</c> and flushed to the disk
/// before <see cref="TryAppend"/> returns, so an acknowledged batch survives a process kill or a power cut. A cursor
/// file says how far the store has the batches; drained segments are deleted whole. On open, a record whose
/// length or checksum does not hold (a write torn by a crash, never acknowledged) ends its segment: the tail is
/// truncated and reading goes on with the next segment.
/// <para>
/// An erased household (<see cref="MarkErased"/>) is filtered out of every batch already in the spool when the batch is
/// read, so its readings never reach the store. Segments are not rewritten: the marks are kept in an <c>erasures</c>
/// file (written atomically) until the cursor has passed every batch they cover, so a restart filters the same way.
/// </para>
/// Thread-safe: one appender (the pipeline) and one drainer may work at the same time.
/// </summary>
public sealed class ReadingSpool : IDisposable
{
    public const int RecordHeaderBytes = 8;
    private const string CursorFile = "cursor";
    private const string ErasuresFile = "erasures";

    private readonly SpoolOptions _options;
    private readonly ILogger _logger;
    private readonly string _directory;
    private readonly Lock _lock = new();
    private readonly Queue<SpoolEntry> _pending = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private long _pendingBytes;
    private long _writeSegment;
    private long _writeOffset;
    private FileStream? _writer;
    // The disk's refusal while a spell of failed appends lasts (null when the last append worked), and how many failed:
    // the spell is logged once when it starts and once when it ends, not at every retry.
    private string? _failure;
    private long _appendFailures;
    private long _spellFailures;
    private bool _cursorBehind;
    private List<ErasureMark> _erasures = [];

    private ReadingSpool(SpoolOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _directory = Path.GetFullPath(options.Directory ?? throw new ArgumentException("Spool:Directory is not set", nameof(options)));
    }

    public int Depth { get { lock (_lock) return _pending.Count; } }
    public long Bytes => Interlocked.Read(ref _pendingBytes);
    public bool IsEmpty => Depth == 0;
    public string DirectoryPath => _directory;

    /// <summary>Why the last append failed (the disk's own words, e.g. "No space left on device"), or null when it worked.</summary>
    public string? LastFailure => Volatile.Read(ref _failure);

    /// <summary>Appends the disk refused since the spool was opened.</summary>
    public long AppendFailures => Interlocked.Read(ref _appendFailures);

    /// <summary>Opens (or creates) the spool and finds every batch not yet drained, repairing a torn tail.</summary>
    public static ReadingSpool Open(SpoolOptions options, ILogger logger)
    {
        var spool = new ReadingSpool(options, logger);
        spool.Recover();
        return spool;
    }

    private void Recover()
    {
        Directory.CreateDirectory(_directory);
        var (cursorSegment, cursorOffset) = ReadCursor();
        var segments = Directory.GetFiles(_directory, "spool-*.seg")
            .Select(path => (Id: ParseSegmentId(path), Path: path))
            .Where(s => s.Id >= 0)
            .OrderBy(s => s.Id)
            .ToList();
        foreach (var (id, path) in segments)
        {
            if (id < cursorSegment)
            {
                File.Delete(path);
                continue;
            }
            ScanSegment(id, path, id == cursorSegment ? cursorOffset : 0);
        }
        _writeSegment = segments.Count == 0 ? Math.Max(cursorSegment, 1) : segments[^1].Id + 1;
        _erasures = ReadErasures();
        ForgetPassedErasures();
        if (_pending.Count > 0)
        {
            _logger.LogWarning("Spool {Directory} holds {Batches} batches ({Bytes} bytes) not yet in the store; they will be replayed first",
                _directory, _pending.Count, _pendingBytes);
            _available.Release();
        }
    }

    private void ScanSegment(long id, string path, long start)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        var header = new byte[RecordHeaderBytes];
        var offset = start;
        while (offset < file.Length)
        {
            file.Position = offset;
            if (file.Read(header) < RecordHeaderBytes || !TryReadHeader(header, file.Length - offset - RecordHeaderBytes, out var length, out var crc))
            {
                Truncate(file, offset, path);
                return;
            }
            var body = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                file.ReadExactly(body, 0, length);
                if (Crc32.Compute(body.AsSpan(0, length)) != crc)
                {
                    Truncate(file, offset, path);
                    return;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(body);
            }
            _pending.Enqueue(new SpoolEntry(id, offset, length));
            _pendingBytes += RecordHeaderBytes + length;
            offset += RecordHeaderBytes + length;
        }
    }

    private void Truncate(FileStream file, long offset, string path)
    {
        // Only a write that never completed can be here, and such a batch was never acknowledged to the broker.
        _logger.LogWarning("Spool segment {Path} has a torn or corrupt record at {Offset}; truncating {Bytes} bytes", path, offset, file.Length - offset);
        file.SetLength(offset);
        file.Flush(flushToDisk: true);
    }

    private static bool TryReadHeader(ReadOnlySpan<byte> header, long available, out int length, out uint crc)
    {
        length = BinaryPrimitives.ReadInt32LittleEndian(header);
        crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        return length > 0 && length <= available;
    }

    /// <summary>
    /// Appends a batch and flushes it to disk. <see cref="SpoolAppendResult.Full"/> when it would pass
    /// <see cref="SpoolOptions.MaxBytes"/>; <see cref="SpoolAppendResult.Failed"/> when the disk refused (full,
    /// read-only): then nothing is appended, and the caller must not acknowledge.
    /// </summary>
    public SpoolAppendResult TryAppend(SpoolBatch batch)
    {
        lock (_lock)
        {
            // Room for the header first, then the batch; the header is filled in once the batch's length and checksum are known.
            _buffer.ResetWrittenCount();
            _buffer.Advance(RecordHeaderBytes);
            batch.WriteTo(_buffer);
            var record = System.Runtime.InteropServices.MemoryMarshal.AsMemory(_buffer.WrittenMemory);
            var length = record.Length - RecordHeaderBytes;
            if (_pendingBytes + record.Length > _options.MaxBytes)
            {
                return SpoolAppendResult.Full;
            }
            BinaryPrimitives.WriteInt32LittleEndian(record.Span, length);
            BinaryPrimitives.WriteUInt32LittleEndian(record.Span[4..], Crc32.Compute(record.Span[RecordHeaderBytes..]));
            try
            {
                if (_writer is null)
                {
                    OpenSegment(next: false);
                }
                else if (_writeOffset > 0 && _writeOffset + record.Length > _options.SegmentBytes)
                {
                    OpenSegment(next: true);
                }
                _writer!.Write(record.Span);
                _writer.Flush(flushToDisk: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Disk full or failing: undo the partial write if the disk lets us, and continue in a fresh segment
                // either way, so a torn record can only ever be a segment's tail.
                Interlocked.Increment(ref _appendFailures);
                _spellFailures++;
                if (_failure is null)
                {
                    _logger.LogError("Spool {Directory} could not append {Bytes} bytes: {Error}. Intake waits and messages stay unacknowledged at the broker until the disk takes writes again (logged once per spell)",
                        _directory, record.Length, ex.Message);
                }
                Volatile.Write(ref _failure, ex.Message);
                try { _writer?.SetLength(_writeOffset); } catch (IOException) { }
                CloseWriter();
                _writeSegment++;
                return SpoolAppendResult.Failed;
            }
            if (_failure is not null)
            {
                _logger.LogWarning("Spool {Directory} takes writes again after {Failures} refused appends", _directory, _spellFailures);
                Volatile.Write(ref _failure, null);
                _spellFailures = 0;
            }
            var entry = new SpoolEntry(_writeSegment, _writeOffset, length);
            _writeOffset += record.Length;
            _pending.Enqueue(entry);
            _pendingBytes += record.Length;
        }
        _available.Release();
        return SpoolAppendResult.Appended;
    }

    /// <summary>The oldest batch not yet drained, or false when the spool is empty.</summary>
    public bool TryPeek(out SpoolEntry entry, out SpoolBatch? batch)
    {
        lock (_lock)
        {
            if (!_pending.TryPeek(out entry))
            {
                batch = null;
                return false;
            }
        }
        batch = Read(entry);
        return true;
    }

    /// <summary>
    /// The oldest batches not yet drained, joined into one in order, as many as fit in <paramref name="maxReadings"/>
    /// readings (always at least the oldest one), or false when the spool is empty. <paramref name="last"/> is the
    /// newest batch taken: <see cref="Commit"/> it once the joined batch is stored. A store catching up on a backlog
    /// writes fewer, larger batches this way (DuckDB's cost per reading falls with the batch size), and the spool
    /// moves its cursor once per write instead of once per batch.
    /// </summary>
    public bool TryPeekRun(int maxReadings, out SpoolEntry last, out int batches, out SpoolBatch? joined)
    {
        SpoolEntry[] entries;
        lock (_lock)
        {
            entries = [.. _pending.Take(MaxBatchesPerRun)];
        }
        batches = 0;
        last = default;
        joined = null;
        if (entries.Length == 0) return false;
        List<Reading>? readings = null;
        List<DeadLetter>? deadLetters = null;
        foreach (var entry in entries)
        {
            var batch = Read(entry);
            if (batches > 0 && readings!.Count + batch.Readings.Count > maxReadings) break;
            if (batches == 0 && entries.Length == 1)
            {
                (last, batches, joined) = (entry, 1, batch);
                return true;
            }
            (readings ??= []).AddRange(batch.Readings);
            (deadLetters ??= []).AddRange(batch.DeadLetters);
            last = entry;
            batches++;
        }
        joined = new SpoolBatch(readings!, deadLetters!);
        return true;
    }

    /// <summary>At most this many batches are joined by <see cref="TryPeekRun"/> (each is read from disk to count its readings).</summary>
    private const int MaxBatchesPerRun = 16;

    private SpoolBatch Read(SpoolEntry entry)
    {
        var path = SegmentPath(entry.Segment);
        var body = ArrayPool<byte>.Shared.Rent(entry.Length);
        try
        {
            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                var read = RandomAccess.Read(handle, body.AsSpan(0, entry.Length), entry.Offset + RecordHeaderBytes);
                if (read != entry.Length) throw new InvalidDataException($"spool segment {path} ended early at {entry.Offset}");
            }
            return Filter(entry, SpoolBatch.ReadFrom(body.AsSpan(0, entry.Length)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>
    /// The store has the batch, and every older one (<see cref="TryPeekRun"/>): move the cursor past it and delete
    /// segments that are wholly drained.
    /// </summary>
    public void Commit(SpoolEntry entry)
    {
        lock (_lock)
        {
            if (!_pending.Contains(entry))
            {
                throw new InvalidOperationException("spool batches are committed in order, oldest first");
            }
            while (true)
            {
                var head = _pending.Dequeue();
                _pendingBytes -= RecordHeaderBytes + head.Length;
                if (head == entry) break;
            }
            if (_pending.Count == 0 && entry.Segment == _writeSegment)
            {
                // Drained dry: start the next append in a fresh segment so this one can go.
                CloseWriter();
                _writeSegment++;
                TryWriteCursor(_writeSegment, 0);
            }
            else
            {
                TryWriteCursor(entry.Segment, entry.End);
            }
            foreach (var path in Directory.GetFiles(_directory, "spool-*.seg"))
            {
                var id = ParseSegmentId(path);
                if (id >= 0 && id < (_pending.Count == 0 ? _writeSegment : _pending.Peek().Segment)) File.Delete(path);
            }
            ForgetPassedErasures();
        }
    }

    /// <summary>
    /// Erases a household from what the spool holds now: every batch already appended is read without its readings
    /// (and attributable dead letters) from now on, across restarts. Batches appended later are new data and are not
    /// touched. Returns how many of its readings the spool held. The mark is durable before this returns.
    /// </summary>
    public int MarkErased(HouseholdScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        SpoolEntry[] covered;
        lock (_lock)
        {
            if (_pending.Count == 0) return 0;
            covered = [.. _pending];
            var last = covered[^1];
            _erasures.Add(new ErasureMark(scope.Household, [.. scope.Devices], last.Segment, last.End));
            WriteErasures();
        }
        var readings = 0;
        foreach (var entry in covered)
        {
            // Counted from the batch as stored: the mark just added already filters what TryPeek reads.
            if (ReadRaw(entry) is { } batch) readings += batch.Readings.Count(r => Owned(scope, r));
        }
        _logger.LogInformation("Spool {Directory}: erased household's readings are filtered from {Batches} spooled batches", _directory, covered.Length);
        return readings;
    }

    private SpoolBatch? ReadRaw(SpoolEntry entry)
    {
        var body = ArrayPool<byte>.Shared.Rent(entry.Length);
        try
        {
            using var handle = File.OpenHandle(SegmentPath(entry.Segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return RandomAccess.Read(handle, body.AsSpan(0, entry.Length), entry.Offset + RecordHeaderBytes) == entry.Length
                ? SpoolBatch.ReadFrom(body.AsSpan(0, entry.Length))
                : null;
        }
        catch (FileNotFoundException)
        {
            return null; // drained meanwhile
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    private static bool Owned(HouseholdScope scope, Reading reading) =>
        reading.Household == scope.Household || scope.Devices.Contains(reading.Device, StringComparer.Ordinal);

    /// <summary>The batch without the readings and dead letters of every household erased after it was appended.</summary>
    private SpoolBatch Filter(SpoolEntry entry, SpoolBatch batch)
    {
        List<HouseholdScope> scopes;
        lock (_lock)
        {
            if (_erasures.Count == 0) return batch;
            scopes = [.. _erasures.Where(m => m.Covers(entry)).Select(m => new HouseholdScope(m.Household, m.Devices))];
        }
        if (scopes.Count == 0) return batch;
        return new SpoolBatch(
            [.. batch.Readings.Where(r => !scopes.Any(s => Owned(s, r)))],
            [.. batch.DeadLetters.Where(d => !scopes.Any(s => s.Owns(d)))]);
    }

    /// <summary>Drops the marks whose batches have all been drained. Under <see cref="_lock"/> (or before anyone else has the spool).</summary>
    private void ForgetPassedErasures()
    {
        if (_erasures.Count == 0) return;
        var kept = _pending.TryPeek(out var head) ? _erasures.Where(m => m.Covers(head)).ToList() : [];
        if (kept.Count == _erasures.Count) return;
        _erasures = kept;
        WriteErasures();
    }

    private List<ErasureMark> ReadErasures()
    {
        var path = Path.Combine(_directory, ErasuresFile);
        if (!File.Exists(path)) return [];
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<List<ErasureMark>>(File.ReadAllBytes(path)) ?? [];
        }
        catch (System.Text.Json.JsonException ex)
        {
            // Going on without the marks would let erased readings into the store: refuse to open instead.
            throw new InvalidDataException($"spool erasure list {path} is unreadable; restore it, or drain the spool with the store before removing it", ex);
        }
    }

    /// <summary>Writes the marks atomically (temp file, flush, rename), like the cursor.</summary>
    private void WriteErasures()
    {
        var path = Path.Combine(_directory, ErasuresFile);
        if (_erasures.Count == 0)
        {
            File.Delete(path);
            return;
        }
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            System.Text.Json.JsonSerializer.Serialize(file, _erasures);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>A household erased while the spool held batches up to (not including) <see cref="Segment"/>:<see cref="End"/>.</summary>
    private sealed record ErasureMark(string Household, string[] Devices, long Segment, long End)
    {
        public bool Covers(SpoolEntry entry) => entry.Segment < Segment || (entry.Segment == Segment && entry.Offset < End);
    }

    /// <summary>Waits until the spool may hold something to drain.</summary>
    public async Task WaitForBatchesAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!IsEmpty) return;
        await _available.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    private void OpenSegment(bool next)
    {
        CloseWriter();
        if (next) _writeSegment++;
        _writer = new FileStream(SegmentPath(_writeSegment), FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        _writeOffset = _writer.Length;
    }

    private void CloseWriter()
    {
        try { _writer?.Dispose(); } catch (IOException) { }
        _writer = null;
        _writeOffset = 0;
    }

    private (long Segment, long Offset) ReadCursor()
    {
        var path = Path.Combine(_directory, CursorFile);
        if (!File.Exists(path)) return (0, 0);
        var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var segment)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? (segment, offset)
            : throw new InvalidDataException($"spool cursor {path} is unreadable; move the spool directory aside to start afresh");
    }

    /// <summary>
    /// The cursor needs a new file (written, then renamed over the old one), which a full disk refuses. Then the store
    /// has the batch but the cursor on disk stays behind: draining goes on (deleting drained segments frees the disk),
    /// and after a crash the batches since the old cursor are written again, which idempotent store writes keep single.
    /// </summary>
    private void TryWriteCursor(long segment, long offset)
    {
        try
        {
            WriteCursor(segment, offset);
            if (_cursorBehind)
            {
                _cursorBehind = false;
                _logger.LogWarning("Spool {Directory} cursor written again", _directory);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!_cursorBehind)
            {
                _logger.LogError("Spool {Directory} could not write its cursor ({Error}); draining goes on, and after a crash the batches since the last cursor would be stored again (once: store writes are idempotent)",
                    _directory, ex.Message);
            }
            _cursorBehind = true;
            try { File.Delete(Path.Combine(_directory, CursorFile + ".tmp")); } catch (IOException) { }
        }
    }

    /// <summary>Writes the cursor atomically (temp file, flush, rename): after a crash it is either old or new, never half.</summary>
    private void WriteCursor(long segment, long offset)
    {
        var path = Path.Combine(_directory, CursorFile);
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{segment} {offset}\n")));
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    private string SegmentPath(long id) => Path.Combine(_directory, string.Create(CultureInfo.InvariantCulture, $"spool-{id:D10}.seg"));

    private static long ParseSegmentId(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        return name.StartsWith("spool-", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : -1;
    }

    public void Dispose()
    {
        lock (_lock) CloseWriter();
        _available.Dispose();
    }
}

/// <summary>CRC-32 (IEEE 802.3, the zip/PNG one), table-driven: enough to tell a torn or damaged record.</summary>
internal static class Crc32
{
    private static readonly uint[] s_table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = s_table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
