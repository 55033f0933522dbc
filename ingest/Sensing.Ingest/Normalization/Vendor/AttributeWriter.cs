using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// Builds the small JSON object a reading keeps in <see cref="Reading.Attributes"/> (a Tasmota meter's power and
/// voltage, a camera's score). One per normalizer, reused: the only allocation is the finished string.
/// </summary>
internal sealed class AttributeWriter
{
    private static readonly JsonWriterOptions s_options = new() { Indented = false, SkipValidation = true };
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly Utf8JsonWriter _writer;
    private bool _open;

    public AttributeWriter() => _writer = new Utf8JsonWriter(_buffer, s_options);

    public void Number(ReadOnlySpan<byte> name, double value)
    {
        Open();
        _writer.WriteNumber(name, value);
    }

    public void String(ReadOnlySpan<byte> name, ReadOnlySpan<char> value)
    {
        Open();
        _writer.WriteString(name, value);
    }

    public void Bool(ReadOnlySpan<byte> name, bool value)
    {
        Open();
        _writer.WriteBoolean(name, value);
    }

    /// <summary>The object written since the last call, or null when nothing was; starts a fresh one either way.</summary>
    public string? Take()
    {
        if (!_open) return null;
        _writer.WriteEndObject();
        _writer.Flush();
        var text = Encoding.UTF8.GetString(_buffer.WrittenSpan);
        Clear();
        return text;
    }

    public void Clear()
    {
        _open = false;
        _writer.Reset();
        _buffer.ResetWrittenCount();
    }

    private void Open()
    {
        if (_open) return;
        _writer.WriteStartObject();
        _open = true;
    }
}
