using System.Globalization;
using System.Text.Json;
using Sensing.Analytics.Streaming;

namespace Sensing.Analytics.Nab;

/// <summary>A labelled anomaly window of a NAB series: both ends are timestamps of the series, inclusive.</summary>
public readonly record struct NabWindow(DateTime Start, DateTime End);

/// <summary>One NAB data file: its path relative to <c>data/</c> (<c>realKnownCause/nyc_taxi.csv</c>), its rows and windows.</summary>
public sealed record NabSeries(string RelativePath, DateTime[] Timestamps, double[] Values, NabWindow[] Windows)
{
    /// <summary>The category folder and series name, as NAB names a detector's result file: <c>realKnownCause</c>, <c>nyc_taxi</c>.</summary>
    public (string Category, string Name) Parts
    {
        get
        {
            var slash = RelativePath.IndexOf('/', StringComparison.Ordinal);
            return (RelativePath[..slash], Path.GetFileNameWithoutExtension(RelativePath[(slash + 1)..]));
        }
    }
}

/// <summary>
/// The NAB data set as it is laid out in its repository: <c>data/&lt;category&gt;/&lt;series&gt;.csv</c>,
/// <c>labels/combined_windows.json</c> and <c>config/profiles.json</c>.
/// </summary>
public sealed class NabCorpus
{
    public const string WindowsFile = "labels/combined_windows.json";
    public const string ProfilesFile = "config/profiles.json";

    private NabCorpus(string root, IReadOnlyList<NabSeries> series, IReadOnlyList<NabProfile> profiles)
    {
        Root = root;
        Series = series;
        Profiles = profiles;
    }

    public string Root { get; }
    public IReadOnlyList<NabSeries> Series { get; }
    public IReadOnlyList<NabProfile> Profiles { get; }
    public int WindowCount => Series.Sum(s => s.Windows.Length);
    public int RowCount => Series.Sum(s => s.Values.Length);

    /// <summary>Loads every series named in the windows file (the corpus NAB scores), with its values and windows.</summary>
    public static NabCorpus Load(string root)
    {
        var windowsPath = Path.Combine(root, WindowsFile);
        if (!File.Exists(windowsPath))
        {
            throw new FileNotFoundException($"{root} is not a NAB data set: {WindowsFile} is missing", windowsPath);
        }
        var profilesPath = Path.Combine(root, ProfilesFile);
        var profiles = File.Exists(profilesPath) ? NabProfile.Load(profilesPath) : NabProfile.Published;

        var series = new List<NabSeries>();
        foreach (var (relativePath, windows) in ReadWindows(windowsPath))
        {
            var rows = SeriesCsv.ReadAll(Path.Combine(root, "data", relativePath));
            series.Add(new NabSeries(relativePath, [.. rows.Select(r => r.Timestamp)], [.. rows.Select(r => r.Value)], windows));
        }
        return new NabCorpus(root, series, profiles);
    }

    /// <summary>
    /// <c>{"realKnownCause/nyc_taxi.csv": [["2014-10-30 15:30:00.000000", "2014-11-03 22:30:00.000000"], …], …}</c>,
    /// in file order, windows sorted by start.
    /// </summary>
    public static List<(string RelativePath, NabWindow[] Windows)> ReadWindows(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var result = new List<(string, NabWindow[])>();
        foreach (var file in document.RootElement.EnumerateObject())
        {
            var windows = file.Value.EnumerateArray()
                .Select(w => new NabWindow(ParseLabelTime(w[0].GetString()), ParseLabelTime(w[1].GetString())))
                .OrderBy(w => w.Start)
                .ToArray();
            result.Add((file.Name.Replace('\\', '/'), windows));
        }
        return result;
    }

    private static DateTime ParseLabelTime(string? text) =>
        DateTime.ParseExact(text ?? throw new InvalidDataException("a window limit is not a string"),
            ["yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss"], CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    /// <summary>
    /// Where the NAB data set is when no <c>--data</c> is given: <c>SENSING_NAB_DIR</c>, else the first
    /// <c>shared/datasets/nab</c> beside the working directory or the program, or any of their parents
    /// (the repository's checkouts sit beside <c>shared/</c>).
    /// </summary>
    public static string? FindDefaultRoot()
    {
        if (Environment.GetEnvironmentVariable("SENSING_NAB_DIR") is { Length: > 0 } configured)
        {
            return configured;
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, "shared", "datasets", "nab");
                if (File.Exists(Path.Combine(candidate, WindowsFile)))
                {
                    return candidate;
                }
            }
        }
        return null;
    }
}
