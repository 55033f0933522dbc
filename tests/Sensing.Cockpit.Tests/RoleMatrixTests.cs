using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.Hubs;
using Sensing.Ingest.Registry;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The callers of the role matrix. Alerts, households and devices of the matrix are in c1/g1: <c>worker1</c> is the
/// worker of their grid, <c>worker2</c> (c1/g2) the worker of another grid, <c>leader1</c> the leader of g1 (a worker
/// with no grid of their own who leads g1). The last three carry an admin's claims in a token the service must refuse:
/// none at all, expired (past the clock skew), or signed with another key.
/// </summary>
public static class Caller
{
    public const string Admin = "admin";
    public const string Operator = "operator";
    public const string Engineer = "engineer";
    public const string Worker = "worker1";
    public const string OtherWorker = "worker2";
    public const string Leader = "leader1";
    public const string Anonymous = "anonymous";
    public const string Expired = "expired-token";
    public const string ForeignKey = "foreign-key-token";

    public static readonly string[] All = [Admin, Operator, Engineer, Worker, OtherWorker, Leader, Anonymous, Expired, ForeignKey];
    public static readonly string[] SignedIn = [Admin, Operator, Engineer, Worker, OtherWorker, Leader];
    public static readonly string[] Refused = [Anonymous, Expired, ForeignKey];

    /// <summary>A token with admin claims, signed with <paramref name="key"/>, expiring at <paramref name="expires"/>.</summary>
    public static string Forge(string key, DateTime expires, string role = Roles.Admin, string user = "mallory") =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", user), new Claim("role", role)]),
            Issuer = "sensing",
            Audience = "sensing",
            IssuedAt = expires - TimeSpan.FromHours(1),
            NotBefore = expires - TimeSpan.FromHours(1),
            Expires = expires,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
}

/// <summary>The test host's users plus <c>leader1</c>, the grid leader of g1; c1 with grids g1 and g2 and a meter of g1 in the registry.</summary>
public sealed class RoleMatrixFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, string?> _tokens = new(StringComparer.Ordinal);

    public SensingTestHost Host { get; private set; } = null!;

    /// <summary>A meter of c1/g1, for the readings row.</summary>
    public string Meter { get; } = Scenario.NewId("wm");

    public async Task InitializeAsync()
    {
        var leader = SensingTestHost.Users.Length;
        Host = await SensingTestHost.StartAsync(new Dictionary<string, string?>
        {
            [$"Auth:Users:{leader}:Username"] = Caller.Leader,
            [$"Auth:Users:{leader}:PasswordHash"] = PasswordHash.Create(SensingTestHost.Password),
            [$"Auth:Users:{leader}:Role"] = Roles.Worker,
            [$"Auth:Users:{leader}:Community"] = "c1",
            [$"Auth:Users:{leader}:Leads:0"] = "g1",
        });
        var registry = Host.App.Services.GetRequiredService<DeviceRegistry>();
        registry.Upsert(new Community("c1", "阳光社区"));
        registry.Upsert(new Grid("g1", "c1", "一网格"));
        registry.Upsert(new Grid("g2", "c1", "二网格"));
        registry.Upsert(new Device(Meter, DeviceKind.Meter, "c1", "g1", "h-matrix", null));
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
    }

    /// <summary>The caller's bearer token: signed in once per host; null for <see cref="Caller.Anonymous"/>.</summary>
    public async Task<string?> TokenAsync(string caller)
    {
        if (_tokens.TryGetValue(caller, out var token)) return token;
        token = caller switch
        {
            Caller.Anonymous => null,
            // Past the 30 s clock skew, so expired by any reading.
            Caller.Expired => Caller.Forge(SensingTestHost.SigningKey, DateTime.UtcNow - TimeSpan.FromMinutes(2)),
            Caller.ForeignKey => Caller.Forge("another-signing-key-of-at-least-32-bytes!!", DateTime.UtcNow + TimeSpan.FromHours(1)),
            _ => await Host.TokenAsync(caller).WaitAsync(Scenario.Timeout),
        };
        return _tokens[caller] = token;
    }

    public async Task<HttpClient> HttpAsync(string caller) => Host.Http(await TokenAsync(caller));

    /// <summary>A hub connection as <paramref name="caller"/>, not yet started.</summary>
    public async Task<HubConnection> HubAsync(string path, string caller)
    {
        var token = await TokenAsync(caller);
        return new HubConnectionBuilder()
            .WithUrl(new Uri(Host.BaseAddress, path), o =>
            {
                if (token is not null) o.AccessTokenProvider = () => Task.FromResult<string?>(token);
            })
            .AddJsonProtocol(o => CockpitHost.ConfigureJson(o.PayloadSerializerOptions))
            .Build();
    }
}

