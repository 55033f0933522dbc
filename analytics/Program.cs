using Sensing.Analytics.Nab;
using Sensing.Analytics.Streaming;

namespace Sensing.Analytics;

/// <summary>
/// <c>dotnet run -c Release --project analytics -- &lt;command&gt; [options]</c>: the analytics command line. The
/// detectors that raise alerts run inside the host (cockpit); these commands score files offline.
/// </summary>
public static class AnalyticsCommandLine
{
    private const string Usage = """
        usage: dotnet run -c Release --project analytics -- <command> [options]

        commands:
          score       score a univariate timestamp,value series with the streaming detector (one score in [0,1] per row)
          nab         score every NAB series with the streaming detector and print its NAB scores
          nab-score   score existing NAB result files (e.g. NAB's published baselines)

        <command> --help shows a command's options.
        """;

    public static int Main(string[] args)
    {
        switch (args.Length == 0 ? null : args[0])
        {
            case "score":
                return ScoreCommand.Run(args[1..], Console.Out, Console.Error);
            case "nab":
                return NabCommands.RunNab(args[1..], Console.Out, Console.Error);
            case "nab-score":
                return NabCommands.RunNabScore(args[1..], Console.Out, Console.Error);
            case "-h" or "--help" or "help":
                Console.WriteLine(Usage);
                return 0;
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }
}
