using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using MQTTnet.Protocol;

namespace Sensing.Simulators.Replay;

/// <summary>How a recording ended, once <see cref="RecordingReader.ReadAsync"/> has returned false.</summary>
public enum RecordingEnd
{
    /// <summary>Still reading.</summary>
    NotYet,

    /// <summary>The end record was read: the writer finished normally.</summary>
    Complete,

    /// <summary>The file stops early (a killed recorder, a copy cut short); every complete message was read.</summary>
    Truncated,
}

/// <summary>
/// Streams the messages of a recording (format in <see cref="RecordingFormat"/>) in recorded order, holding one
/// pooled, growing buffer of decompressed bytes. A file cut off anywhere after its header yields every complete
/// message, then <see cref="End"/> is <see cref="RecordingEnd.Truncated"/> with a <see cref="TruncationDetail"/>;
/// only damage inside a complete record (or a bad header) throws, as <see cref="InvalidDataException"/>.
/// </summary>
public sealed class RecordingReader : IAsyncDisposable
{
    private const int ChunkLength = 64 * 1024;

    private readonly Stream _source;
    private readonly bool _leaveOpen;
    private readonly BrotliDecoderStream _decoder;
    private readonly List<string> _topics = [];
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(ChunkLength * 2);
    private int _start;
    private int _end;
    private bool _sourceEnded;
    private long _ticks;

    private RecordingReader(Stream source, bool leaveOpen, DateTimeOffset start)
    {
        _source = source;
        _leaveOpen = leaveOpen;
        _decoder = new BrotliDecoderStream(source);
        _ticks = start.UtcTicks;
        Start = start;
    }

    /// <summary>The recording's start time, from its header.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>The message of the last successful <see cref="ReadAsync"/>; its payload is valid until the next call.</summary>
    public RecordedMessage Current { get; private set; }

    /// <summary>Messages read so far.</summary>
    public long MessageCount { get; private set; }

    public RecordingEnd End { get; private set; }

    /// <summary>What was cut off, in words, when <see cref="End"/> is <see cref="RecordingEnd.Truncated"/>.</summary>
    public string? TruncationDetail { get; private set; }

