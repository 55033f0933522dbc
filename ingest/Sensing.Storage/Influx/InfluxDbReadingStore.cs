using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Telemetry;

namespace Sensing.Storage.Influx;

/// <summary>
/// The server store: readings, dead letters and alerts in an InfluxDB 1.x, 2.x or 3.x over its HTTP API.
/// <para>
/// Writes are line protocol (<see cref="LineProtocol"/>, layout in <see cref="InfluxSchema"/>), one request per
/// batch, to <c>/api/v2/write</c> with <c>Authorization: Token</c> when a token and a bucket are configured, else to the
/// 1.x <c>/write</c>. Queries are InfluxQL through <c>/query</c>, which 1.x, 2.x (v1 compatibility, through a DBRP
/// mapping) and 3.x all answer. A write that the server refuses, or that still fails after the HTTP client's
/// retries, throws: ingest acknowledges nothing it could not store and retries the batch itself.
/// </para>
/// <para>
/// The <see cref="HttpClient"/> is expected to carry the resilience pipeline (timeouts, retries with jitter,
/// circuit breaker) that <c>AddSensingStore</c> registers; retrying a write is safe because InfluxDB overwrites a
/// point with the same key instead of adding a second one.
/// </para>
/// </summary>
public sealed partial class InfluxDbReadingStore : IReadingStore, IAlertStore
{
    /// <summary>The name of the <see cref="IHttpClientFactory"/> client (and of its resilience pipeline).</summary>
    public const string HttpClientName = "Sensing.Storage.InfluxDB";

    private static readonly MediaTypeHeaderValue LineProtocolType = new("text/plain") { CharSet = "utf-8" };

    private readonly HttpClient _http;
    private readonly InfluxDbStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Uri _base;
    private readonly AuthenticationHeaderValue? _authorization;
    private readonly Lock _initGate = new();
    private Task? _initialized;
    private long _deadLetterSequence;
    private long _lastUpdated;

    public InfluxDbReadingStore(HttpClient http, InfluxDbStoreOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Url.IsAbsoluteUri || options.Url.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException("The InfluxDB URL must be an absolute http(s) address.", nameof(options));
        }

        if (!options.UsesV2Writes && string.IsNullOrEmpty(options.Database))
        {
            throw new ArgumentException("InfluxDB needs a database (1.x) or a token and a bucket (2.x/3.x).", nameof(options));
        }

