using System.Text;
using System.Text.Json;

namespace Sensing.Ingest.Normalization;

/// <summary>
/// Hands out one shared string per distinct short label (a lot, a space, a zone): a feed repeats the same
/// few hundred labels millions of times, so interning them keeps per-message allocation to the reading.
/// Bounded: past <c>capacity</c> distinct labels it stops remembering new ones rather than grow forever.
/// Not thread-safe: one per normalizer, and a normalizer serves one pipeline worker.
/// </summary>
internal sealed class StringInterner(int capacity)
{
    private const int MaxInternedLength = 64;
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);

    public string Intern(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.ValueSpan.Length > MaxInternedLength)
        {
            return reader.GetString()!;
        }
        return Intern(reader.ValueSpan);
    }

    /// <summary>The shared string for UTF-8 text (valid UTF-8 assumed: invalid bytes become U+FFFD).</summary>
    public string Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxInternedLength)
        {
            return Encoding.UTF8.GetString(utf8);
        }
        Span<char> chars = stackalloc char[MaxInternedLength];
        var length = Encoding.UTF8.GetChars(utf8, chars);
        var lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars[..length], out var known))
        {
            return known;
        }
        var text = new string(chars[..length]);
        if (_strings.Count < capacity)
        {
            _strings[text] = text;
        }
        return text;
    }
}
