using Sensing.Analytics.Nab;
using Sensing.Analytics.Streaming;

namespace Sensing.Analytics;

/// <summary>
/// <c>dotnet run -c Release --project analytics -- &lt;command&gt; [options]</c>: the analytics command line. The
/// detectors that raise alerts run inside the host (cockpit); these commands score files offline, measure the
/// detectors on labelled scenarios and time them.
/// </summary>
public static class AnalyticsCommandLine
{
    private const string Usage = """
        usage: dotnet run -c Release --project analytics -- <command> [options]

        commands:
          score         score a univariate timestamp,value series with the streaming detector (one score in [0,1] per row)
          nab           score every NAB series with the streaming detector and print its NAB scores
          nab-score     score existing NAB result files (e.g. NAB's published baselines)
          evaluate      run the simulators' labelled scenarios through the detectors; recall, delay, false alarms
          bench-score   time scoring a day of N households (--households 100000)
          bench-train   time training the welfare model on N households (--households 10000)

        <command> --help shows a command's options.
        """;

    public static async Task<int> Main(string[] args)
    {
        switch (args.Length == 0 ? null : args[0])
        {
            case "score":
                return ScoreCommand.Run(args[1..], Console.Out, Console.Error);
            case "nab":
                return NabCommands.RunNab(args[1..], Console.Out, Console.Error);
            case "nab-score":
                return NabCommands.RunNabScore(args[1..], Console.Out, Console.Error);
            case "evaluate":
                using (var stop = ConsoleStop.Create())
                    return await Evaluation.EvaluateCommand.RunAsync(args[1..], Console.Out, Console.Error, stop.Token);
            case "bench-score" or "bench-train":
                return await Benchmarking.BenchCommand.RunAsync(args, Console.Out, Console.Error);
            case "-h" or "--help" or "help":
                Console.WriteLine(Usage);
                return 0;
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }

    /// <summary>First Ctrl+C cancels the command cleanly; a second ends the process.</summary>
    private sealed class ConsoleStop : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        private ConsoleStop() => Console.CancelKeyPress += OnCancel;

        public CancellationToken Token => _stop.Token;

        public static ConsoleStop Create() => new();

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            if (_stop.IsCancellationRequested) return;
            e.Cancel = true;
            _stop.Cancel();
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _stop.Dispose();
        }
    }
}
