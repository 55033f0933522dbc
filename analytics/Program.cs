namespace Sensing.Analytics;

/// <summary>The analytics command line (<c>score</c>, <c>evaluate</c>, <c>bench-score</c>, <c>bench-train</c>); the detectors themselves run inside the host.</summary>
public static class AnalyticsCommandLine
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.Length == 0 ? null : args[0])
        {
            case "evaluate":
                using (var stop = ConsoleStop.Create())
                    return await Evaluation.EvaluateCommand.RunAsync(args[1..], Console.Out, Console.Error, stop.Token);
            case "bench-score" or "bench-train":
                return await Benchmarking.BenchCommand.RunAsync(args, Console.Out, Console.Error);
            default:
                Console.Error.WriteLine("usage: analytics score --input series.csv --output scores.csv (not yet available)");
                Console.Error.WriteLine("       analytics evaluate [--scenario welfare-eval] [--households 400] [--days 60] [--seed N] (--help)");
                Console.Error.WriteLine("       analytics bench-score --households 100000 | bench-train --households 10000");
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
