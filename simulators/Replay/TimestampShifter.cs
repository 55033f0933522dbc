using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;

namespace Sensing.Simulators.Replay;

/// <summary>
/// Moves the top-level <c>ts</c> of a native payload by a fixed amount, touching nothing else: the bytes before and
/// after the value are copied as they are, so field order, spacing, number spelling and unknown fields survive.
/// <c>"2026-11-20T07:15:00+08:00"</c> shifted by 3 days becomes <c>"2026-11-23T07:15:00+08:00"</c> (its offset
/// kept; a <c>Z</c> stays <c>Z</c>); <c>1763593200000</c> becomes <c>1763852400000</c>. A payload that is not a
/// JSON object, has no <c>ts</c>, or whose <c>ts</c> is neither form is left alone: recordings carry deliberately
/// malformed samples, and replay must deliver them as they were.
/// </summary>
internal static class TimestampShifter
{
    private static readonly JsonReaderOptions s_strict = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 };

    /// <summary>Writes the shifted payload to <paramref name="output"/>; false (nothing written) when it has nothing to shift.</summary>
    public static bool TryShift(ReadOnlySpan<byte> payload, TimeSpan shift, IBufferWriter<byte> output)
    {
        // One ts is the norm; a payload repeating the key at top level gets each occurrence shifted.
        Replacement first = default;
        List<Replacement>? more = null;
        var count = 0;
        try
        {
            var reader = new Utf8JsonReader(payload, s_strict);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1 || !reader.ValueTextEquals("ts"u8))
                    continue;
                reader.Read();
                if (TryShiftValue(ref reader, shift, out var replacement))
                {
                    if (count++ == 0)
                        first = replacement;
                    else
                        (more ??= []).Add(replacement);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (or not all of it): a deliberate malformed sample passes through untouched.
            return false;
        }
        if (count == 0)
            return false;

        var copied = 0;
        for (var i = 0; i < count; i++)
        {
            var r = i == 0 ? first : more![i - 1];
            output.Write(payload[copied..r.Start]);
            output.Write(r.Value);
            copied = r.End;
        }
        output.Write(payload[copied..]);
        return true;
    }

    private static bool TryShiftValue(ref Utf8JsonReader reader, TimeSpan shift, out Replacement replacement)
    {
        replacement = default;
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType == JsonTokenType.Number)
        {
            // Epoch milliseconds only when integral: "1.7636e12" or a fraction is something else, left alone.
            if (!reader.TryGetInt64(out var milliseconds) || !Utf8Parser.TryParse(reader.ValueSpan, out long _, out var used) || used != reader.ValueSpan.Length)
                return false;
            var shifted = milliseconds + (long)Math.Round(shift.TotalMilliseconds);
            replacement = new Replacement(start, start + reader.ValueSpan.Length,
                System.Text.Encoding.UTF8.GetBytes(shifted.ToString(CultureInfo.InvariantCulture)));
            return true;
        }
        if (reader.TokenType != JsonTokenType.String)
            return false;

        // TokenStartIndex is the opening quote; ValueSpan is the raw (possibly escaped) text between the quotes.
        var end = start + reader.ValueSpan.Length + 2;
        var text = reader.GetString()!;
        if (!HasOffset(text) || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
            return false;
        DateTimeOffset moved;
        try
        {
            moved = time + shift;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
        var zulu = text.EndsWith('Z') || text.EndsWith('z');
        var formatted = moved.ToString(zulu ? "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'" : "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);
        replacement = new Replacement(start, end, System.Text.Encoding.UTF8.GetBytes("\"" + formatted + "\""));
        return true;
    }

    /// <summary>RFC 3339 requires an offset; a local time without one could not keep it, so it is not shifted.</summary>
    private static bool HasOffset(string text)
    {
        if (text.Length < 20 || text[10] is not ('T' or 't' or ' '))
            return false;
        if (text[^1] is 'Z' or 'z')
            return true;
        return text.Length >= 25 && text[^6] is ('+' or '-') && text[^3] == ':';
    }

    private readonly record struct Replacement(int Start, int End, byte[] Value);
}
