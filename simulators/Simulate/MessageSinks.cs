using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;

namespace Sensing.Simulators.Simulate;

/// <summary>Where generated messages go: a broker, a file, or nowhere (pure generation, for measuring it).</summary>
internal interface IMessageSink : IAsyncDisposable
{
    /// <summary>Takes the message; its payload is only valid during the call, so a sink that keeps it copies it.</summary>
    ValueTask WriteAsync(SimulatedMessage message, CancellationToken cancellationToken);

    /// <summary>Waits until everything taken is delivered (acknowledged, flushed).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary><c>--dry-run</c> without <c>--out</c>: generation alone.</summary>
internal sealed class DiscardingSink : IMessageSink
{
    public ValueTask WriteAsync(SimulatedMessage message, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// <c>--dry-run --out file.jsonl</c>: one JSON object per message,
/// <c>{"time":"2026-11-01T00:00:07.000+08:00","topic":"sensing/c1/meter/c1-wm-0001","payload":"{\"ts\":…}"}</c>.
/// The payload is kept as a string so malformed ones survive byte for byte.
/// </summary>
internal sealed class JsonLinesSink : IMessageSink
{
    private static readonly byte[] s_newline = [(byte)'\n'];
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;

    public JsonLinesSink(string path)
    {
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        // Relaxed escaping: the file is for people and tests to read, never embedded in HTML.
        _json = new Utf8JsonWriter(_stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
    }

    public ValueTask WriteAsync(SimulatedMessage message, CancellationToken cancellationToken)
    {
        _json.WriteStartObject();
        _json.WriteString("time", message.Time);
        _json.WriteString("topic", message.Topic);
        _json.WriteString("payload", message.Payload.Span);
        _json.WriteEndObject();
        _json.Flush();
        _json.Reset();
        _stream.Write(s_newline);
        return ValueTask.CompletedTask;
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await _stream.FlushAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _json.DisposeAsync();
        await _stream.DisposeAsync();
    }
}

/// <summary>Broker, credentials and delivery settings of a publishing run.</summary>
internal sealed record BrokerOptions(string Host, int Port, string? Username, string? Password, MqttQualityOfServiceLevel Qos, string ClientId);

/// <summary>
/// Publishes over MQTTnet with a bounded window of outstanding publishes: enough in flight to keep the
/// connection full (QoS 1 acknowledgements come back in batches), bounded so memory stays flat. A device's
/// message is never published while its previous one is still outstanding, so per-device order holds even if
/// the client completes publishes out of order. Payloads are copied into pooled buffers returned on completion.
/// </summary>
internal sealed class MqttPublishSink : IMessageSink
{
    private const int Window = 512;
    private readonly IMqttClient _client;
    private readonly MqttQualityOfServiceLevel _qos;
    private readonly Queue<(Task<MqttClientPublishResult> Publish, byte[] Buffer)> _inFlight = new(Window);
    private readonly Task?[] _lastByDevice;

    private MqttPublishSink(IMqttClient client, MqttQualityOfServiceLevel qos, int devices)
    {
        _client = client;
        _qos = qos;
        _lastByDevice = new Task?[devices];
    }

    public static async Task<MqttPublishSink> ConnectAsync(BrokerOptions broker, int devices, CancellationToken cancellationToken)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithClientId(broker.ClientId)
            .WithCleanSession()
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (broker.Username is not null)
            options.WithCredentials(broker.Username, broker.Password);
        try
        {
            await client.ConnectAsync(options.Build(), cancellationToken);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        return new MqttPublishSink(client, broker.Qos, devices);
    }

    public async ValueTask WriteAsync(SimulatedMessage message, CancellationToken cancellationToken)
    {
        if (_inFlight.Count >= Window)
            await CompleteOldestAsync();
        if (_lastByDevice[message.Device] is { IsCompleted: false } previous)
            await previous;

        var buffer = ArrayPool<byte>.Shared.Rent(message.Payload.Length);
        message.Payload.Span.CopyTo(buffer);
        var application = new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(new ReadOnlySequence<byte>(buffer, 0, message.Payload.Length))
            .WithQualityOfServiceLevel(_qos)
            .Build();
        var publish = _client.PublishAsync(application, cancellationToken);
        _lastByDevice[message.Device] = publish;
        _inFlight.Enqueue((publish, buffer));
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        while (_inFlight.Count > 0)
            await CompleteOldestAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // Return what is still out; failures were reported by FlushAsync or are moot after a cancel.
        while (_inFlight.TryDequeue(out var item))
        {
            try { await item.Publish; } catch (Exception) { }
            ArrayPool<byte>.Shared.Return(item.Buffer);
        }
        if (_client.IsConnected)
        {
            try { await _client.DisconnectAsync(); } catch (Exception) { }
        }
        _client.Dispose();
    }

    private async Task CompleteOldestAsync()
    {
        var (publish, buffer) = _inFlight.Dequeue();
        try
        {
            var result = await publish;
            // QoS 1: the broker may refuse a message (not authorized, quota) without dropping the connection.
            if (!result.IsSuccess)
                throw new InvalidOperationException($"broker refused a publish: {result.ReasonCode} {result.ReasonString}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
