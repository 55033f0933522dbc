using System.Globalization;

namespace Sensing.Analytics.CommandLine;

/// <summary>
/// The <c>--name value</c> / <c>--flag</c> options of one command: each command declares which names take a value and
/// which are flags, so a typo is an error instead of a silently ignored option.
/// </summary>
internal sealed class CommandOptions
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    private CommandOptions()
    {
    }

    public static bool TryParse(string[] args, IReadOnlySet<string> valued, IReadOnlySet<string> flags,
        out CommandOptions options, out string? error)
    {
        options = new CommandOptions();
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string? inline = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (name.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inline = name[(equals + 1)..];
                name = name[..equals];
            }
            if (flags.Contains(name) && inline is null)
            {
                options._flags.Add(name);
            }
            else if (valued.Contains(name))
            {
                var value = inline ?? (i + 1 < args.Length ? args[++i] : null);
                if (value is null)
                {
                    error = $"{name} needs a value";
                    return false;
                }
                options._values[name] = value;
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

    public string? Value(string name) => _values.GetValueOrDefault(name);

    public bool TryDouble(string name, double fallback, out double value, out string? error)
    {
        error = null;
        value = fallback;
        if (Value(name) is not { } text)
        {
            return true;
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value))
        {
            return true;
        }
        error = $"{name} must be a number, not '{text}'";
        return false;
    }
}
