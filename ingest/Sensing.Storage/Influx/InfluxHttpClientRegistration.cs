using System.Net;
using System.Net.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Sensing.Storage.Influx;

/// <summary>
/// The named <see cref="HttpClient"/> the InfluxDB store talks through, with its resilience pipeline
/// (outermost first): total timeout → retry → circuit breaker → per-attempt timeout.
/// </summary>
internal static class InfluxHttpClientRegistration
{
    /// <summary>One request, retries and their waits included, never takes longer than this.</summary>
    public static readonly TimeSpan TotalTimeout = TimeSpan.FromSeconds(30);

    /// <summary>One attempt: a 5,000-reading batch (~1 MB, gzip ~150 KB) takes well under a second on a healthy server.</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    public const int MaxRetryAttempts = 3;

    public static void Add(IServiceCollection services)
    {
        services.AddHttpClient(InfluxDbReadingStore.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
            {
                // The store keeps one client for its lifetime, so DNS changes are picked up by recycling pooled
                // connections rather than by the factory's handler rotation.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(5),
                AutomaticDecompression = DecompressionMethods.GZip,
            })
            .AddStandardResilienceHandler(static options =>
            {
                options.TotalRequestTimeout.Timeout = TotalTimeout;
                options.AttemptTimeout.Timeout = AttemptTimeout;

                // Transient outcomes (connection errors, attempt timeouts, 408, 429, 5xx) are retried, writes
                // included: a rewritten point overwrites itself, so a retry after a lost answer never double-counts.
                // Exponential backoff with jitter (250 ms, 500 ms, 1 s, each randomised) spreads many ingest
                // instances hitting a recovering server; a Retry-After on 429/503 replaces the computed delay
                // (ShouldRetryAfterHeader, on by default). The budget ends in seconds: the pipeline above retries the
                // batch again later, and the broker keeps the messages meanwhile.
                options.Retry.MaxRetryAttempts = MaxRetryAttempts;
                options.Retry.BackoffType = DelayBackoffType.Exponential;
                options.Retry.UseJitter = true;
                options.Retry.Delay = TimeSpan.FromMilliseconds(250);
                options.Retry.MaxDelay = TimeSpan.FromSeconds(10);
                options.Retry.ShouldRetryAfterHeader = true;

                // Half of at least 10 requests failing within 30 s opens the circuit for 5 s: a down server then
                // costs ingest an immediate BrokenCircuitException instead of a connect timeout per batch.
                // (The sampling window must be at least twice the attempt timeout.)
                options.CircuitBreaker.FailureRatio = 0.5;
                options.CircuitBreaker.MinimumThroughput = 10;
                options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(30);
                options.CircuitBreaker.BreakDuration = TimeSpan.FromSeconds(5);
            });
    }
}
