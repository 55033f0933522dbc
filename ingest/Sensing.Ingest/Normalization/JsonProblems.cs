using System.Text;

namespace Sensing.Ingest.Normalization;

/// <summary>
/// Dead-letter reasons from what <see cref="System.Text.Json.Utf8JsonReader"/> throws. Its messages quote the offending
/// token, which in a damaged payload can hold line breaks and control characters, and a reason is one line that
/// stores and screens show as it is: those are folded to spaces and the quote is cut short.
/// </summary>
public static class JsonProblems
{
    public const int MaxLength = 240;

    public static string Describe(Exception exception)
    {
        var message = exception.Message;
        var text = new StringBuilder(Math.Min(message.Length, MaxLength + 1));
        foreach (var c in message)
        {
            if (text.Length == MaxLength) { text.Append('…'); break; }
            text.Append(char.IsControl(c) || char.IsSurrogate(c) ? ' ' : c);
        }
        return text.ToString();
    }
}