/// <summary>
/// Who may do what: every HTTP endpoint of the service (as its routing lists them, so an endpoint added without a row
/// here fails <see cref="Every_endpoint_has_a_row_and_every_row_an_endpoint"/> naming it) × every caller of
/// <see cref="Caller"/>, and every method of both hubs × every caller. Each case gets its own fresh alert, household
/// or device, so cases do not depend on each other.
/// </summary>
public sealed class RoleMatrixTests(RoleMatrixFixture fixture) : IClassFixture<RoleMatrixFixture>
{
    private SensingTestHost Host => fixture.Host;

    private const int Ok = 200, BadRequest = 400, Unauthorized = 401, Forbidden = 403;

    /// <summary>
    /// One endpoint's row: how to call it, and the status each signed-in caller must get; the refused tokens (none,
    /// expired, another key) get <paramref name="Refused"/>: 401 behind the token, the anonymous answer where none is needed.
    /// </summary>
    private sealed record Row(string Method, string Route, string Path, int Admin, int Operator, int Engineer, int Worker, int OtherWorker, int Leader, int Refused)
    {
        /// <summary>As routing lists the endpoint: hub endpoints take any method (<c>*</c>), so each is called with several.</summary>
        public string Endpoint => Route.StartsWith("/hubs/", StringComparison.Ordinal) ? $"* {Route}" : $"{Method} {Route}";

        public int Expected(string caller) => caller switch
        {
            Caller.Admin => Admin,
            Caller.Operator => Operator,
            Caller.Engineer => Engineer,
            Caller.Worker => Worker,
            Caller.OtherWorker => OtherWorker,
            Caller.Leader => Leader,
            _ => Refused,
        };
    }

    private static Row Everyone(string method, string route, string path, int status = Ok) => new(method, route, path, status, status, status, status, status, status, status);
    private static Row SignedIn(string method, string route, string path) => new(method, route, path, Ok, Ok, Ok, Ok, Ok, Ok, Unauthorized);
    private static Row AdminOnly(string method, string route, string path) => new(method, route, path, Ok, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden, Unauthorized);
    private static Row ControlRoom(string method, string route, string path) => new(method, route, path, Ok, Ok, Ok, Forbidden, Forbidden, Forbidden, Unauthorized);
    /// <summary>Admins, operators, and the workers of the grid (its own worker and its leader), not engineers.</summary>
    private static Row Responders(string method, string route, string path) => new(method, route, path, Ok, Ok, Forbidden, Ok, Forbidden, Ok, Unauthorized);
    /// <summary>Everyone signed in who may see the grid: all but the worker of another grid.</summary>
    private static Row SeesTheGrid(string method, string route, string path) => new(method, route, path, Ok, Ok, Ok, Ok, Forbidden, Ok, Unauthorized);

