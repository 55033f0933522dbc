using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using Sensing.Ingest.Mqtt;

namespace Sensing.Ingest.Tests;

/// <summary>
/// MQTTnet's own adapter on a real loopback TCP connection through <see cref="BrokerSocket"/>: every packet arrives
/// whole and in order whatever the chunks the bytes come in, and the connection is read once for many small packets
/// instead of two or three times for each; acknowledgements leave in order, several to a write, and another packet
/// only after the acknowledgements queued before it.
/// </summary>
public sealed class BrokerSocketTests
{
    [Fact]
    public async Task Packets_arrive_whole_and_in_order_from_few_reads_of_the_connection()
    {
        // Small packets (one length byte), ones with a two-byte length, and one larger than the buffer.
        var payloads = Enumerable.Range(0, 300).Select(i => Payload(i, i % 7 == 0 ? 300 : 90)).ToList();
        payloads.Insert(150, Payload(150_000, BrokerSocket.DefaultReadBufferSize + 5_000));
        var bytes = payloads.SelectMany((p, i) => Publish($"sensing/meter/m{i}", p)).ToArray();

        await using var pair = await LoopbackPair.OpenAsync();
        var counting = new CountingStream(new NetworkStream(pair.Client, ownsSocket: false));
        var (adapter, _) = pair.Adapter(counting);

        // Sent in uneven slices, so packets and even headers are cut across the reads.
        var send = Task.Run(async () =>
        {
            var random = new Random(20261125);
            for (var at = 0; at < bytes.Length;)
            {
                var slice = Math.Min(bytes.Length - at, random.Next(1, 40_000));
                await pair.Server.SendAsync(bytes.AsMemory(at, slice));
                at += slice;
            }
        });

        for (var i = 0; i < payloads.Count; i++)
        {
            var packet = Assert.IsType<MqttPublishPacket>(await adapter.ReceivePacketAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal($"sensing/meter/m{i}", packet.Topic);
            Assert.Equal(payloads[i], packet.Payload.ToArray());
        }
        await send;

        // MQTTnet asks for 2 to 3 reads per packet (602 here); the connection saw a few per 64 KB of bytes.
        Assert.InRange(counting.Reads, 1, 60);
    }

    [Fact]
    public async Task A_connection_closed_by_the_broker_ends_the_receive_after_the_packets_it_sent()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var (adapter, _) = pair.Adapter();

        await pair.Server.SendAsync(Publish("sensing/gate/g1", Payload(1, 40)).Concat(Publish("sensing/gate/g2", Payload(2, 40))).ToArray());
        pair.Server.Shutdown(SocketShutdown.Send);

        Assert.Equal("sensing/gate/g1", Assert.IsType<MqttPublishPacket>(await adapter.ReceivePacketAsync(CancellationToken.None)).Topic);
        Assert.Equal("sensing/gate/g2", Assert.IsType<MqttPublishPacket>(await adapter.ReceivePacketAsync(CancellationToken.None)).Topic);
        Assert.Null(await adapter.ReceivePacketAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Acknowledgements_leave_in_order_several_to_a_write_and_before_the_next_other_packet()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        // The connection's writes held until released: acknowledgements queue behind the first one, as behind a busy socket.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (adapter, socket) = pair.Adapter(new HeldWrites(new NetworkStream(pair.Client, ownsSocket: false), release.Task));

        const int Count = 5_000;
        for (ushort id = 1; id <= Count; id++)
        {
            await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = id }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
        var ping = adapter.SendPacketAsync(MqttPingReqPacket.Instance, CancellationToken.None);
        await Task.Delay(100);
        Assert.False(ping.IsCompleted); // behind the queued acknowledgements
        release.SetResult();
        await ping.WaitAsync(TimeSpan.FromSeconds(10));

        // What the broker reads: every PUBACK once, in order, then the PINGREQ.
        var expected = Enumerable.Range(1, Count).SelectMany(id => new byte[] { 0x40, 0x02, (byte)(id >> 8), (byte)id }).Concat([(byte)0xC0, (byte)0x00]).ToArray();
        var received = new byte[expected.Length];
        for (var at = 0; at < received.Length;)
        {
            var read = await pair.Server.ReceiveAsync(received.AsMemory(at)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotEqual(0, read);
            at += read;
        }
        Assert.Equal(expected, received);
        var (acknowledgements, flushes) = socket.Acknowledged;
        Assert.Equal(Count, acknowledgements);
        Assert.InRange(flushes, 1, 3); // the first, then the rest in one write
    }

    [Fact]
    public async Task After_the_connection_breaks_under_queued_acknowledgements_the_next_write_fails()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var (adapter, _) = pair.Adapter();
        pair.Client.Shutdown(SocketShutdown.Send);

        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 1 }, CancellationToken.None);
        // The flush meets the closed connection in the background; a later packet is refused, not lost in silence.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline)
            {
                await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 2 }, CancellationToken.None);
                await Task.Delay(10);
            }
        });
    }

    private static byte[] Payload(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A QoS 0 PUBLISH as MQTT 3.1.1 frames it: type, remaining length (7 bits a byte), topic, payload.</summary>
    private static byte[] Publish(string topic, byte[] payload)
    {
        var name = Encoding.UTF8.GetBytes(topic);
        var remaining = 2 + name.Length + payload.Length;
        var packet = new List<byte> { 0x30 };
        do
        {
            var digit = (byte)(remaining % 128);
            remaining /= 128;
            packet.Add(remaining > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remaining > 0);
        packet.Add((byte)(name.Length >> 8));
        packet.Add((byte)name.Length);
        packet.AddRange(name);
        packet.AddRange(payload);
        return [.. packet];
    }

    private sealed class LoopbackPair : IAsyncDisposable
    {
        public required Socket Client { get; init; }
        public required Socket Server { get; init; }

        private MqttChannelAdapter? _adapter;

        /// <summary>
        /// MQTTnet's adapter (MQTT 3.1.1) on the client end, through a <see cref="BrokerSocket"/> over <paramref name="connection"/>
        /// (the client socket's stream by default); disposed with the pair.
        /// </summary>
        public (MqttChannelAdapter Adapter, BrokerSocket Socket) Adapter(Stream? connection = null)
        {
            var socket = new BrokerSocket(new MqttTcpChannel(connection ?? new NetworkStream(Client, ownsSocket: false), Client.LocalEndPoint!, Client.RemoteEndPoint!, null));
            _adapter = new MqttChannelAdapter(socket, new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(4096, 65536)), MqttNetNullLogger.Instance);
            return (_adapter, socket);
        }

        public static async Task<LoopbackPair> OpenAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            return new LoopbackPair { Client = client, Server = await listener.AcceptAsync() };
        }

        public ValueTask DisposeAsync()
        {
            _adapter?.Dispose();
            Client.Dispose();
            Server.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Holds every write until <paramref name="released"/> completes.</summary>
    private sealed class HeldWrites(Stream inner, Task released) : CountingStream(inner)
    {
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await released.WaitAsync(cancellationToken);
            await base.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>Counts the reads that reach the connection.</summary>
    private class CountingStream(Stream inner) : Stream
    {
        public int Reads;

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) { Reads++; return inner.Read(buffer, offset, count); }
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) { Reads++; return inner.ReadAsync(buffer, cancellationToken); }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
