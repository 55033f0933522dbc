using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// The connection to the broker as MQTTnet's client adapter sees it, read in large chunks and with acknowledgements sent
/// in batches. At 12,000 msg/s a profile of the service put 30 % of its CPU in MQTT's receive and acknowledge path, most of
/// it two system calls per message or more (benchmarks/README.md):
/// <list type="bullet">
/// <item><b>Reads.</b> MQTTnet 5.2's adapter reads every packet in two or three reads (the fixed header's two bytes, any
/// further length bytes one at a time, then the body), and its TCP channel passes each one to the socket. Here one
/// <c>recv</c> takes whatever the socket holds, up to the buffer, and the reads that follow are copies; a read as large
/// as the buffer goes to the socket directly. The buffer adds at most its size (64 KB, a few hundred of the feed's
/// messages) to what is read ahead of ingest's handler; the read-ahead window counts decoded packets, not bytes.</item>
/// <item><b>Acknowledgements.</b> Ingest acknowledges a batch's QoS 1 messages one after another once the batch is
/// stored, and MQTTnet sends each PUBACK in a <c>send</c> of its own. Here a PUBACK is queued and the call returns; the
/// queue goes out in one <c>send</c> as soon as the thread pool runs its flush, i.e. with the acknowledgements queued
/// meanwhile, in order. Any other packet is written after the queued acknowledgements, and waits for its write as before.
/// Nothing is acknowledged earlier than before (still after the store's commit), only later by the flush's delay; if
/// the connection breaks before a flush, the broker never had those acknowledgements and sends the messages again (the
/// store drops what it holds already), as for any acknowledgement lost with a connection.</item>
/// </list>
/// Reads come from MQTTnet's one receive loop at a time; writes from anywhere (the adapter serialises its packets, and
/// the flush runs beside it, so both take <see cref="_sending"/>).
/// </summary>
internal sealed class BrokerSocket(IMqttChannel connection, int readBufferSize = BrokerSocket.DefaultReadBufferSize) : IMqttChannel
{
    public const int DefaultReadBufferSize = 64 * 1024;

    private readonly byte[] _read = new byte[readBufferSize];
    private int _readStart;
    private int _readEnd;
    // The last completed read's task, handed out again for a read of the same length (the two header bytes, mostly).
    private Task<int> _lastRead = Task.FromResult(0);

    // Acknowledgements queued (under _queueLock), and the bytes of the flush in progress (under _sending).
    private readonly Lock _queueLock = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private byte[] _queue = new byte[4096];
    private byte[] _flushing = new byte[4096];
    private int _queued;
    private bool _flushScheduled;
    private Exception? _flushFailure;
    private long _acknowledgementsQueued;
    private long _flushes;

    public X509Certificate2 ClientCertificate => connection.ClientCertificate;
    public EndPoint RemoteEndPoint => connection.RemoteEndPoint;
    public EndPoint LocalEndPoint => connection.LocalEndPoint;
    public bool IsSecureConnection => connection.IsSecureConnection;

    /// <summary>PUBACKs queued so far, and the writes that sent them.</summary>
    internal (long Acknowledgements, long Flushes) Acknowledged => (Interlocked.Read(ref _acknowledgementsQueued), Interlocked.Read(ref _flushes));

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        _readStart = _readEnd = 0;
        return connection.ConnectAsync(cancellationToken);
    }

    public Task DisconnectAsync(CancellationToken cancellationToken) => connection.DisconnectAsync(cancellationToken);

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _flushFailure) is { } failure)
        {
            return Task.FromException(new IOException("An earlier write of acknowledgements to the broker failed.", failure));
        }
        if (!isEndOfPacket || !IsAcknowledgement(buffer))
        {
            return WriteAfterQueueAsync(buffer, isEndOfPacket, cancellationToken);
        }
        var schedule = false;
        lock (_queueLock)
        {
            var length = (int)buffer.Length;
            if (_queued + length > _queue.Length) Array.Resize(ref _queue, Math.Max(2 * _queue.Length, _queued + length));
            buffer.CopyTo(_queue.AsSpan(_queued));
            _queued += length;
            if (!_flushScheduled) schedule = _flushScheduled = true;
        }
        Interlocked.Increment(ref _acknowledgementsQueued);
        if (schedule) _ = Task.Run(FlushQueuedAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (_readEnd > _readStart)
        {
            return Completed(Take(buffer.AsSpan(offset, count)));
        }
        if (count >= _read.Length)
        {
            return connection.ReadAsync(buffer, offset, count, cancellationToken);
        }
        return FillAndReadAsync(buffer, offset, count, cancellationToken);
    }

    public void Dispose() => connection.Dispose();

    /// <summary>A PUBACK (type 4), as MQTT 3.1.1 and 5 frame it: packet id, and in 5 a reason code and properties.</summary>
    private static bool IsAcknowledgement(ReadOnlySequence<byte> packet) =>
        packet.Length is >= 4 and <= 16 && packet.FirstSpan[0] == 0x40;

    private async Task FlushQueuedAsync()
    {
        await _sending.WaitAsync().ConfigureAwait(false);
        try
        {
            await SendQueuedLockedAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The connection is broken: MQTTnet's receive loop sees it too, and reconnects; the next write says so.
            Volatile.Write(ref _flushFailure, e);
        }
        finally
        {
            _sending.Release();
        }
    }

    private async Task WriteAfterQueueAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SendQueuedLockedAsync(cancellationToken).ConfigureAwait(false);
            await connection.WriteAsync(buffer, isEndOfPacket, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Sends what is queued, in one write. Call only while holding <see cref="_sending"/>.</summary>
    private async Task SendQueuedLockedAsync(CancellationToken cancellationToken)
    {
        int length;
        lock (_queueLock)
        {
            // Acknowledgements queued from here on schedule a flush of their own.
            _flushScheduled = false;
            length = _queued;
            if (length == 0) return;
            (_queue, _flushing) = (_flushing, _queue);
            _queued = 0;
        }
        Interlocked.Increment(ref _flushes);
        await connection.WriteAsync(new ReadOnlySequence<byte>(_flushing, 0, length), isEndOfPacket: true, cancellationToken).ConfigureAwait(false);
    }

    private async Task<int> FillAndReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        var read = await connection.ReadAsync(_read, 0, _read.Length, cancellationToken).ConfigureAwait(false);
        if (read <= 0)
        {
            // The connection closed: MQTTnet's own sign of it is a read of 0 bytes.
            return read;
        }
        _readStart = 0;
        _readEnd = read;
        return Take(buffer.AsSpan(offset, count));
    }

    private int Take(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _readEnd - _readStart);
        _read.AsSpan(_readStart, n).CopyTo(destination);
        _readStart += n;
        return n;
    }

    private Task<int> Completed(int n)
    {
        var last = _lastRead;
        if (last.Result == n) return last;
        return _lastRead = Task.FromResult(n);
    }
}

/// <summary>
/// MQTTnet's client adapters as its own factory builds them (<see cref="MqttClientAdapterFactory"/>), with a TCP
/// connection through <see cref="BrokerSocket"/>; WebSocket connections as MQTTnet builds them.
/// </summary>
internal sealed class BrokerSocketAdapters : IMqttClientAdapterFactory
{
    private readonly MqttClientAdapterFactory _default = new();

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChannelOptions is not MqttClientTcpOptions)
        {
            return _default.CreateClientAdapter(options, packetInspector, logger);
        }
        var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        return new MqttChannelAdapter(new BrokerSocket(new MqttTcpChannel(options)), formatter, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
    }
}
