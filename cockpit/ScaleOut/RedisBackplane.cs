using System.Net;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Sensing.Cockpit.ScaleOut;

/// <summary>The backplane as <c>/healthz</c> shows it (<c>"backplane": {…}</c>).</summary>
/// <param name="Kind"><c>redis</c>, or <c>none</c> for a single instance.</param>
/// <param name="State"><c>off</c> (no backplane), <c>connecting</c>, <c>connected</c> or <c>disconnected</c>.</param>
/// <param name="Endpoint">The Redis host and port (never the password).</param>
/// <param name="Instance">This instance's name on the backplane (also its Redis client name).</param>
/// <param name="Since">When the current state began.</param>
/// <param name="ConnectionFailures">Connection failures (at start or dropped later) since this process started.</param>
/// <param name="LastError">Why the last connection failed, as StackExchange.Redis said it.</param>
public sealed record BackplaneStatus(
    string Kind,
    string State,
    string? Endpoint,
    string? ChannelPrefix,
    string Instance,
    DateTimeOffset? Since,
    long ConnectionFailures,
    string? LastError,
    DateTimeOffset? LastErrorAt);

/// <summary>
/// The one Redis connection of this process: SignalR's backplane (<c>RedisOptions.ConnectionFactory</c>) and the alert
/// book's replication (<see cref="AlertReplication"/>) share it, and <c>/healthz</c> reads its state. It is opened once,
/// on first use; when Redis is away StackExchange.Redis keeps reconnecting in the background (AbortOnConnectFail off).
/// </summary>
public sealed class RedisBackplane : IMetricsSource, IAsyncDisposable
{
    private readonly BackplaneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisBackplane> _logger;
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection;
    private readonly Lock _lock = new();
    private BackplaneStatus _status;

    public RedisBackplane(IOptions<BackplaneOptions> options, TimeProvider time, ILogger<RedisBackplane> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        // Unique per process (and per host, when tests run two in one process), readable in Redis' CLIENT LIST.
        Instance = $"{Dns.GetHostName()}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        _connection = new(OpenAsync, LazyThreadSafetyMode.ExecutionAndPublication);
        _status = _options.Enabled
            ? new BackplaneStatus("redis", "connecting", Endpoint(), _options.RedisChannelPrefix, Instance, time.GetUtcNow(), 0, null, null)
            : new BackplaneStatus("none", "off", null, null, Instance, null, 0, null, null);
    }

    public bool Enabled => _options.Enabled;

    public string Instance { get; }

    public BackplaneStatus Status { get { lock (_lock) return _status; } }

    /// <summary>True when the backplane is configured and not connected: pushes then reach no client, here or elsewhere.</summary>
    public bool Degraded => Enabled && Status.State != "connected";

    /// <summary>The shared connection (opened on first call). It may be disconnected; it reconnects by itself.</summary>
    public Task<IConnectionMultiplexer> ConnectAsync() =>
        Enabled ? _connection.Value : throw new InvalidOperationException("SignalR:Redis is not configured.");

    private async Task<IConnectionMultiplexer> OpenAsync()
    {
        var configuration = _options.RedisConfiguration();
        configuration.ClientName ??= "sensing-" + Instance;
        // The connect log is the only place that says why a first connection failed: the failure events fire inside
        // ConnectAsync, before anyone can listen to them.
        using var log = new StringWriter();
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration, log);
        connection.ConnectionFailed += (_, e) => Failed(e.EndPoint, e.FailureType, e.Exception);
        connection.ConnectionRestored += (_, e) => Restored(connection);
        if (connection.IsConnected)
        {
            Restored(connection);
        }
        else
        {
            Failed(null, ConnectionFailureType.UnableToConnect, null, FirstFailure(log.ToString()) ?? $"no answer within {configuration.ConnectTimeout} ms");
        }
        return connection;
    }

    private void Failed(EndPoint? endpoint, ConnectionFailureType failure, Exception? exception, string? detail = null)
    {
        var now = _time.GetUtcNow();
        var error = exception?.Message ?? $"{failure}{(detail is null ? "" : ": " + detail)}";
        lock (_lock)
        {
            _status = _status with
            {
                State = "disconnected",
                Since = _status.State == "disconnected" ? _status.Since : now,
                ConnectionFailures = _status.ConnectionFailures + 1,
                LastError = error,
                LastErrorAt = now,
            };
        }
        // A warning, not an error: the service goes on (HTTP API, alert book); live pushes wait for Redis.
        _logger.LogWarning("SignalR backplane: Redis {Endpoint} unreachable ({Failure}): {Error}. Live pushes reach no client until it is back; reconnecting.",
            endpoint?.ToString() ?? _status.Endpoint, failure, error);
    }

    private void Restored(IConnectionMultiplexer connection)
    {
        if (!connection.IsConnected) return;
        lock (_lock)
        {
            if (_status.State == "connected") return;
            _status = _status with { State = "connected", Since = _time.GetUtcNow() };
        }
        _logger.LogInformation("SignalR backplane: connected to Redis {Endpoint} as {Instance}, channels '{Prefix}:…'", _status.Endpoint, Instance, _options.RedisChannelPrefix);
    }

    private string? Endpoint()
    {
        try
        {
            return string.Join(",", ConfigurationOptions.Parse(_options.Redis!).EndPoints.Select(e => e switch
            {
                DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
                _ => e.ToString(),
            }));
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>From the connect log's "Connection failed: 127.0.0.1:6379 (Interactive, UnableToConnect): … , last: …" line, the part before "last".</summary>
    private static string? FirstFailure(string log)
    {
        const string marker = "Connection failed: ";
        var line = log.Split('\n').FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal));
        if (line is null) return null;
        var text = line[(line.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..].Trim();
        var last = text.IndexOf(", last:", StringComparison.Ordinal);
        return last > 0 ? text[..last] : text;
    }

    public void Collect(ICollection<MetricSample> samples)
    {
        if (!Enabled) return;
        var status = Status;
        samples.Add(new("sensing_backplane_up", "1 while the SignalR Redis backplane is connected.", "gauge", status.State == "connected" ? 1 : 0));
        samples.Add(new("sensing_backplane_connection_failures_total", "Redis backplane connection failures since start.", "counter", status.ConnectionFailures));
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated)
        {
            try
            {
                await (await _connection.Value).CloseAsync();
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
            {
                // Closing a connection that never came up is no reason to fail a shutdown.
            }
        }
    }
}
