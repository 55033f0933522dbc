using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// Bounds how many PUBLISH packets MQTTnet's client reads off the connection ahead of ingest's handler.
/// <para>
/// MQTTnet 5.2's receive loop reads every packet as soon as it arrives and puts PUBLISH packets in an unbounded
/// queue that one task drains through the message handler. The handler waiting (ingest's bounded queue is full)
/// therefore does not slow the socket: a burst piles up in that queue. Receive Maximum should keep the broker from
/// sending more than N unacknowledged QoS 1 messages, but mosquitto 2.0.11 keeps to it only until acknowledgements
/// flow (measured: benchmarks/README.md). So the adapter below takes one of <c>limit</c> slots for each PUBLISH it
/// returns, waiting (and so reading nothing more: TCP's window closes and the broker holds the rest) while all slots
/// are taken; the handler gives a slot back once the message is in ingest's queue. Other packets (acknowledgements,
/// PINGRESP) are not limited, but sit behind the held PUBLISH in the stream, as they would behind a slow network.
/// QoS 0 messages never make the handler wait (<see cref="MqttIntake"/> sheds them when there is no room), so this
/// holds the connection only for QoS 1, whose acknowledgements keep MQTTnet from needing a PINGRESP meanwhile (should
/// the store stall long enough for the keep-alive to time out, the reconnect loses nothing: what was not acknowledged
/// is redelivered).
/// </para>
/// <para>
/// Each connection gets fresh slots: packets MQTTnet had queued when a connection dropped are discarded with it and
/// never reach the handler, so their slots must not be carried over. MQTTnet finishes the handler of the old
/// connection before it opens the next one, so <see cref="Current"/> at the start of a handler is the window of the
/// connection its message came from.
/// </para>
/// </summary>
public sealed class ReadAheadLimit(int limit) : IMqttClientAdapterFactory
{
    private readonly BrokerSocketAdapters _inner = new();
    private Window _current = new(limit);

    public int Limit => limit;

    /// <summary>The window of the connection MQTTnet is reading from.</summary>
    public Window Current => Volatile.Read(ref _current);

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        var window = new Window(limit);
        Volatile.Write(ref _current, window);
        return new LimitedAdapter(_inner.CreateClientAdapter(options, packetInspector, logger), window);
    }

    /// <summary>
    /// The slots of one connection. Once all are taken, reading resumes only when a quarter of them are free again:
    /// waking the receive loop for every single slot handed back would make the loop and the handler trade the CPU
    /// once per message, which measurably slowed a backlog's drain.
    /// </summary>
    public sealed class Window(int limit)
    {
        private readonly Lock _lock = new();
        private readonly int _resumeAt = limit - Math.Max(1, limit / 4);
        private int _held;
        private TaskCompletionSource? _room;

        /// <summary>Messages read off the connection and not yet handed to ingest's queue.</summary>
        public int Held => Volatile.Read(ref _held);

        internal bool TryTake()
        {
            lock (_lock)
            {
                if (_held >= limit || _room is not null) return false;
                _held++;
                return true;
            }
        }

        internal async Task TakeAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                Task room;
                lock (_lock)
                {
                    if (_held < limit && _room is null)
                    {
                        _held++;
                        return;
                    }
                    _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    room = _room.Task;
                }
                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>The handler has handed a message over (or given up on it).</summary>
        public void Release()
        {
            TaskCompletionSource? room = null;
            lock (_lock)
            {
                _held--;
                if (_room is not null && _held <= _resumeAt)
                {
                    room = _room;
                    _room = null;
                }
            }
            room?.TrySetResult();
        }
    }

    private sealed class LimitedAdapter(IMqttChannelAdapter inner, Window window) : IMqttChannelAdapter
    {
        public long BytesReceived => inner.BytesReceived;
        public long BytesSent => inner.BytesSent;
        public X509Certificate2 ClientCertificate => inner.ClientCertificate;
        public EndPoint RemoteEndPoint => inner.RemoteEndPoint;
        public EndPoint LocalEndPoint => inner.LocalEndPoint;
        public bool IsSecureConnection => inner.IsSecureConnection;
        public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);
        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);
        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);
        public void ResetStatistics() => inner.ResetStatistics();
        public void Dispose() => inner.Dispose();

        public Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
        {
            var receive = inner.ReceivePacketAsync(cancellationToken);
            // The common case stays allocation-free: a packet already read, and a free slot (or no PUBLISH).
            if (receive.IsCompletedSuccessfully && (receive.Result is not MqttPublishPacket || window.TryTake()))
            {
                return receive;
            }
            return ReceiveSlowAsync(receive, cancellationToken);
        }

        private async Task<MqttPacket> ReceiveSlowAsync(Task<MqttPacket> receive, CancellationToken cancellationToken)
        {
            var packet = await receive.ConfigureAwait(false);
            if (packet is MqttPublishPacket)
            {
                await window.TakeAsync(cancellationToken).ConfigureAwait(false);
            }
            return packet;
        }
    }
}
