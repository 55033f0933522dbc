namespace Sensing.Analytics.Streaming;

public sealed class StreamingDetector
{
    public double Score(DateTime timestamp, double value) => 0;
}
