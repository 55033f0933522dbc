using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// Several cockpit instances behind one address, on one real Redis (Debian's redis-server on a free loopback port):
/// pushes cross instances through the SignalR backplane, each instance's alert book learns the others' changes, and
/// two deployments on one Redis (different channel prefixes) do not mix. Redis missing at start: the service starts
/// degraded and says so, and recovers when Redis comes; with SignalR:RedisRequired it refuses to start, saying why.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ScaleOutTests
{
    private static Dictionary<string, string?> Backplane(RedisServer redis, string? prefix = null)
    {
        var settings = new Dictionary<string, string?> { ["SignalR:Redis"] = redis.ConnectionString };
        if (prefix is not null) settings["SignalR:RedisChannelPrefix"] = prefix;
        return settings;
    }

    private static async Task WaitForBackplaneAsync(SensingTestHost host, string state) =>
        await SensingTestHost.EventuallyAsync<object>(async () =>
        {
            var (_, body) = await host.HealthAsync();
            return body.GetProperty("backplane").GetProperty("state").GetString() == state ? body : null;
        }, Scenario.Timeout, $"/healthz backplane.state '{state}' on {host.BaseAddress}");

    [RedisFact]
    public async Task An_alert_raised_on_one_instance_reaches_workers_and_walls_on_another_and_is_acted_on_there()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await SensingTestHost.StartAsync(Backplane(redis));
        await using var b = await SensingTestHost.StartAsync(Backplane(redis));
        // Another deployment (another district) on the same Redis: its own prefix, so it must hear nothing of ours.
        await using var other = await SensingTestHost.StartAsync(Backplane(redis, prefix: "district-2"));
        foreach (var host in new[] { a, b, other }) await WaitForBackplaneAsync(host, "connected");

        // Tokens are signed with the deployment's key, so one from B is good on A too (a balancer may send a client anywhere).
        var worker1 = await b.TokenAsync("worker1");
        var operatorToken = await b.TokenAsync("operator");
        await using var workerOnB = await b.ConnectHubAsync("/hubs/worker", worker1);
        await using var otherGridOnB = await b.ConnectHubAsync("/hubs/worker", await b.TokenAsync("worker2"));
        await using var wallOnB = await b.ConnectHubAsync("/hubs/cockpit", operatorToken);
        await using var wallOnA = await a.ConnectHubAsync("/hubs/cockpit", operatorToken);
        await using var workerOfOtherDeployment = await other.ConnectHubAsync("/hubs/worker", await other.TokenAsync("worker1"));
        var workerAlerts = Scenario.Listen(workerOnB, "alert");
        var workerUpdates = Scenario.Listen(workerOnB, "alertUpdated");
        var otherGridAlerts = Scenario.Listen(otherGridOnB, "alert");
        var wallBAlerts = Scenario.Listen(wallOnB, "alert");
        var wallAUpdates = Scenario.Listen(wallOnA, "alertUpdated");
        var otherDeploymentAlerts = Scenario.Listen(workerOfOtherDeployment, "alert");
        await wallOnB.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
        await wallOnA.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);

        var raised = await Scenario.RaiseAsync(a, "c1", "g1");

        var atWorker = await Scenario.NextAboutAsync(workerAlerts, raised.Id, "worker1 on instance B");
        Assert.Equal("open", atWorker.GetProperty("status").GetString());
        await Scenario.NextAboutAsync(wallBAlerts, raised.Id, "the wall screen on instance B");
        await Scenario.AssertNoneAboutAsync(otherGridAlerts, raised.Id, "worker2 (grid g2) on instance B");
        await Scenario.AssertNoneAboutAsync(otherDeploymentAlerts, raised.Id, "worker1 of the other deployment (prefix district-2)");

        // B's book learned A's alert: the worker acknowledges it on B, and the wall on A hears of it.
        var acknowledged = await workerOnB.InvokeAsync<JsonElement>("Acknowledge", raised.Id).WaitAsync(Scenario.Timeout);
        Assert.Equal("acknowledged", acknowledged.GetProperty("status").GetString());
        Assert.Equal("acknowledged", (await Scenario.NextAboutAsync(wallAUpdates, raised.Id, "the wall on A, of B's acknowledgement")).GetProperty("status").GetString());
        Assert.Equal("acknowledged", (await Scenario.NextAboutAsync(workerUpdates, raised.Id, "worker1 on B, of its own acknowledgement")).GetProperty("status").GetString());

        // And A's book learned B's change: resolving on A (over HTTP) finds it acknowledged, not open.
        using var operatorOnA = a.Http(operatorToken);
        var alertOnA = await SensingTestHost.EventuallyAsync<object>(async () =>
        {
            var alerts = await Scenario.GetJsonAsync(operatorOnA, "/api/alerts?community=c1");
            var found = alerts.EnumerateArray().FirstOrDefault(x => x.GetProperty("id").GetString() == raised.Id);
            return found.ValueKind == JsonValueKind.Object && found.GetProperty("status").GetString() == "acknowledged" ? found : null;
        }, Scenario.Timeout, "A's book to show B's acknowledgement");
        var (status, resolved) = await Scenario.SendAsync(operatorOnA, HttpMethod.Post, $"/api/alerts/{raised.Id}/resolve", new { note = "pipe fixed" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("resolved", resolved!.Value.GetProperty("status").GetString());
        Assert.Equal("resolved", (await Scenario.NextAboutAsync(workerUpdates, raised.Id, "worker1 on B, of the resolution on A")).GetProperty("status").GetString());
        Assert.NotNull(alertOnA);

        // The channels on Redis carry each deployment's prefix.
        var channels = (await redis.CliAsync("PUBSUB", "CHANNELS", "*")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("sensing:alerts", channels);
        Assert.Contains("district-2:alerts", channels);
        Assert.All(channels, c => Assert.True(c.StartsWith("sensing:", StringComparison.Ordinal) || c.StartsWith("district-2:", StringComparison.Ordinal), $"unprefixed channel {c}"));

        foreach (var host in new[] { a, b, other }) host.AssertNoLoggedErrors();
    }

    [RedisFact]
    public async Task Without_Redis_at_start_the_service_starts_degraded_says_so_and_recovers_when_Redis_comes()
    {
        var port = RedisServer.FreePort();
        // No server on the port yet. The start must not wait on Redis or fail on it. (A 1 s connect timeout instead of
        // StackExchange.Redis' 5 s, times its 3 attempts, only so the first verdict comes sooner.)
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?> { ["SignalR:Redis"] = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)},connectTimeout=1000" });
        var health = (JsonElement)await SensingTestHost.EventuallyAsync<object>(async () =>
        {
            var (code, body) = await host.HealthAsync();
            return code == HttpStatusCode.OK && body.GetProperty("backplane").GetProperty("state").GetString() == "disconnected" ? body : null;
        }, Scenario.Timeout, "/healthz to report the backplane disconnected");
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        var backplane = health.GetProperty("backplane");
        Assert.Equal("redis", backplane.GetProperty("kind").GetString());
        Assert.Equal($"127.0.0.1:{port}", backplane.GetProperty("endpoint").GetString());
        Assert.False(string.IsNullOrEmpty(backplane.GetProperty("last_error").GetString()));
        Assert.True(backplane.GetProperty("connection_failures").GetInt64() >= 1);
        using (var http = host.Http())
        {
            var metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("sensing_backplane_up 0", metrics, StringComparison.Ordinal);
        }

        // The API works meanwhile: an alert is raised and listed.
        var early = await Scenario.RaiseAsync(host, "c1", "g1");
        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        Assert.Contains(early.Id, Scenario.Ids(await Scenario.GetJsonAsync(operatorHttp, "/api/alerts?community=c1")));

        // Redis comes: the backplane connects by itself and pushes flow again.
        await using var redis = await RedisServer.StartAsync(port);
        await WaitForBackplaneAsync(host, "connected");
        Assert.Equal("ok", (await host.HealthAsync()).Body.GetProperty("status").GetString());
        await using var worker = await host.ConnectHubAsync("/hubs/worker", await host.TokenAsync("worker1"));
        var alerts = Scenario.Listen(worker, "alert");
        // SignalR's Redis lifetime manager restores its channel subscriptions a moment after the connection is back, so
        // a push in that moment can go nowhere (the book keeps the alert: AlertsSince below). Alerts are raised until one
        // reaches the worker — a backplane that never recovers fails here — and then the next must arrive promptly.
        var recovering = Stopwatch.StartNew();
        var heard = false;
        while (!heard && recovering.Elapsed < TimeSpan.FromSeconds(30))
        {
            var probe = await Scenario.RaiseAsync(host, "c1", "g1");
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                while (!heard) heard = (await alerts.Reader.ReadAsync(wait.Token)).GetProperty("id").GetString() == probe.Id;
            }
            catch (OperationCanceledException)
            {
                // Not yet: raise another.
            }
        }
        Assert.True(heard, $"no push reached worker1 within 30 s of Redis coming back ({recovering.Elapsed.TotalSeconds:F1} s)");
        var late = await Scenario.RaiseAsync(host, "c1", "g1");
        await Scenario.NextAboutAsync(alerts, late.Id, "worker1 after Redis came back");
        // The worker can catch up on what was raised while Redis was away.
        var missed = await worker.InvokeAsync<JsonElement>("AlertsSince", 0L).WaitAsync(Scenario.Timeout);
        Assert.Contains(early.Id, Scenario.Ids(missed));
        // The outage is an error in SignalR's own log ("Not connected to Redis."), rightly; nothing else may be.
        Assert.All(host.LoggedErrors, e => Assert.StartsWith("Microsoft.AspNetCore.SignalR.StackExchangeRedis.RedisHubLifetimeManager: Not connected to Redis.", e, StringComparison.Ordinal));
    }

    [RedisFact]
    public async Task With_RedisRequired_the_service_refuses_to_start_without_Redis_and_says_why()
    {
        var port = RedisServer.FreePort();
        var folder = SensingTestHost.NewDataDirectory();
        try
        {
            // Built here rather than through SensingTestHost, so the stages that did start are stopped with the app.
            await using var app = CockpitHost.Build(HostArgs(folder,
                $"--SignalR:Redis=127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)},connectTimeout=1000", "--SignalR:RedisRequired=true"));
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync().WaitAsync(Scenario.Timeout));
            Assert.Contains("SignalR:RedisRequired", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"127.0.0.1:{port}", refused.Message, StringComparison.Ordinal);
            await app.StopAsync().WaitAsync(Scenario.Timeout);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void A_bad_backplane_configuration_stops_the_start_naming_the_key()
    {
        var refused = Assert.Throws<OptionsValidationException>(() => Validate("--SignalR:Redis=127.0.0.1:6379", "--SignalR:RedisChannelPrefix=two words"));
        Assert.Contains("SignalR:RedisChannelPrefix", refused.Message, StringComparison.Ordinal);
        refused = Assert.Throws<OptionsValidationException>(() => Validate("--SignalR:RedisRequired=true"));
        Assert.Contains("SignalR:Redis is empty", refused.Message, StringComparison.Ordinal);
    }

    private static void Validate(params string[] args)
    {
        var app = CockpitHost.Build(HostArgs(Path.Combine(Path.GetTempPath(), "sensing-startup-" + Guid.NewGuid().ToString("N")), args));
        _ = app.Services.GetRequiredService<IOptions<ScaleOut.BackplaneOptions>>().Value;
    }

    private static string[] HostArgs(string folder, params string[] args) =>
    [
        $"--urls=http://127.0.0.1:{SensingTestHost.FreePort()}", $"--Mqtt:Port={SensingTestHost.FreePort()}", "--Demo:Enabled=false",
        $"--Auth:SigningKey={SensingTestHost.SigningKey}", $"--Store:Path={Path.Combine(folder, "s.duckdb")}",
        $"--Registry:Path={Path.Combine(folder, "registry.json")}", $"--Analytics:ModelDirectory={Path.Combine(folder, "models")}", .. args,
    ];
}
