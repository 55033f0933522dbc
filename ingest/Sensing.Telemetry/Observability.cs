namespace Sensing.Telemetry;

/// <summary>One figure for <c>GET /metrics</c> (Prometheus text format).</summary>
/// <param name="Name">Metric name, e.g. <c>sensing_messages_received_total</c>.</param>
/// <param name="Help">One line saying what it counts.</param>
/// <param name="Type"><c>counter</c> or <c>gauge</c>.</param>
/// <param name="Labels">Prometheus label pairs such as <c>format="native"</c>, or null.</param>
public readonly record struct MetricSample(string Name, string Help, string Type, double Value, string? Labels = null);

/// <summary>A stage that reports figures for <c>/metrics</c>. Collecting must be cheap and thread-safe.</summary>
public interface IMetricsSource
{
    void Collect(ICollection<MetricSample> samples);
}
