namespace Sensing.Analytics;

/// <summary>The analytics command line (<c>score</c>); the detectors themselves run inside the host.</summary>
public static class AnalyticsCommandLine
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: analytics score --input series.csv --output scores.csv (not yet available)");
        return 2;
    }
}
