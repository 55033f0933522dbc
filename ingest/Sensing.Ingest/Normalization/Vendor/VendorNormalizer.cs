using System.Text.Json;

namespace Sensing.Ingest.Normalization.Vendor;

/// <summary>
/// The frame of every vendor normalizer: a refused message leaves no readings behind (the port promises "appends
/// nothing"), malformed JSON becomes a specific reason instead of an exception, and deliberately skipped messages are
/// counted. Subclasses read with <see cref="Utf8JsonReader"/> straight off the payload, as the native normalizer does.
/// </summary>
public abstract class VendorNormalizer(VendorContext context) : IPayloadNormalizer
{
    protected static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 32 };

    protected VendorContext Context { get; } = context;

    public abstract string Format { get; }

    public string? Normalize(in IncomingMessage message, List<Reading> readings)
    {
        var first = readings.Count;
        string? reason;
        try
        {
            reason = NormalizeCore(message, readings);
        }
        catch (JsonException ex)
        {
            // Utf8JsonReader reports truncation, bad tokens and excessive nesting this way.
            reason = $"{Format}: malformed JSON: {JsonProblems.Describe(ex)}";
        }
        catch (InvalidOperationException ex)
        {
            // Valid UTF-8 can still escape an unpaired surrogate ("\ud800"): reading that string throws (found by fuzzing).
            reason = $"{Format}: malformed JSON: {JsonProblems.Describe(ex)}";
        }
        if (reason is not null)
        {
            if (readings.Count > first) readings.RemoveRange(first, readings.Count - first);
        }
        else if (readings.Count == first)
        {
            Context.Counters.Skipped(Format);
        }
        return reason;
    }

    /// <summary>Appends readings and returns null; appending none means "skipped on purpose" and is counted.</summary>
    protected abstract string? NormalizeCore(in IncomingMessage message, List<Reading> readings);

    /// <summary>Starts a JSON object payload: null when the reader stands on its StartObject, else the reason.</summary>
    protected static string? BeginObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> payload)
    {
        // The same up-front check as the native format: GetString on invalid UTF-8 would throw, not refuse.
        if (!System.Text.Unicode.Utf8.IsValid(payload)) return "payload is not valid UTF-8";
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return "payload must be a JSON object";
        return null;
    }

    /// <summary>After the root object's EndObject: anything more (a second document, garbage) is refused.</summary>
    protected static string? EndOfPayload(ref Utf8JsonReader reader) =>
        reader.Read() ? "payload has content after the JSON object" : null;

    /// <summary>Reads a finite number; false (and skips the value) for any other token.</summary>
    protected static bool TryNumber(ref Utf8JsonReader reader, out double value)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out value) && double.IsFinite(value)) return true;
        value = 0;
        reader.Skip();
        return false;
    }

    /// <summary>
    /// Copies a string value or a property name into <paramref name="buffer"/> (unescaped); false for another token
    /// (which is skipped) or a text too long for the buffer (the reader stays where it is).
    /// </summary>
    protected static bool TryChars(ref Utf8JsonReader reader, scoped Span<char> buffer, out int length)
    {
        length = 0;
        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) { reader.Skip(); return false; }
        // A UTF-8 string never has more chars than bytes; an escaped one may need fewer than its raw length.
        if (!reader.ValueIsEscaped && reader.ValueSpan.Length > buffer.Length) return false;
        if (reader.ValueIsEscaped && reader.ValueSpan.Length > buffer.Length * 6) return false;
        try
        {
            length = reader.CopyString(buffer);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// The first of two problems. Used as <c>error = First(error, Read(ref reader))</c>, never <c>error ??= Read(ref reader)</c>:
    /// <c>??=</c> would skip the call once an error is known, and the reader would stop advancing mid-object.
    /// </summary>
    protected static string? First(string? known, string? next) => known ?? next;
}
