using System.Buffers;
using System.IO.Compression;
using System.Text;

namespace Sensing.Simulators.Replay;

/// <summary>
/// Streams messages into a recording (format in <see cref="RecordingFormat"/>). Records are encoded into a pooled
/// buffer and handed to the compressor 64 KiB at a time; <see cref="FlushAsync"/> pushes everything written so far
/// to the file so a crash loses at most what came after it. <see cref="DisposeAsync"/> writes the end record.
/// Not thread-safe: one writer loop owns it.
/// </summary>
public sealed class RecordingWriter : IAsyncDisposable
{
    private const int ChunkLength = 64 * 1024;

    private readonly Stream _destination;
    private readonly bool _leaveOpen;
    private readonly BrotliStream _compressor;
    private readonly Dictionary<string, ulong> _topicIds = new(StringComparer.Ordinal);
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(ChunkLength * 2);
    private int _length;
    private long _previousTicks;
    private bool _disposed;

    private RecordingWriter(Stream destination, bool leaveOpen, DateTimeOffset start)
    {
        _destination = destination;
        _leaveOpen = leaveOpen;
        _previousTicks = start.UtcTicks;
        Start = start;
        _compressor = new BrotliStream(destination,
            new BrotliCompressionOptions { Quality = RecordingFormat.BrotliQuality }, leaveOpen: true);
    }

    /// <summary>The recording's start time (header); the first message's receive time is stored relative to it.</summary>
    public DateTimeOffset Start { get; }

    public long MessageCount { get; private set; }

    /// <summary>Bytes of records before compression (what the file would weigh without it).</summary>
    public long UncompressedBytes { get; private set; }

    /// <summary>Writes the header and returns a writer positioned after it.</summary>
    public static async Task<RecordingWriter> CreateAsync(Stream destination, DateTimeOffset start, bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var header = new byte[RecordingFormat.HeaderLength];
        RecordingFormat.WriteHeader(header, start);
        await destination.WriteAsync(header, cancellationToken);
        return new RecordingWriter(destination, leaveOpen, start);
    }

    /// <summary>Appends one message. Completes synchronously unless a 64 KiB chunk is ready for the compressor.</summary>
    public ValueTask WriteAsync(RecordedMessage message, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(message.Topic);
        if ((uint)message.Qos > 2)
            throw new ArgumentOutOfRangeException(nameof(message), message.Qos, "QoS must be 0, 1 or 2.");

        var ticks = message.ReceivedAt.UtcTicks;
        var delta = RecordingFormat.Zigzag(ticks - _previousTicks);
        var isNewTopic = !_topicIds.TryGetValue(message.Topic, out var topicId);
        var topicLength = isNewTopic ? Encoding.UTF8.GetByteCount(message.Topic) : 0;
        var bodyLength = RecordingFormat.VarintLength(delta) + 1
            + (isNewTopic ? 1 + RecordingFormat.VarintLength((ulong)topicLength) + topicLength : RecordingFormat.VarintLength(topicId))
            + message.Payload.Length;
        if (bodyLength > RecordingFormat.MaxRecordLength)
            throw new ArgumentException($"A {message.Payload.Length}-byte payload exceeds what a recording holds.", nameof(message));
        var recordLength = RecordingFormat.VarintLength((ulong)bodyLength) + bodyLength;

        var span = Reserve(recordLength);
        var at = RecordingFormat.WriteVarint(span, (ulong)bodyLength);
        at += RecordingFormat.WriteVarint(span[at..], delta);
        span[at++] = (byte)((byte)message.Qos | (message.Retain ? RecordingFormat.RetainFlag : 0));
        if (isNewTopic)
        {
            span[at++] = 0;
            at += RecordingFormat.WriteVarint(span[at..], (ulong)topicLength);
            at += Encoding.UTF8.GetBytes(message.Topic, span[at..]);
            _topicIds.Add(message.Topic, (ulong)_topicIds.Count + 1);
        }
        else
        {
            at += RecordingFormat.WriteVarint(span[at..], topicId);
        }
        message.Payload.Span.CopyTo(span[at..]);

        _length += recordLength;
        _previousTicks = ticks;
        MessageCount++;
        UncompressedBytes += recordLength;
        return _length >= ChunkLength ? WriteChunkAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>Compresses and writes everything so far, with a Brotli flush, so the file decodes up to here.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await WriteChunkAsync(cancellationToken);
        await _compressor.FlushAsync(cancellationToken);
        await _destination.FlushAsync(cancellationToken);
    }

    /// <summary>Writes the end record, finishes the compressed stream and returns the pooled buffer.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        try
        {
            Reserve(1)[0] = 0;
            _length++;
            await WriteChunkAsync(CancellationToken.None);
            await _compressor.DisposeAsync();
            await _destination.FlushAsync();
        }
        finally
        {
            _disposed = true;
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            if (!_leaveOpen)
                await _destination.DisposeAsync();
        }
    }

    private Span<byte> Reserve(int length)
    {
        if (_buffer.Length - _length < length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + length));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        return _buffer.AsSpan(_length, length);
    }

    private async ValueTask WriteChunkAsync(CancellationToken cancellationToken)
    {
        if (_length == 0)
            return;
        await _compressor.WriteAsync(_buffer.AsMemory(0, _length), cancellationToken);
        _length = 0;
    }
}