    /// <summary>
    /// The matrix. <c>{alert}</c> is a fresh alert of c1/g1, <c>{household}</c> a fresh household of c1/g1,
    /// <c>{meter}</c> the fixture's meter of c1/g1, <c>{from}</c>/<c>{to}</c> the last day.
    /// </summary>
    private static readonly Row[] s_rows =
    [
        Everyone("POST", "/api/auth/token", "/api/auth/token"),
        Everyone("GET", "/api/config", "/api/config"),
        Everyone("GET", "/healthz", "/healthz"),
        Everyone("GET", "/metrics", "/metrics"),

        SignedIn("GET", "/api/communities", "/api/communities"),
        SignedIn("GET", "/api/devices", "/api/devices?community=c1"),
        AdminOnly("POST", "/api/devices", "/api/devices"),
        ControlRoom("GET", "/api/devices/quarantined", "/api/devices/quarantined"),
        AdminOnly("POST", "/api/households", "/api/households"),
        Responders("POST", "/api/households/{id}/away", "/api/households/{household}/away"),
        Responders("POST", "/api/households/{id}/back", "/api/households/{household}/back"),
        // Residents' contacts: in full for admins and the grid's own worker and leader, masked for operators (privacy).
        new("GET", "/api/households/{id}/contact", "/api/households/{household}/contact", Ok, Ok, Forbidden, Ok, Forbidden, Ok, Unauthorized),
        AdminOnly("PUT", "/api/households/{id}/contact", "/api/households/{household}/contact"),
        AdminOnly("GET", "/api/households/{id}/export", "/api/households/{household}/export"),
        AdminOnly("DELETE", "/api/households/{id}", "/api/households/{household}"),

        SeesTheGrid("GET", "/api/readings", "/api/readings?device={meter}&metric=water.total&from={from}&to={to}"),
        SignedIn("GET", "/api/tiles", "/api/tiles?community=c1"),
        ControlRoom("GET", "/api/charts", "/api/charts?community=c1&hours=24"),
        ControlRoom("GET", "/api/deadletters", "/api/deadletters"),
        new("GET", "/api/export", "/api/export?from={from}&to={to}&community=c1", Ok, Forbidden, Ok, Forbidden, Forbidden, Forbidden, Unauthorized),

        SignedIn("GET", "/api/alerts", "/api/alerts?community=c1"),
        Responders("POST", "/api/alerts/{id}/ack", "/api/alerts/{alert}/ack"),
        Responders("POST", "/api/alerts/{id}/on-the-way", "/api/alerts/{alert}/on-the-way"),
        Responders("POST", "/api/alerts/{id}/resolve", "/api/alerts/{alert}/resolve"),
        SeesTheGrid("GET", "/api/alerts/{id}/actions", "/api/alerts/{alert}/actions"),
        SignedIn("GET", "/api/alerts/closure", "/api/alerts/closure?community=c1"),

        AdminOnly("GET", "/api/audit", "/api/audit"),

        // The hubs over plain HTTP: negotiation is where the role is checked (connect and methods: the hub tests below).
        ControlRoom("POST", "/hubs/cockpit/negotiate", "/hubs/cockpit/negotiate?negotiateVersion=1"),
        new("POST", "/hubs/worker/negotiate", "/hubs/worker/negotiate?negotiateVersion=1", Forbidden, Forbidden, Forbidden, Ok, Ok, Ok, Unauthorized),
        // The connection endpoint itself: a caller who may connect and names no connection is told so (400).
        .. HubConnectionRows("/hubs/cockpit", cockpit: true),
        .. HubConnectionRows("/hubs/worker", cockpit: false),
    ];

    private static IEnumerable<Row> HubConnectionRows(string path, bool cockpit) =>
        new[] { "GET", "POST", "DELETE" }.Select(method => cockpit
            ? new Row(method, path, path, BadRequest, BadRequest, BadRequest, Forbidden, Forbidden, Forbidden, Unauthorized)
            : new Row(method, path, path, Forbidden, Forbidden, Forbidden, BadRequest, BadRequest, BadRequest, Unauthorized));

    public static TheoryData<string, string, string> Cases()
    {
        var cases = new TheoryData<string, string, string>();
        foreach (var row in s_rows)
        {
            foreach (var caller in Caller.All) cases.Add(row.Method, row.Route, caller);
        }
        return cases;
    }

    [Fact]
    public void Every_endpoint_has_a_row_and_every_row_an_endpoint()
    {
        var endpoints = Host.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Where(m => m != "OPTIONS" && m != "CONNECT")
                .Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}"))
            .ToHashSet(StringComparer.Ordinal);
        var rows = s_rows.Select(r => r.Endpoint).Distinct(StringComparer.Ordinal).ToList();

