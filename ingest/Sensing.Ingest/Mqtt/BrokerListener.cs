using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// The embedded broker's TCP listener (plain, and TLS when configured), in place of MQTTnet's own. It exists for one
/// check MQTTnet 5.2 does not make: the packet size. MQTTnet allocates a buffer of whatever length a packet's fixed
/// header announces (up to 256 MB) before any hook runs, even before CONNECT is validated, so one unauthenticated
/// client could make the broker allocate 256 MB per connection. Here every connection's bytes pass through
/// <see cref="PacketSizeGuard"/>, which reads the MQTT framing as it goes and closes the connection when a header
/// announces more than <c>Broker:MaxPacketSize</c>, before MQTTnet sees the length.
/// </summary>
internal sealed class BrokerListener(
    IPAddress address, int port, X509Certificate2? certificate, int maxPacketSize, BrokerAccess access, ILogger logger) : IMqttServerAdapter
{
    private static readonly TimeSpan s_tlsHandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stopping = new();
    private TcpListener? _listener;
    private Task? _accepting;
    private MqttServerOptions? _serverOptions;
    private IMqttNetLogger? _mqttLogger;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>The port listened on (the one asked for, or the one the system chose for port 0).</summary>
    public int Port => _listener?.LocalEndpoint is IPEndPoint endpoint ? endpoint.Port : port;

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _serverOptions = options;
        _mqttLogger = logger;
        _listener = new TcpListener(address, port);
        _listener.Start(backlog: 200);
        _accepting = AcceptAsync(_listener, _stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync()
    {
        if (Volatile.Read(ref _disposed) == 1) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        if (_accepting is not null)
        {
            try { await _accepting.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    public void Dispose()
    {
        // MQTTnet disposes its adapters when the server is disposed, and the broker disposes them too.
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stopping.Cancel();
        _listener?.Stop();
        _stopping.Dispose();
    }

    private int _disposed;

    private async Task AcceptAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                logger.LogWarning(e, "Embedded broker: accepting a connection on port {Port} failed", Port);
                continue;
            }
            _ = Task.Run(() => ServeAsync(socket, cancellationToken), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        var remote = socket.RemoteEndPoint;
        Stream? stream = null;
        try
        {
            socket.NoDelay = true;
            stream = new NetworkStream(socket, ownsSocket: true);
            if (certificate is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                handshake.CancelAfter(s_tlsHandshakeTimeout);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateRequired = false,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                }, handshake.Token).ConfigureAwait(false);
            }
            var guarded = new PacketSizeGuard(stream, maxPacketSize, size => access.PacketTooLarge(remote?.ToString() ?? "?", size));
            var channel = new MqttTcpChannel(guarded, socket.LocalEndPoint!, remote!, null);
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(_serverOptions!.WriterBufferSize, _serverOptions.WriterBufferSizeMax));
            using var adapter = new MqttChannelAdapter(channel, formatter, _mqttLogger!);
            if (ClientHandler is { } handler) await handler(adapter).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
        {
            // A client that went away, failed the TLS handshake or was cut off for its packet size: nothing to do.
            logger.LogDebug(e, "Embedded broker: connection from {Remote} ended", remote);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Embedded broker: connection from {Remote} failed", remote);
        }
        finally
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
            else socket.Dispose();
        }
    }
}

/// <summary>
/// A read-through stream that follows MQTT's framing (one header byte, a remaining length of one to four 7-bit bytes,
/// then that many bytes) and fails the read that completes a header announcing a packet over the limit, so the
/// connection is closed before anyone buffers it. Writes pass through.
/// </summary>
internal sealed class PacketSizeGuard(Stream inner, int maxPacketSize, Action<long> tooLarge) : Stream
{
    private enum State { Header, Length, Body }

    private State _state = State.Header;
    private long _length;
    private int _lengthBytes;
    private long _remaining;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Check(buffer.AsSpan(offset, inner.Read(buffer, offset, count)));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Check(buffer.Span[..read]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Check(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            switch (_state)
            {
                case State.Header:
                    i++;
                    _length = 0;
                    _lengthBytes = 0;
                    _state = State.Length;
                    break;
                case State.Length:
                    var b = bytes[i++];
                    _length |= (long)(b & 0x7F) << (7 * _lengthBytes++);
                    if (b >= 0x80)
                    {
                        // A fifth length byte is malformed; MQTTnet refuses it, and it cannot be a size we accept.
                        if (_lengthBytes == 4) Refuse(long.MaxValue);
                        break;
                    }
                    var total = 1 + _lengthBytes + _length;
                    if (total > maxPacketSize) Refuse(total);
                    _remaining = _length;
                    _state = _remaining == 0 ? State.Header : State.Body;
                    break;
                default:
                    var skip = (int)Math.Min(_remaining, bytes.Length - i);
                    i += skip;
                    _remaining -= skip;
                    if (_remaining == 0) _state = State.Header;
                    break;
            }
        }
        return bytes.Length;
    }

    private void Refuse(long size)
    {
        tooLarge(size);
        throw new IOException(size == long.MaxValue
            ? "MQTT packet with a malformed remaining length: connection closed"
            : $"MQTT packet of {size} bytes exceeds Broker:MaxPacketSize ({maxPacketSize}): connection closed");
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
