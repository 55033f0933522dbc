using System.Globalization;

namespace Sensing.Simulators.Replay;

/// <summary>
/// The <c>--name value</c> / <c>--flag</c> command lines of <c>record</c> and <c>replay</c>: each command declares
/// which names take a value and which are flags, so a typo is an error instead of a silently ignored option.
/// </summary>
internal sealed class CommandArguments
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    private CommandArguments()
    {
    }

    public static bool TryParse(string[] args, IReadOnlySet<string> valued, IReadOnlySet<string> flags, out CommandArguments parsed, out string? error)
    {
        parsed = new CommandArguments();
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            string? inline = null;
            if (name.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inline = name[(equals + 1)..];
                name = name[..equals];
            }
            if (flags.Contains(name) && inline is null)
            {
                parsed._flags.Add(name);
            }
            else if (valued.Contains(name))
            {
                var value = inline ?? (i + 1 < args.Length ? args[++i] : null);
                if (value is null)
                {
                    error = $"{name} needs a value";
                    return false;
                }
                if (!parsed._values.TryGetValue(name, out var list))
                    parsed._values[name] = list = [];
                list.Add(value);
            }
            else
            {
                error = $"unknown option '{args[i]}'";
                return false;
            }
        }
        return true;
    }

    public bool Has(string flag) => _flags.Contains(flag);

    public string? Value(string name) => _values.TryGetValue(name, out var list) ? list[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var list) ? list : [];

    public bool TryInt(string name, int fallback, int min, int max, out int value, out string? error)
    {
        error = null;
        value = fallback;
        if (Value(name) is not { } text)
            return true;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
            return true;
        error = $"{name} must be a whole number from {min} to {max}, not '{text}'";
        return false;
    }

    /// <summary>Durations as <c>90s</c>, <c>10m</c>, <c>2h</c>, <c>1d</c>, or a <see cref="TimeSpan"/> such as <c>00:10:00</c>.</summary>
    public static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = default;
        if (text.Length >= 2 && double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) && amount > 0)
        {
            TimeSpan? parsed = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
            if (parsed is { } value)
            {
                duration = value;
                return true;
            }
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
    }
}