        _http = http;
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        // Relative endpoint paths resolve under the base path, so a server behind a prefix (/influx/) works too.
        var url = options.Url.AbsoluteUri;
        _base = new Uri(url.EndsWith('/') ? url : url + "/");
        _authorization = !string.IsNullOrEmpty(options.Token)
            ? new AuthenticationHeaderValue("Token", options.Token)
            : !string.IsNullOrEmpty(options.Username)
                ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}")))
                : null;
    }

    /// <summary>
    /// Checks the server once: for 1.x writes, creates the database when it is missing (<c>SHOW DATABASES</c>, then
    /// <c>CREATE DATABASE</c>); for v2 writes, pings it. Every other method calls it first; calling it at host start
    /// makes a wrong URL or database fail the start. A failed check is tried again on the next call.
    /// </summary>
    public Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        lock (_initGate)
        {
            if (_initialized is null || _initialized.IsFaulted || _initialized.IsCanceled)
            {
                // Not tied to one caller's token: a second caller waits on the same check.
                _initialized = InitializeCoreAsync();
            }

            return _initialized.IsCompletedSuccessfully ? Task.CompletedTask : _initialized.WaitAsync(cancellationToken);
        }
    }

    public async Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (readings.Count == 0)
        {
            return;
        }

        using var body = new PooledBufferWriter(readings.Count * 160);
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            if (r.Device is null || r.Metric is null || r.Community is null)
            {
                throw new ArgumentException($"Reading {i} lacks a device, metric or community.", nameof(readings));
            }

            LineProtocol.WriteReading(body, r, _options.Precision);
        }

        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        await SendWriteAsync(body, _options.Precision, cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deadLetters);
        if (deadLetters.Count == 0)
        {
            return;
        }

        using var body = new PooledBufferWriter(deadLetters.Count * 1024);
        foreach (var letter in deadLetters)
        {
            var payload = letter.Payload ?? [];
            var kept = payload.AsSpan(0, Math.Min(payload.Length, DeadLetter.MaxPayloadBytes));
            LineProtocol.Measurement(body, InfluxSchema.DeadLetters);
            LineProtocol.Tag(body, InfluxSchema.FormatTag, NoTrailingBackslash(letter.Format));
            LineProtocol.Field(body, first: true, InfluxSchema.TopicField, SingleLine(letter.Topic));
            LineProtocol.Field(body, first: false, InfluxSchema.ReasonField, SingleLine(letter.Reason));
            LineProtocol.Base64Field(body, first: false, InfluxSchema.PayloadField, kept);
            // The caller's figure is the original size; never report less than what we were handed.
            LineProtocol.Field(body, first: false, InfluxSchema.PayloadBytesField, (long)Math.Max(letter.PayloadBytes, payload.Length));
            // Nanoseconds below the 100 ns tick carry a counter, so letters of one instant keep separate points.
            var sequence = Interlocked.Increment(ref _deadLetterSequence) % 100;
            LineProtocol.Timestamp(body, LineProtocol.ToEpoch(letter.ReceivedAt, InfluxPrecision.Nanoseconds) + sequence);
        }

        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        await SendWriteAsync(body, InfluxPrecision.Nanoseconds, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var everyMicros = query.Validate();

        if (query.From >= query.To)
        {
            return [];
        }

        var where = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{InfluxQl.Identifier(InfluxSchema.MetricTag)} = {InfluxQl.Literal(query.Metric)}")
            .Append(CultureInfo.InvariantCulture, $" AND time >= {InfluxQl.Nanos(query.From)} AND time < {InfluxQl.Nanos(query.To)}");
        if (query.Device is not null)
        {
            where.Append(CultureInfo.InvariantCulture, $" AND {InfluxQl.Identifier(InfluxSchema.DeviceTag)} = {InfluxQl.Literal(query.Device)}");
        }

        if (query.Community is not null)
        {
            where.Append(CultureInfo.InvariantCulture, $" AND {InfluxQl.Identifier(InfluxSchema.CommunityTag)} = {InfluxQl.Literal(query.Community)}");
        }

        var from = InfluxQl.Identifier(InfluxSchema.MeasurementOf(query.Metric));
        var value = InfluxQl.Identifier(InfluxSchema.ValueField);
        string text;
        if (everyMicros is null)
        {
            // Without GROUP BY tags InfluxDB merges the scope's series into one, in time order.
            text = $"SELECT {value} FROM {from} WHERE {where} ORDER BY time ASC LIMIT {query.Limit}";
        }
        else
        {
            var fold = query.Aggregation switch
            {
                Aggregation.Mean => "mean",
                Aggregation.Sum => "sum",
                Aggregation.Min => "min",
                Aggregation.Max => "max",
                Aggregation.Count => "count",
                Aggregation.Last => "last",
                _ => throw new ArgumentOutOfRangeException(nameof(query), query.Aggregation, "Unknown aggregation."),
            };
            // GROUP BY time() buckets start on multiples of the interval since the Unix epoch (no offset given), so
            // an hourly bucket starts on the hour whatever the query's From, and the first bucket may start before
            // From; fill(none) leaves out intervals without data, as the port asks.
            text = $"SELECT {fold}({value}) FROM {from} WHERE {where} GROUP BY time({everyMicros}u) fill(none) LIMIT {query.Limit}";
        }

        using var response = await QueryAsync(text, _options.Precision, cancellationToken).ConfigureAwait(false);
        var buckets = new List<Bucket>();
        foreach (var series in response.Series)
        {
            foreach (var row in series.Rows)
            {
                if (row[1].ValueKind == JsonValueKind.Number)
                {
                    buckets.Add(new Bucket(LineProtocol.FromEpoch(row[0].GetInt64(), _options.Precision), row[1].GetDouble()));
                }
            }
        }

        return buckets;
    }

    public async Task<IReadOnlyDictionary<string, long>> CountPerCommunityAsync(string metric, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(metric);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (from >= to)
        {
            return counts;
        }

        var community = InfluxQl.Identifier(InfluxSchema.CommunityTag);
        var text = $"SELECT count({InfluxQl.Identifier(InfluxSchema.ValueField)}) FROM {InfluxQl.Identifier(InfluxSchema.MeasurementOf(metric))} "
            + $"WHERE {InfluxQl.Identifier(InfluxSchema.MetricTag)} = {InfluxQl.Literal(metric)} AND time >= {InfluxQl.Nanos(from)} AND time < {InfluxQl.Nanos(to)} "
            + $"GROUP BY {community}";
        using var response = await QueryAsync(text, _options.Precision, cancellationToken).ConfigureAwait(false);
        foreach (var series in response.Series)
        {
            foreach (var row in series.Rows)
            {
                if (row[1].ValueKind == JsonValueKind.Number && row[1].GetInt64() > 0)
                {
                    counts[series.Tag(InfluxSchema.CommunityTag)] = row[1].GetInt64();
                }
            }
        }

        return counts;
    }

    public async Task<IReadOnlyList<LatestReading>> LatestAsync(string community, string metric, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(community);
        ArgumentException.ThrowIfNullOrEmpty(metric);

        var latest = await LatestPerSeriesAsync(metric, community, cancellationToken).ConfigureAwait(false);
        latest.Sort(static (a, b) => CompareDeviceThenLabel(a, b));
        return latest;
    }

    public async Task<IReadOnlyList<LatestReading>> LatestPerDeviceAsync(string metric, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(metric);

        // Per device, the newest of its series; when two labels share the newest instant the smallest label wins,
        // as in the DuckDB store, so restarts agree whichever store they read.
        var newest = new Dictionary<string, LatestReading>(StringComparer.Ordinal);
        foreach (var reading in await LatestPerSeriesAsync(metric, community: null, cancellationToken).ConfigureAwait(false))
        {
            if (!newest.TryGetValue(reading.Device, out var kept) || reading.Time > kept.Time
                || (reading.Time == kept.Time && string.CompareOrdinal(reading.Label ?? string.Empty, kept.Label ?? string.Empty) < 0))
            {
                newest[reading.Device] = reading;
            }
        }

        var latest = newest.Values.ToList();
        latest.Sort(static (a, b) => string.CompareOrdinal(a.Device, b.Device));
        return latest;
    }

    public async Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);

        var fields = string.Join(',', new[]
        {
            InfluxSchema.TopicField, InfluxSchema.ReasonField, InfluxSchema.PayloadField, InfluxSchema.PayloadBytesField, InfluxSchema.FormatTag,
        }.Select(InfluxQl.Identifier));
        var where = since is { } s ? $" WHERE time >= {InfluxQl.Nanos(s)}" : string.Empty;
        var text = $"SELECT {fields} FROM {InfluxQl.Identifier(InfluxSchema.DeadLetters)}{where} ORDER BY time DESC LIMIT {limit}";

        using var response = await QueryAsync(text, InfluxPrecision.Nanoseconds, cancellationToken).ConfigureAwait(false);
        var letters = new List<DeadLetter>();
        foreach (var series in response.Series)
        {
            int topic = series.Column(InfluxSchema.TopicField), reason = series.Column(InfluxSchema.ReasonField),
                payload = series.Column(InfluxSchema.PayloadField), bytes = series.Column(InfluxSchema.PayloadBytesField),
                format = series.Column(InfluxSchema.FormatTag);
            foreach (var row in series.Rows)
            {
                letters.Add(new DeadLetter(
                    Topic: row[topic].GetString() ?? string.Empty,
                    Payload: Convert.FromBase64String(row[payload].GetString() ?? string.Empty),
                    PayloadBytes: checked((int)row[bytes].GetInt64()),
                    ReceivedAt: LineProtocol.FromEpoch(row[0].GetInt64(), InfluxPrecision.Nanoseconds),
                    Reason: row[reason].GetString() ?? string.Empty,
                    Format: row[format].ValueKind == JsonValueKind.String ? row[format].GetString()! : string.Empty));
            }
        }

        return letters;
    }

    public async Task UpsertAsync(Alert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentException.ThrowIfNullOrEmpty(alert.Id, nameof(alert));

        using var body = new PooledBufferWriter(2048);
        LineProtocol.Measurement(body, InfluxSchema.Alerts);
        LineProtocol.Tag(body, InfluxSchema.IdTag, alert.Id);
        // System.Text.Json escapes control characters, so the body never holds a raw line break.
        LineProtocol.Field(body, first: true, InfluxSchema.BodyField, JsonSerializer.Serialize(alert));
        LineProtocol.Field(body, first: false, InfluxSchema.UpdatedField, NextUpdateStamp());
        LineProtocol.Timestamp(body, alert.StartedAt, InfluxPrecision.Nanoseconds);

        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        await SendWriteAsync(body, InfluxPrecision.Nanoseconds, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<Alert>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        // Every alert: unresolved ones may be of any age. Alerts are few, and the newest version per id is picked
        // here by its upsert stamp, which also covers an id that was (against its derivation) given two onsets.
        var text = $"SELECT {InfluxQl.Identifier(InfluxSchema.BodyField)},{InfluxQl.Identifier(InfluxSchema.UpdatedField)} "
            + $"FROM {InfluxQl.Identifier(InfluxSchema.Alerts)} GROUP BY {InfluxQl.Identifier(InfluxSchema.IdTag)}";

        using var response = await QueryAsync(text, InfluxPrecision.Nanoseconds, cancellationToken).ConfigureAwait(false);
        var alerts = new List<Alert>();
        foreach (var series in response.Series)
        {
            int body = series.Column(InfluxSchema.BodyField), updated = series.Column(InfluxSchema.UpdatedField);
            string? newestBody = null;
            var newestStamp = long.MinValue;
            foreach (var row in series.Rows)
            {
                var stamp = row[updated].ValueKind == JsonValueKind.Number ? row[updated].GetInt64() : long.MinValue;
                if (newestBody is null || stamp >= newestStamp)
                {
                    newestBody = row[body].GetString();
                    newestStamp = stamp;
                }
            }

            if (newestBody is null)
            {
                continue;
            }

            var alert = JsonSerializer.Deserialize<Alert>(newestBody) ?? throw new InvalidDataException("An alert point holds JSON null.");
            if (alert.RaisedAt >= since || alert.Status != AlertStatus.Resolved)
            {
                alerts.Add(alert);
            }
        }

        alerts.Sort(static (a, b) =>
        {
            var byTime = a.RaisedAt.UtcDateTime.CompareTo(b.RaisedAt.UtcDateTime);
            return byTime != 0 ? byTime : string.CompareOrdinal(a.Id, b.Id);
        });
        return alerts;
    }

    private async Task InitializeCoreAsync()
    {
        if (_options.UsesV2Writes)
        {
            using var request = NewRequest(HttpMethod.Get, "ping");
            using var response = await _http.SendAsync(request, CancellationToken.None).ConfigureAwait(false);
            await ThrowIfRefusedAsync(response, "ping", CancellationToken.None).ConfigureAwait(false);
            _logger.LogInformation("InfluxDB store at {Url}: v2 writes to bucket {Bucket}, InfluxQL queries on {Database}",
                _options.Url, _options.Bucket, _options.QueryDatabase);
            return;
        }

        var database = _options.Database!;
        var exists = false;
        using (var response = await QueryAsync("SHOW DATABASES", InfluxPrecision.Milliseconds, CancellationToken.None, useDatabase: false).ConfigureAwait(false))
        {
            foreach (var series in response.Series)
            {
                foreach (var row in series.Rows)
                {
                    exists |= row[0].ValueKind == JsonValueKind.String && row[0].ValueEquals(database);
                }
            }
        }

        if (!exists)
        {
            // CREATE is a write: POST, as /query requires for anything but SELECT and SHOW.
            using var request = NewRequest(HttpMethod.Post, "query");
            request.Content = new FormUrlEncodedContent([new("q", $"CREATE DATABASE {InfluxQl.Identifier(database)}")]);
            using var response = await _http.SendAsync(request, CancellationToken.None).ConfigureAwait(false);
            await ThrowIfRefusedAsync(response, "CREATE DATABASE", CancellationToken.None).ConfigureAwait(false);
            await using var json = await response.Content.ReadAsStreamAsync(CancellationToken.None).ConfigureAwait(false);
            (await InfluxResponse.ReadAsync(json, CancellationToken.None).ConfigureAwait(false)).Dispose();
            _logger.LogInformation("InfluxDB database {Database} created at {Url}", database, _options.Url);
        }

        _logger.LogInformation("InfluxDB store at {Url}: 1.x writes and InfluxQL queries on {Database}", _options.Url, database);
    }

    private async Task<List<LatestReading>> LatestPerSeriesAsync(string metric, string? community, CancellationToken cancellationToken)
    {
        var where = $"{InfluxQl.Identifier(InfluxSchema.MetricTag)} = {InfluxQl.Literal(metric)}";
        if (community is not null)
        {
            where += $" AND {InfluxQl.Identifier(InfluxSchema.CommunityTag)} = {InfluxQl.Literal(community)}";
        }

        // last() is a selector: without GROUP BY time it returns the selected point's own timestamp.
        var text = $"SELECT last({InfluxQl.Identifier(InfluxSchema.ValueField)}) FROM {InfluxQl.Identifier(InfluxSchema.MeasurementOf(metric))} "
            + $"WHERE {where} GROUP BY {InfluxQl.Identifier(InfluxSchema.DeviceTag)},{InfluxQl.Identifier(InfluxSchema.LabelTag)}";

        using var response = await QueryAsync(text, _options.Precision, cancellationToken).ConfigureAwait(false);
        var latest = new List<LatestReading>();
        foreach (var series in response.Series)
        {
            var label = series.Tag(InfluxSchema.LabelTag);
            foreach (var row in series.Rows)
            {
                latest.Add(new LatestReading(
                    series.Tag(InfluxSchema.DeviceTag), metric, label.Length == 0 ? null : label,
                    LineProtocol.FromEpoch(row[0].GetInt64(), _options.Precision), row[1].GetDouble()));
            }
        }

        return latest;
    }

    private async Task<InfluxResponse> QueryAsync(string influxQl, InfluxPrecision epoch, CancellationToken cancellationToken, bool useDatabase = true)
    {
        if (useDatabase)
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        var path = new StringBuilder("query?");
        if (useDatabase)
        {
            path.Append("db=").Append(Uri.EscapeDataString(_options.QueryDatabase)).Append('&');
            if (!string.IsNullOrEmpty(_options.RetentionPolicy))
            {
                path.Append("rp=").Append(Uri.EscapeDataString(_options.RetentionPolicy)).Append('&');
            }
        }

        path.Append("epoch=").Append(LineProtocol.EpochParameter(epoch)).Append("&q=").Append(Uri.EscapeDataString(influxQl));

        // SELECT and SHOW are reads: GET, which the resilience pipeline may retry freely.
        using var request = NewRequest(HttpMethod.Get, path.ToString());
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, "query", cancellationToken).ConfigureAwait(false);
        await using var json = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return await InfluxResponse.ReadAsync(json, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendWriteAsync(PooledBufferWriter body, InfluxPrecision precision, CancellationToken cancellationToken)
    {
        string path;
        if (_options.UsesV2Writes)
        {
            path = $"api/v2/write?bucket={Uri.EscapeDataString(_options.Bucket!)}&precision={LineProtocol.V2Parameter(precision)}";
            if (!string.IsNullOrEmpty(_options.Org))
            {
                path += $"&org={Uri.EscapeDataString(_options.Org)}";
            }
        }
        else
        {
            path = $"write?db={Uri.EscapeDataString(_options.Database!)}&precision={LineProtocol.V1Parameter(precision)}";
            if (!string.IsNullOrEmpty(_options.RetentionPolicy))
            {
                path += $"&rp={Uri.EscapeDataString(_options.RetentionPolicy)}";
            }
        }

        // Large batches travel compressed: line protocol shrinks several-fold, which matters on a control room's
        // uplink far more than the milliseconds of CPU. Small ones are not worth the server's inflate.
        using var compressed = body.WrittenCount > _options.GzipThresholdBytes ? new PooledBufferWriter(body.WrittenCount / 4) : null;
        HttpContent content;
        if (compressed is not null)
        {
            using (var gzip = new GZipStream(new PooledBufferWriter.WriteStream(compressed), CompressionLevel.Fastest))
            {
                gzip.Write(body.WrittenSpan);
            }

            content = new ReadOnlyMemoryContent(compressed.WrittenMemory);
            content.Headers.ContentEncoding.Add("gzip");
        }
        else
        {
            content = new ReadOnlyMemoryContent(body.WrittenMemory);
        }

        content.Headers.ContentType = LineProtocolType;

        // The content reads the pooled buffers, which stay rented until this method returns, retries included.
        using var request = NewRequest(HttpMethod.Post, path);
        request.Content = content;
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, "write", cancellationToken).ConfigureAwait(false);
    }

    private HttpRequestMessage NewRequest(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(_base, path));
        request.Headers.Authorization = _authorization;
        return request;
    }

    private static async Task ThrowIfRefusedAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        // InfluxDB explains itself in the body ({"error":"partial write: …"}); keep it, capped, in the exception.
        var detail = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (detail.Length > 500)
        {
            detail = detail[..500] + "…";
        }

        throw new HttpRequestException(
            $"InfluxDB refused the {what}: {(int)response.StatusCode} {response.ReasonPhrase} {detail}".TrimEnd(),
            inner: null, response.StatusCode);
    }

    private long NextUpdateStamp()
    {
        // Strictly increasing within the process even when two upserts share a clock reading or the clock steps back.
        var now = LineProtocol.ToEpoch(_time.GetUtcNow(), InfluxPrecision.Nanoseconds);
        while (true)
        {
            var last = Volatile.Read(ref _lastUpdated);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref _lastUpdated, next, last) == last)
            {
                return next;
            }
        }
    }

    private static int CompareDeviceThenLabel(LatestReading a, LatestReading b)
    {
        var byDevice = string.CompareOrdinal(a.Device, b.Device);
        return byDevice != 0 ? byDevice : string.CompareOrdinal(a.Label ?? string.Empty, b.Label ?? string.Empty);
    }

    /// <summary>Line protocol cannot carry a line break; a dead letter's topic or reason is diagnostic text, so flatten it rather than lose the letter.</summary>
    private static string SingleLine(string? text) =>
        string.IsNullOrEmpty(text) ? string.Empty : text.ReplaceLineEndings(" ");

    private static string? NoTrailingBackslash(string? text) => text?.TrimEnd('\\');
}