    /// <summary>Reads and checks the header.</summary>
    /// <exception cref="InvalidDataException">Not a recording, an unknown version, or shorter than a header.</exception>
    public static async Task<RecordingReader> OpenAsync(Stream source, bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var header = new byte[RecordingFormat.HeaderLength];
        var read = await source.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < header.Length || !header.AsSpan(0, 4).SequenceEqual(RecordingFormat.Magic))
            throw new InvalidDataException(read < header.Length && header.AsSpan(0, Math.Min(read, 4)).SequenceEqual(RecordingFormat.Magic[..Math.Min(read, 4)])
                ? $"The recording ends inside its {RecordingFormat.HeaderLength}-byte header ({read} bytes): nothing was recorded."
                : "Not a recording: the file does not start with \"SREC\".");
        if (header[4] != RecordingFormat.Version || header[5] != RecordingFormat.BrotliCompression)
            throw new InvalidDataException($"Recording version {header[4]} (compression {header[5]}) is not supported; this build reads version {RecordingFormat.Version}.");
        var ticks = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            throw new InvalidDataException("The recording's header holds an impossible start time.");
        return new RecordingReader(source, leaveOpen, new DateTimeOffset(ticks, TimeSpan.Zero));
    }

    /// <summary>Moves to the next message; false at the end of the recording (see <see cref="End"/>).</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (End != RecordingEnd.NotYet)
            return false;

        // The length prefix: up to 10 bytes, possibly split across decoder reads.
        int prefix;
        ulong bodyLength;
        while ((prefix = RecordingFormat.TryReadVarint(_buffer.AsSpan(_start, _end - _start), out bodyLength)) == 0)
        {
            if (!await FillAsync(_end - _start + 1, cancellationToken))
                return Truncate(_end == _start
                    ? $"the recording stops after message {MessageCount} without its end record (the recorder did not finish)"
                    : $"the recording stops inside the length of message {MessageCount + 1}");
        }
        if (prefix < 0 || bodyLength > RecordingFormat.MaxRecordLength)
            throw Damaged("an impossible record length");
        if (bodyLength == 0)
        {
            _start += prefix;
            End = RecordingEnd.Complete;
            return false;
        }

        var recordLength = prefix + (int)bodyLength;
        if (!await FillAsync(recordLength, cancellationToken))
            return Truncate($"the recording stops inside message {MessageCount + 1} ({_end - _start - prefix} of its {bodyLength} bytes)");

        var body = _buffer.AsSpan(_start + prefix, (int)bodyLength);
        var at = RecordingFormat.TryReadVarint(body, out var delta);
        if (at <= 0 || at >= body.Length)
            throw Damaged("a bad receive time");
        var flags = body[at++];
        if ((flags & ~(RecordingFormat.QosMask | RecordingFormat.RetainFlag)) != 0 || (flags & RecordingFormat.QosMask) == 3)
            throw Damaged($"unknown flags 0x{flags:x2}");
        var used = RecordingFormat.TryReadVarint(body[at..], out var topicRef);
        if (used <= 0)
            throw Damaged("a bad topic reference");
        at += used;
        string topic;
        if (topicRef == 0)
        {
            used = RecordingFormat.TryReadVarint(body[at..], out var topicLength);
            if (used <= 0 || topicLength > (ulong)(body.Length - at - used))
                throw Damaged("a bad topic length");
            at += used;
            topic = Encoding.UTF8.GetString(body.Slice(at, (int)topicLength));
            at += (int)topicLength;
            _topics.Add(topic);
        }
        else if (topicRef <= (ulong)_topics.Count)
        {
            topic = _topics[(int)topicRef - 1];
        }
        else
        {
            throw Damaged($"topic id {topicRef} before its definition");
        }

        var ticks = _ticks + RecordingFormat.Unzigzag(delta);
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            throw Damaged("an impossible receive time");
        _ticks = ticks;
        var payloadStart = _start + prefix + at;
        Current = new RecordedMessage(
            new DateTimeOffset(ticks, TimeSpan.Zero),
            topic,
            _buffer.AsMemory(payloadStart, (int)bodyLength - at),
            (MqttQualityOfServiceLevel)(flags & RecordingFormat.QosMask),
            (flags & RecordingFormat.RetainFlag) != 0);
        _start += recordLength;
        MessageCount++;
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_buffer.Length == 0)
            return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        Current = default;
        _decoder.Dispose();
        if (!_leaveOpen)
            await _source.DisposeAsync();
    }

    /// <summary>Makes at least <paramref name="count"/> unread bytes available; false when the input ends first.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (_sourceEnded)
                return false;
            var unread = _end - _start;
            if (_buffer.Length - _start < count || _buffer.Length - _end < ChunkLength / 4)
            {
                // Compact, growing for a record longer than the buffer; the previous Current's payload is void now.
                var capacity = Math.Max(count, unread) + ChunkLength / 4;
                var target = _buffer.Length >= capacity ? _buffer : ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, capacity));
                _buffer.AsSpan(_start, unread).CopyTo(target);
                if (!ReferenceEquals(target, _buffer))
                    ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = target;
                _start = 0;
                _end = unread;
            }
            var read = await _decoder.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
                _sourceEnded = true;
            _end += read;
        }
        return true;
    }

    private bool Truncate(string detail)
    {
        End = RecordingEnd.Truncated;
        TruncationDetail = _decoder.Failure is { } failure
            ? $"{detail}; the compressed data is cut off ({failure})"
            : detail;
        Current = default;
        return false;
    }

    private InvalidDataException Damaged(string what) =>
        new($"The recording is damaged: message {MessageCount + 1} has {what}.");

    /// <summary>
    /// A Brotli decoder that reports a cut-off stream as its end. Depending on where the cut falls, the decoder
    /// either just runs out of input or throws <see cref="InvalidDataException"/>; either way what it produced so
    /// far is good, and the record framing above decides what is complete.
    /// </summary>
    private sealed class BrotliDecoderStream(Stream source) : IDisposable
    {
        private readonly BrotliStream _brotli = new(source, CompressionMode.Decompress, leaveOpen: true);

        public string? Failure { get; private set; }

        public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (Failure is not null)
                return 0;
            try
            {
                return await _brotli.ReadAsync(destination, cancellationToken);
            }
            catch (InvalidDataException ex)
            {
                Failure = ex.Message;
                return 0;
            }
        }

        public void Dispose() => _brotli.Dispose();
    }
}
