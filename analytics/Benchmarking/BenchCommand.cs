namespace Sensing.Analytics.Benchmarking;

/// <summary>Timed commands for the welfare detector's speed targets (filled in below).</summary>
public static class BenchCommand
{
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        error.WriteLine("bench: not yet available");
        return Task.FromResult(2);
    }
}
