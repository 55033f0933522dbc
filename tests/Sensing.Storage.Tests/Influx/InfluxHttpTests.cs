using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Storage.Influx;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

/// <summary>
/// The requests the store sends, and how it rides out a misbehaving server, over real HTTP to an in-process
/// server: the endpoints Debian's influxd 1.6 does not serve (v2 writes), gzip, retries, the circuit.
/// </summary>
public sealed class InfluxHttpTests
{
    private static readonly Reading[] Small =
    [
        Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 10, household: "h-1"),
        Sample.Point("g 1", Metrics.GatePass, Sample.Day.AddSeconds(1), 1, label: "in", attributes: """{"credential":"face"}"""),
    ];

    /// <summary>A store built by <c>AddSensingStore</c>, so it runs through the production resilience pipeline.</summary>
    private static (ServiceProvider Services, InfluxDbReadingStore Store) Build(Uri url, Dictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?> { ["Store:Kind"] = "influxdb", ["Store:Url"] = url.ToString() };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var services = new ServiceCollection()
            .AddSensingStore(new ConfigurationBuilder().AddInMemoryCollection(all).Build())
            .BuildServiceProvider();
        return (services, services.GetRequiredService<InfluxDbReadingStore>());
    }

    private static string Lines(IEnumerable<Reading> readings, InfluxPrecision precision = InfluxPrecision.Milliseconds)
    {
        using var buffer = new PooledBufferWriter();
        foreach (var r in readings)
        {
            LineProtocol.WriteReading(buffer, r, precision);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public async Task V2_writes_post_line_protocol_to_api_v2_write_with_the_token_org_bucket_and_precision()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "s3cret==", ["Store:Bucket"] = "sensing/raw", ["Store:Org"] = "阳光 org" });
        await using var _ = services;

        await store.WriteAsync(Small, CancellationToken.None).Within();

        var requests = server.Requests.ToArray();
        Assert.Equal(["GET /ping", "POST /api/v2/write"], requests.Select(r => $"{r.Method} {r.Path}"));
        var write = requests[1];
        Assert.Equal(new Dictionary<string, string> { ["bucket"] = "sensing/raw", ["org"] = "阳光 org", ["precision"] = "ms" }, write.Query);
        Assert.Equal("Token s3cret==", write.Authorization);
        Assert.Equal("text/plain; charset=utf-8", write.ContentType);
        Assert.Null(write.ContentEncoding);
        Assert.Equal(Lines(Small), write.Body);
        Assert.All(requests, r => Assert.Equal("Token s3cret==", r.Authorization));
    }

    [Fact]
    public async Task Nanosecond_precision_is_asked_for_as_ns_on_v2_and_n_on_v1()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => RecordingServer.Influx(r));
        var (v2Services, v2) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b", ["Store:Precision"] = "ns" });
        var (v1Services, v1) = Build(server.Url, new() { ["Store:Database"] = "db", ["Store:Precision"] = "ns" });
        await using var _ = v2Services;
        await using var __ = v1Services;

        await v2.WriteAsync(Small, CancellationToken.None).Within();
        await v1.WriteAsync(Small, CancellationToken.None).Within();

        var writes = server.Requests.Where(r => r.Method == "POST" && r.Path != "/query").ToArray();
        Assert.Equal("ns", writes[0].Query["precision"]);
        Assert.Equal("n", writes[1].Query["precision"]);
        Assert.Equal(Lines(Small, InfluxPrecision.Nanoseconds), writes[0].Body);
        Assert.Equal(Lines(Small, InfluxPrecision.Nanoseconds), writes[1].Body);
    }

    [Fact]
    public async Task V1_creates_its_database_at_start_and_writes_with_basic_credentials_and_the_retention_policy()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new()
        {
            ["Store:Database"] = "sensing db", ["Store:Username"] = "ingest", ["Store:Password"] = "p@ss:word", ["Store:RetentionPolicy"] = "ninety_days",
        });
        await using var _ = services;

        await store.InitializeAsync().Within();
        await store.WriteAsync(Small, CancellationToken.None).Within();

        var requests = server.Requests.ToArray();
        Assert.Equal(["GET /query", "POST /query", "POST /write"], requests.Select(r => $"{r.Method} {r.Path}"));
        Assert.Equal("SHOW DATABASES", requests[0].Query["q"]);
        Assert.Equal("q=CREATE+DATABASE+%22sensing+db%22", Encoding.UTF8.GetString(requests[1].RawBody));
        Assert.Equal(new Dictionary<string, string> { ["db"] = "sensing db", ["precision"] = "ms", ["rp"] = "ninety_days" }, requests[2].Query);
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ingest:p@ss:word"));
        Assert.All(requests, r => Assert.Equal(basic, r.Authorization));
        // Credentials never travel in the URL, where request logs would keep them.
        Assert.All(requests, r => Assert.False(r.Query.ContainsKey("p") || r.Query.ContainsKey("u")));
    }

    [Fact]
    public async Task A_large_batch_travels_gzip_compressed_and_inflates_to_the_same_lines()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b" });
        await using var _ = services;
        var batch = Enumerable.Range(0, 5_000)
            .Select(i => Sample.Point($"c1-wm-{i % 100:0000}", Metrics.WaterConsumption, Sample.Day.AddMinutes(i), i * 0.001, household: $"h-{i % 100:0000}"))
            .ToArray();

        await store.WriteAsync(batch, CancellationToken.None).Within();

        var write = server.Requests.Single(r => r.Path == "/api/v2/write");
        Assert.Equal("gzip", write.ContentEncoding);
        var lines = Lines(batch);
        Assert.True(Encoding.UTF8.GetByteCount(lines) > 64 * 1024);
        Assert.True(write.RawBody.Length < Encoding.UTF8.GetByteCount(lines) / 3, $"gzip body {write.RawBody.Length} bytes");
        Assert.Equal(lines, write.Body);
    }

    [Fact]
    public async Task Queries_are_influxql_gets_and_the_json_answer_becomes_buckets()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => r.Path == "/query" && r.Query["q"].StartsWith("SELECT", StringComparison.Ordinal)
            ? new(200, """{"results":[{"statement_id":0,"series":[{"name":"meter","columns":["time","sum"],"values":[[1795132800000,9],[1795136400000,30.5]]}]}]}""")
            : RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b", ["Store:Database"] = "sensing" });
        await using var _ = services;

        var buckets = await store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Sample.Day.AddMinutes(10), Sample.Day.AddHours(2),
            Device: "m'1", Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum), CancellationToken.None).Within();

        Assert.Equal([new Bucket(Sample.Day, 9), new Bucket(Sample.Day.AddHours(1), 30.5)], buckets);
        var query = server.Requests.Single(r => r.Path == "/query");
        Assert.Equal("GET", query.Method);
        Assert.Equal("sensing", query.Query["db"]);
        Assert.Equal("ms", query.Query["epoch"]);
        Assert.Equal(
            """SELECT sum("value") FROM "meter" WHERE "metric" = 'water.consumption' AND time >= 1795133400000000000 AND time < 1795140000000000000 AND "device" = 'm\'1' GROUP BY time(3600000000u) fill(none) LIMIT 10000""",
            query.Query["q"]);
    }

    [Fact]
    public async Task A_statement_error_in_a_200_answer_throws()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => r.Path == "/query"
            ? new(200, """{"results":[{"statement_id":0,"error":"database not found: nope"}]}""")
            : RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b" });
        await using var _ = services;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.LatestPerDeviceAsync(Metrics.GatePass, CancellationToken.None)).Within();
        Assert.Contains("database not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_write_answered_503_twice_succeeds_on_the_third_attempt_after_the_servers_retry_after()
    {
        var writes = 0;
        await using var server = await RecordingServer.StartAsync((_, r) => r.Path != "/api/v2/write"
            ? RecordingServer.Influx(r)
            : Interlocked.Increment(ref writes) <= 2 ? new Answer(503, """{"error":"busy"}""", RetryAfter: "1") : Answer.NoContent);
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b" });
        await using var _ = services;
        await store.InitializeAsync().Within();

        var clock = Stopwatch.StartNew();
        await store.WriteAsync(Small, CancellationToken.None).Within();
        clock.Stop();

        var attempts = server.Requests.Where(r => r.Path == "/api/v2/write").ToArray();
        Assert.Equal(3, attempts.Length);
        // Every attempt carried the whole batch (the pooled body is re-sent, not consumed).
        Assert.All(attempts, a => Assert.Equal(Lines(Small), a.Body));
        // Retry-After: 1 twice, instead of the 250 ms and 500 ms backoff.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_refused_write_throws_at_once_with_the_servers_reason()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => r.Path == "/api/v2/write"
            ? new Answer(400, """{"error":"partial write: field type conflict"}""")
            : RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b" });
        await using var _ = services;

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => store.WriteAsync(Small, CancellationToken.None)).Within();
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("field type conflict", error.Message, StringComparison.Ordinal);
        // A 400 is not transient: not retried.
        Assert.Single(server.Requests, r => r.Path == "/api/v2/write");
    }

    [Fact]
    public async Task A_server_that_is_down_makes_the_write_throw_after_the_retry_budget_in_seconds()
    {
        var nobody = new Uri($"http://127.0.0.1:{InfluxServer.FreePort()}/");
        var (services, store) = Build(nobody, new() { ["Store:Database"] = "sensing" });
        await using var _ = services;

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<HttpRequestException>(() => store.WriteAsync(Small, CancellationToken.None)).Within();
        clock.Stop();

        // Three retries with 250 ms, 500 ms, 1 s backoff (jittered): about two seconds, never minutes.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task After_repeated_failures_the_circuit_opens_and_calls_fail_fast()
    {
        await using var server = await RecordingServer.StartAsync((_, r) => r.Path == "/api/v2/write" ? new Answer(500) : RecordingServer.Influx(r));
        var (services, store) = Build(server.Url, new() { ["Store:Token"] = "t", ["Store:Bucket"] = "b" });
        await using var _ = services;
        await store.InitializeAsync().Within();

        Exception? last = null;
        for (var i = 0; i < 5 && last is not Polly.CircuitBreaker.BrokenCircuitException; i++)
        {
            last = await Record.ExceptionAsync(() => store.WriteAsync(Small, CancellationToken.None)).Within();
        }

        Assert.IsType<Polly.CircuitBreaker.BrokenCircuitException>(last);
        var sent = server.Requests.Count(r => r.Path == "/api/v2/write");
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(() => store.WriteAsync(Small, CancellationToken.None)).Within();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"open circuit took {clock.Elapsed}");
        Assert.Equal(sent, server.Requests.Count(r => r.Path == "/api/v2/write"));
    }
}