        Assert.Equal(s_rows.Length, s_rows.Select(r => $"{r.Method} {r.Route}").Distinct(StringComparer.Ordinal).Count());
        var missing = endpoints.Except(rows, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var stale = rows.Except(endpoints, StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "Endpoints without a row in the role matrix (add one with who may call them):\n" + string.Join("\n", missing));
        Assert.True(stale.Count == 0, "Rows of the role matrix without an endpoint:\n" + string.Join("\n", stale));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Endpoint_answers_each_caller_as_the_matrix_says(string method, string route, string caller)
    {
        var row = s_rows.Single(r => r.Method == method && r.Route == route);
        var expected = row.Expected(caller);
        var path = row.Path
            .Replace("{meter}", fixture.Meter, StringComparison.Ordinal)
            .Replace("{from}", Uri.EscapeDataString(Scenario.Iso(DateTimeOffset.UtcNow - TimeSpan.FromDays(1))), StringComparison.Ordinal)
            .Replace("{to}", Uri.EscapeDataString(Scenario.Iso(DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1))), StringComparison.Ordinal);
        object? body = null;
        string? alertId = null, householdId = null, deviceId = null;
        if (path.Contains("{alert}", StringComparison.Ordinal))
        {
            alertId = (await Scenario.RaiseAsync(Host, "c1", "g1")).Id;
            path = path.Replace("{alert}", alertId, StringComparison.Ordinal);
            if (route.EndsWith("/resolve", StringComparison.Ordinal)) body = new { note = $"checked by {caller}" };
        }
        if (path.Contains("{household}", StringComparison.Ordinal))
        {
            householdId = Scenario.NewId("h");
            using var admin = await fixture.HttpAsync(Caller.Admin);
            await Scenario.RegisterHouseholdAsync(admin, householdId, "c1", "g1");
            var (contactSet, _) = await Scenario.SendAsync(admin, HttpMethod.Put, $"/api/households/{householdId}/contact",
                new { residents = new[] { "张桂兰" }, phone = "13812345678" });
            Assert.Equal(HttpStatusCode.OK, contactSet);
            path = path.Replace("{household}", householdId, StringComparison.Ordinal);
        }
        switch (method, route)
        {
            case ("POST", "/api/auth/token"):
                body = new { username = Caller.Operator, password = SensingTestHost.Password };
                break;
            case ("POST", "/api/devices"):
                deviceId = Scenario.NewId("wm");
                body = new { id = deviceId, kind = "meter", community = "c1", grid = "g1", household = "h-x" };
                break;
            case ("PUT", "/api/households/{id}/contact"):
                body = new { residents = new[] { "王芳" }, phone = "13900001111" };
                break;
            case ("POST", "/api/households"):
                householdId = Scenario.NewId("h");
                body = new { id = householdId, community = "c1", grid = "g1", elderly_living_alone = true };
                break;
        }
        if (method == "POST" && body is null && !route.StartsWith("/hubs", StringComparison.Ordinal)) body = new { };

        using var http = await fixture.HttpAsync(caller);
        var (status, json) = await Scenario.SendAsync(http, new HttpMethod(method), path, body);

        Assert.True((int)status == expected, $"{method} {path} as {caller}: expected {expected}, got {(int)status} {json}");
        if (expected == Ok && json is { } result)
        {
            if (alertId is not null && method == "POST")
            {
                Assert.Equal(alertId, result.GetProperty("id").GetString());
                Assert.Equal(caller, result.GetProperty("updated_by").GetString());
            }
            else if (alertId is not null)
            {
                Assert.Equal("raised", result[0].GetProperty("action").GetString());
            }
            else if (householdId is not null && route == "/api/households/{id}/export")
            {
                Assert.Equal(householdId, result.GetProperty("household").GetProperty("id").GetString());
            }
            else if (householdId is not null && route.Contains("{id}", StringComparison.Ordinal))
            {
                Assert.Equal(householdId, result.GetProperty("household").GetString());
            }
            else if (deviceId is not null || householdId is not null)
            {
                Assert.Equal(deviceId ?? householdId, result.GetProperty("id").GetString());
            }
            else if (route == "/api/auth/token")
            {
                Assert.Equal("operator", result.GetProperty("role").GetString());
            }
        }
        else if (expected != Ok && alertId is not null && method == "POST")
        {
            // A refused action leaves the alert as it was.
            Assert.Equal(AlertStatus.Open, Host.App.Services.GetRequiredService<AlertBook>().Find(alertId)!.Status);
        }
        else if (expected != Ok && deviceId is not null)
        {
            Assert.Null(Host.App.Services.GetRequiredService<DeviceRegistry>().FindDevice(deviceId));
        }
        else if (expected != Ok && householdId is not null && route.StartsWith("/api/households/{id}", StringComparison.Ordinal) && method is "PUT" or "DELETE")
        {
            // A refused change or erasure leaves the household and its contact as they were.
            var registry = Host.App.Services.GetRequiredService<DeviceRegistry>();
            Assert.NotNull(registry.FindHousehold(householdId));
            Assert.Equal("张桂兰", registry.FindContact(householdId)!.Residents[0]);
        }
        else if (expected != Ok && householdId is not null && method == "POST" && route == "/api/households")
        {
            Assert.Null(Host.App.Services.GetRequiredService<DeviceRegistry>().FindHousehold(householdId));
        }
        Host.AssertNoLoggedErrors();
    }

    // ---- Hubs ----

    /// <summary>Who may open each hub; the others are refused at negotiation with this status.</summary>
    private static int Connect(string hub, string caller) => (hub, caller) switch
    {
        (_, Caller.Anonymous or Caller.Expired or Caller.ForeignKey) => Unauthorized,
        ("/hubs/cockpit", Caller.Admin or Caller.Operator or Caller.Engineer) => Ok,
        ("/hubs/worker", Caller.Worker or Caller.OtherWorker or Caller.Leader) => Ok,
        _ => Forbidden,
    };

