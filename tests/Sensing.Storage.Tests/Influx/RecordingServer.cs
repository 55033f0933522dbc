using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sensing.Storage.Tests.Influx;

/// <summary>One request as it arrived over the wire.</summary>
internal sealed record RecordedRequest(
    string Method, string Path, IReadOnlyDictionary<string, string> Query, string? Authorization,
    string? ContentEncoding, string? ContentType, byte[] RawBody)
{
    /// <summary>The body as text, inflated when it came gzip-encoded.</summary>
    public string Body
    {
        get
        {
            if (ContentEncoding != "gzip")
            {
                return Encoding.UTF8.GetString(RawBody);
            }

            using var gzip = new GZipStream(new MemoryStream(RawBody), CompressionMode.Decompress);
            using var reader = new StreamReader(gzip, Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }
}

/// <summary>What the recording server answers.</summary>
internal sealed record Answer(int Status, string? Body = null, string? RetryAfter = null)
{
    public static readonly Answer NoContent = new(204);
}

/// <summary>
/// A real HTTP server (Kestrel on a free loopback port) that records every request and answers as told: it stands
/// in for an InfluxDB the machine does not have (2.x/3.x's /api/v2/write) or for one misbehaving on purpose.
/// </summary>
internal sealed class RecordingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _count;

    private RecordingServer(WebApplication app, Func<int, RecordedRequest, Answer> answer)
    {
        _app = app;
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var request = new RecordedRequest(
                context.Request.Method,
                context.Request.Path.Value ?? "",
                context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString()),
                context.Request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null,
                context.Request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding ? encoding : null,
                context.Request.ContentType,
                body.ToArray());
            Requests.Enqueue(request);
            var reply = answer(Interlocked.Increment(ref _count), request);
            context.Response.StatusCode = reply.Status;
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            if (reply.Body is not null)
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(reply.Body);
            }
        });
    }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public Uri Url { get; private set; } = null!;

    /// <param name="answer">Given the request's 1-based number and the request, what to answer.</param>
    public static async Task<RecordingServer> StartAsync(Func<int, RecordedRequest, Answer> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var server = new RecordingServer(builder.Build(), answer);
        await server._app.StartAsync().Within();
        server.Url = new Uri(server._app.Urls.Single());
        return server;
    }

    /// <summary>Answers an InfluxDB would give: /ping 204, SHOW DATABASES empty, CREATE DATABASE ok, writes 204.</summary>
    public static Answer Influx(RecordedRequest request) => request.Path switch
    {
        "/ping" => Answer.NoContent,
        "/query" when request.Query.GetValueOrDefault("q", "").StartsWith("SHOW DATABASES", StringComparison.Ordinal) =>
            new(200, """{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["_internal"]]}]}]}"""),
        "/query" => new(200, """{"results":[{"statement_id":0}]}"""),
        _ => Answer.NoContent,
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().Within();
        await _app.DisposeAsync();
    }
}
