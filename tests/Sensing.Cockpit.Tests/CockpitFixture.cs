using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Alerts;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// One real host shared by the tests of a class (starting one takes a second or two). Tests in a class run one
/// after another and each uses its own alert, device and household ids, so they do not see each other's data
/// except where a test says so.
/// </summary>
public sealed class CockpitFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    public SensingTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await SensingTestHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
    }

    /// <summary>A token per user, signed in once per host.</summary>
    public async Task<string> TokenAsync(string user)
    {
        if (_tokens.TryGetValue(user, out var token)) return token;
        token = await Host.TokenAsync(user).WaitAsync(Scenario.Timeout);
        return _tokens[user] = token;
    }

    public async Task<HttpClient> HttpAsync(string user) => Host.Http(await TokenAsync(user));
}

/// <summary>Builds the situations the tests need: alerts put straight into the book, devices and households through the admin API.</summary>
public static class Scenario
{
    /// <summary>How long any single await in these tests may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>How long to listen for a push that must not come, after the push that must has arrived.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(700);

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    public static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Raises an alert as analytics would (through the <see cref="IAlertSink"/>) and returns what was raised.</summary>
    public static async Task<Alert> RaiseAsync(SensingTestHost host, string community, string? grid, DateTimeOffset? raisedAt = null, string kind = AlertKinds.WaterLeak)
    {
        var device = NewId("dev");
        var raised = raisedAt ?? host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var started = raised - TimeSpan.FromMinutes(30);
        var alert = new Alert
        {
            Id = Alert.MakeId(kind, device, started),
            Kind = kind,
            Severity = AlertSeverity.Warning,
            Community = community,
            Grid = grid,
            Device = device,
            StartedAt = started,
            RaisedAt = raised,
            Evidence = new AlertEvidence("test alert", [new EvidencePoint(started, "water.flow", 0.1, 2.5)]),
        };
        IAlertSink sink = host.App.Services.GetRequiredService<AlertBook>();
        await sink.RaiseAsync(alert, CancellationToken.None).AsTask().WaitAsync(Timeout);
        return alert;
    }

    public static async Task RegisterDeviceAsync(HttpClient admin, string id, string kind, string community, string? grid, string? household = null)
    {
        var response = await admin.PostAsJsonAsync("/api/devices", new { id, kind, community, grid, household }).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static async Task RegisterHouseholdAsync(HttpClient admin, string id, string community, string? grid, bool elderlyLivingAlone = true)
    {
        var response = await admin.PostAsJsonAsync("/api/households", new { id, community, grid, elderly_living_alone = elderlyLivingAlone }).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        var response = await http.GetAsync(path).WaitAsync(Timeout);
        var body = await response.Content.ReadAsStringAsync().WaitAsync(Timeout);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} → {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<(HttpStatusCode Status, JsonElement? Body)> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        var response = await http.SendAsync(request).WaitAsync(Timeout);
        var text = await response.Content.ReadAsStringAsync().WaitAsync(Timeout);
        JsonElement? json = null;
        if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true)
        {
            json = JsonDocument.Parse(text).RootElement.Clone();
        }
        return (response.StatusCode, json);
    }

    public static IReadOnlyList<string> Ids(JsonElement alerts) => [.. alerts.EnumerateArray().Select(a => a.GetProperty("id").GetString()!)];

    public static JsonElement Single(JsonElement alerts, string id) => Assert.Single(alerts.EnumerateArray(), a => a.GetProperty("id").GetString() == id);

    /// <summary>Collects a hub event's payloads, so a test can wait for one and then check nothing else came.</summary>
    public static Channel<JsonElement> Listen(HubConnection hub, string method)
    {
        var channel = Channel.CreateUnbounded<JsonElement>();
        hub.On<JsonElement>(method, payload => channel.Writer.TryWrite(payload));
        return channel;
    }

    /// <summary>Waits for the push about <paramref name="alertId"/> (skipping others); fails after <see cref="Timeout"/>.</summary>
    public static async Task<JsonElement> NextAboutAsync(Channel<JsonElement> channel, string alertId, string what)
    {
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            while (true)
            {
                var payload = await channel.Reader.ReadAsync(cts.Token);
                if (payload.GetProperty("id").GetString() == alertId) return payload;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No push about {alertId} for {what} within {Timeout.TotalSeconds:0}s");
        }
    }

    /// <summary>Asserts no push about <paramref name="alertId"/> arrives within <see cref="Quiet"/>.</summary>
    public static async Task AssertNoneAboutAsync(Channel<JsonElement> channel, string alertId, string who)
    {
        await Task.Delay(Quiet);
        while (channel.Reader.TryRead(out var payload))
        {
            Assert.False(payload.GetProperty("id").GetString() == alertId, $"{who} received a push about {alertId}: {payload}");
        }
    }
}