    /// <summary>Each hub method's answer to a caller who may open the hub, on an alert of c1/g1 raised for the case.</summary>
    private static readonly Dictionary<string, Func<HubConnection, string, HubSituation, Task>> s_hubMethods = new(StringComparer.Ordinal)
    {
        ["CockpitHub.Watch"] = async (hub, _, _) =>
        {
            var tiles = await hub.InvokeAsync<JsonElement>("Watch", "c1").WaitAsync(Scenario.Timeout);
            Assert.Equal("c1", tiles.GetProperty("community").GetString());
        },
        ["CockpitHub.AlertsSince"] = async (hub, _, situation) =>
        {
            // The control room sees every grid and community.
            var changed = await hub.InvokeAsync<JsonElement[]>("AlertsSince", situation.Before).WaitAsync(Scenario.Timeout);
            Assert.Equal([situation.InG1.Id, situation.InG2.Id, situation.InC2.Id], changed.Select(a => a.GetProperty("id").GetString()));
        },
        ["WorkerHub.AlertsSince"] = async (hub, caller, situation) =>
        {
            var changed = await hub.InvokeAsync<JsonElement[]>("AlertsSince", situation.Before).WaitAsync(Scenario.Timeout);
            Assert.Equal(caller == Caller.OtherWorker ? [situation.InG2.Id] : [situation.InG1.Id], changed.Select(a => a.GetProperty("id").GetString()));
        },
        ["WorkerHub.Acknowledge"] = (hub, caller, situation) => ActsOnG1(hub, caller, situation, "Acknowledge", "acknowledged"),
        ["WorkerHub.OnTheWay"] = (hub, caller, situation) => ActsOnG1(hub, caller, situation, "OnTheWay", "on_the_way"),
        ["WorkerHub.Resolve"] = (hub, caller, situation) => ActsOnG1(hub, caller, situation, "Resolve", "resolved", $"checked by {caller}"),
    };

    /// <summary>Alerts raised for a hub case: one of c1/g1, one of c1/g2, one of c2; <see cref="Before"/> the sequence before them.</summary>
    private sealed record HubSituation(long Before, Alert InG1, Alert InG2, Alert InC2, SensingTestHost Host)
    {
        public AlertBook Book => Host.App.Services.GetRequiredService<AlertBook>();
    }

    /// <summary>A fresh alert of g1 each time: the worker of g1 and its leader may act on it, the worker of g2 is refused.</summary>
    private static async Task ActsOnG1(HubConnection hub, string caller, HubSituation situation, string method, string status, string? note = null)
    {
        var book = situation.Book;
        var alert = await Scenario.RaiseAsync(situation.Host, "c1", "g1");
        object?[] args = note is null ? [alert.Id] : [alert.Id, note];
        if (caller == Caller.OtherWorker)
        {
            var refused = await Assert.ThrowsAsync<HubException>(() => hub.InvokeCoreAsync<JsonElement>(method, args).WaitAsync(Scenario.Timeout));
            Assert.Contains("not in your grids", refused.Message, StringComparison.Ordinal);
            Assert.Equal(AlertStatus.Open, book.Find(alert.Id)!.Status);
            return;
        }
        var answer = await hub.InvokeCoreAsync<JsonElement>(method, args).WaitAsync(Scenario.Timeout);
        Assert.Equal(status, answer.GetProperty("status").GetString());
        Assert.Equal(caller, answer.GetProperty("updated_by").GetString());
    }

