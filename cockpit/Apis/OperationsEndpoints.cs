using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.ScaleOut;
using Sensing.Ingest;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Spool;

namespace Sensing.Cockpit.Apis;

/// <summary>
/// <c>/healthz</c>: <c>broker</c> in one word (<c>connected</c>, <c>disconnected</c>, <c>down</c>), <c>mqtt</c> the connection's
/// details, <c>backplane</c> the SignalR Redis backplane's (<c>state</c> <c>off</c> for a single instance), <c>spool_problem</c> why
/// intake waits (spool full or its disk refusing writes while the store is down), null otherwise.
/// </summary>
public sealed record HealthReport(string Status, string Broker, string Ingest, string Store, int QueueDepth, int SpoolDepth, long SpoolBytes, BrokerStatus Mqtt, BackplaneStatus Backplane, string? SpoolProblem = null);

/// <summary><c>/healthz</c> for orchestrators and <c>/metrics</c> for Prometheus: both unauthenticated, both without residents' data.</summary>
public static class OperationsEndpoints
{
    public static WebApplication MapOperationsEndpoints(this WebApplication app)
    {
        app.MapGet("/healthz", (IngestMetrics ingest, StoreWriter store, BrokerConnection connection, IOptions<MqttOptions> mqtt, RedisBackplane backplane, IServiceProvider services) =>
        {
            var brokerUp = !mqtt.Value.Embedded || services.GetService<EmbeddedBroker>()?.IsRunning == true;
            var report = new HealthReport(
                Status: "ok",
                Broker: !brokerUp ? "down" : ingest.BrokerConnected ? "connected" : "disconnected",
                Ingest: ingest.PipelineReady ? "ready" : "starting",
                Store: store.State switch { StoreState.Ok => "ok", StoreState.Spooling => "spooling", _ => "down" },
                QueueDepth: ingest.QueueDepth,
                SpoolDepth: store.SpoolDepth,
                SpoolBytes: store.SpoolBytes,
                Mqtt: connection.Status,
                Backplane: backplane.Status,
                SpoolProblem: store.SpoolProblem);
            // A store outage with the spool taking the load still means nothing is lost: degraded, not unavailable.
            // So is a backplane outage: the API and the alert book work, live pushes wait for Redis (every instance
            // shares it, so taking this one out of the balancer would help nobody).
            var ready = brokerUp && ingest.BrokerConnected && ingest.PipelineReady;
            return !ready
                ? Results.Json(report with { Status = "unavailable" }, statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Json(store.State == StoreState.Ok && store.SpoolProblem is null && !backplane.Degraded ? report : report with { Status = "degraded" }, statusCode: StatusCodes.Status200OK);
        }).AllowAnonymous().WithName("Health");

        app.MapGet("/metrics", (IEnumerable<IMetricsSource> sources) =>
        {
            var samples = new List<MetricSample>();
            foreach (var source in sources) source.Collect(samples);
            var text = new StringBuilder();
            foreach (var family in samples.GroupBy(s => s.Name))
            {
                var first = family.First();
                text.Append("# HELP ").Append(first.Name).Append(' ').Append(first.Help).Append('\n');
                text.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Type).Append('\n');
                foreach (var sample in family)
                {
                    text.Append(sample.Name);
                    if (sample.Labels is not null) text.Append('{').Append(sample.Labels).Append('}');
                    text.Append(' ').Append(sample.Value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                }
            }
            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        }).AllowAnonymous().WithName("Metrics");
        return app;
    }
}
