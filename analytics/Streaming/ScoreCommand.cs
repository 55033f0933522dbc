namespace Sensing.Analytics.Streaming;

public static class ScoreCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error) => 2;
}