    public static TheoryData<string, string> HubCases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var hub in new[] { "/hubs/cockpit", "/hubs/worker" })
        {
            foreach (var caller in Caller.All) cases.Add(hub, caller);
        }
        return cases;
    }

    [Fact]
    public void Every_hub_method_has_a_row_and_every_hub_is_in_the_matrix()
    {
        var methods = new[] { typeof(CockpitHub), typeof(WorkerHub) }
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Where(m => !m.IsSpecialName && m.Name is not (nameof(Hub.OnConnectedAsync) or nameof(Hub.OnDisconnectedAsync)))
                .Select(m => $"{t.Name}.{m.Name}"))
            .ToList();
        var missing = methods.Except(s_hubMethods.Keys).ToList();
        var stale = s_hubMethods.Keys.Except(methods).ToList();
        Assert.True(missing.Count == 0, "Hub methods without a row in the role matrix:\n" + string.Join("\n", missing));
        Assert.True(stale.Count == 0, "Rows without a hub method:\n" + string.Join("\n", stale));

        var hubs = Host.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HubMetadata>() is not null)
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
            .Where(p => !p.EndsWith("/negotiate", StringComparison.Ordinal))
            .Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(["/hubs/cockpit", "/hubs/worker"], hubs);
    }

    [Theory]
    [MemberData(nameof(HubCases))]
    public async Task Hub_connects_and_answers_each_caller_as_the_matrix_says(string path, string caller)
    {
        await using var hub = await fixture.HubAsync(path, caller);
        var expected = Connect(path, caller);
        if (expected != Ok)
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => hub.StartAsync().WaitAsync(Scenario.Timeout));
            Assert.Equal((HttpStatusCode)expected, refused.StatusCode);
            Assert.Equal(HubConnectionState.Disconnected, hub.State);
            Host.AssertNoLoggedErrors();
            return;
        }

        await hub.StartAsync().WaitAsync(Scenario.Timeout);
        var prefix = path == "/hubs/cockpit" ? nameof(CockpitHub) : nameof(WorkerHub);
        foreach (var (name, check) in s_hubMethods.Where(m => m.Key.StartsWith(prefix + ".", StringComparison.Ordinal)))
        {
            // Raised one after another with nothing else in between on this host (cases run one at a time), so
            // AlertsSince(Before) is exactly these three.
            var book = Host.App.Services.GetRequiredService<AlertBook>();
            var before = book.Sequence;
            var situation = new HubSituation(before, await Scenario.RaiseAsync(Host, "c1", "g1"), await Scenario.RaiseAsync(Host, "c1", "g2"),
                await Scenario.RaiseAsync(Host, "c2", "g1"), Host);
            try
            {
                await check(hub, caller, situation);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{name} as {caller}: {ex}");
            }
        }
        Assert.Equal(HubConnectionState.Connected, hub.State);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task A_hub_connection_closes_when_its_token_expires()
    {
        // Signed with the real key, valid for a few seconds: the connection opens, then the hub closes it at expiry
        // (without this a phone kept receiving pushes long after its sign-in ran out).
        var token = Caller.Forge(SensingTestHost.SigningKey, DateTime.UtcNow + TimeSpan.FromSeconds(4), Roles.Worker, "worker-short");
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(Host.BaseAddress, "/hubs/worker"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        hub.Closed += error => { closed.TrySetResult(error); return Task.CompletedTask; };
        await hub.StartAsync().WaitAsync(Scenario.Timeout);
        var opened = DateTime.UtcNow;

        await closed.Task.WaitAsync(Scenario.Timeout);
        Assert.Equal(HubConnectionState.Disconnected, hub.State);
        Assert.True(DateTime.UtcNow - opened < TimeSpan.FromSeconds(15), $"closed {DateTime.UtcNow - opened} after opening");
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Away_for_an_unknown_household_is_404()
    {
        using var http = await fixture.HttpAsync(Caller.Operator);
        var (status, _) = await Scenario.SendAsync(http, HttpMethod.Post, $"/api/households/{Scenario.NewId("h")}/away", new { });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Away_keeps_the_given_event_time_span()
    {
        var household = Scenario.NewId("h");
        using (var admin = await fixture.HttpAsync(Caller.Admin)) await Scenario.RegisterHouseholdAsync(admin, household, "c1", "g1");
        var from = new DateTimeOffset(2026, 11, 20, 8, 0, 0, TimeSpan.FromHours(8));
        var until = from + TimeSpan.FromDays(3);

        using var http = await fixture.HttpAsync(Caller.Worker);
        var (status, json) = await Scenario.SendAsync(http, HttpMethod.Post, $"/api/households/{household}/away", new { from, until });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(from, json!.Value.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(until, json.Value.GetProperty("until").GetDateTimeOffset());
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Admin_validation_rejects_an_incomplete_device()
    {
        using var admin = await fixture.HttpAsync(Caller.Admin);
        var (status, json) = await Scenario.SendAsync(admin, HttpMethod.Post, "/api/devices", new { id = Scenario.NewId("x"), kind = "toaster" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = json!.Value.GetProperty("errors");
        Assert.True(errors.TryGetProperty("kind", out _));
        Assert.True(errors.TryGetProperty("community", out _));
        Host.AssertNoLoggedErrors();
    }
}
