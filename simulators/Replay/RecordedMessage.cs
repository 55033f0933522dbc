using MQTTnet.Protocol;

namespace Sensing.Simulators.Replay;

/// <summary>
/// One message as a broker delivered it. From <see cref="RecordingReader"/>, <see cref="Payload"/> points into the
/// reader's pooled buffer and is valid only until its next read: copy it to keep it.
/// </summary>
public readonly record struct RecordedMessage(
    DateTimeOffset ReceivedAt,
    string Topic,
    ReadOnlyMemory<byte> Payload,
    MqttQualityOfServiceLevel Qos,
    bool Retain);
