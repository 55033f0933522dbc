using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sensing.Cockpit.Alerts;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// A host with a grid leader besides the test host's users: <c>leader9</c> leads grid g1 of c1 (and works none).
/// </summary>
public sealed class PrivacyFixture : IAsyncLifetime
{
    public const string Leader = "leader9";

    public SensingTestHost Host { get; private set; } = null!;

    public static Dictionary<string, string?> LeaderSettings() => new()
    {
        // A high index: the test host's own users take the first ones.
        ["Auth:Users:20:Username"] = Leader,
        ["Auth:Users:20:PasswordHash"] = PasswordHash.Create(SensingTestHost.Password),
        ["Auth:Users:20:Role"] = "worker",
        ["Auth:Users:20:Community"] = "c1",
        ["Auth:Users:20:Leads:0"] = "g1",
    };

    public async Task InitializeAsync() => Host = await SensingTestHost.StartAsync(LeaderSettings());

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    /// <summary>A client signed in as <paramref name="user"/> (a token per user, signed in once), or anonymous for null.</summary>
    public async Task<HttpClient> HttpAsync(string? user)
    {
        if (user is null) return Host.Http();
        if (!_tokens.TryGetValue(user, out var token)) _tokens[user] = token = await Host.TokenAsync(user).WaitAsync(Scenario.Timeout);
        return Host.Http(token);
    }
}

/// <summary>
/// Residents' contacts, and an admin's export and erasure of one household (issue 9), against a real host on a real
/// DuckDB file. Households are in c1/g1: <c>worker1</c> works that grid, <see cref="PrivacyFixture.Leader"/> leads it,
/// <c>worker2</c> works another grid.
/// </summary>
public sealed class HouseholdPrivacyTests(PrivacyFixture fixture) : IClassFixture<PrivacyFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private const string Name = "张桂兰";
    private const string Phone = "13812345678";

    private SensingTestHost Host => fixture.Host;

    /// <summary>Rows for the endpoint × role matrix (RoleMatrixTests): null user = anonymous.</summary>
    [Theory]
    [InlineData("GET", "/api/households/{household}/contact", "admin", 200)]
    [InlineData("GET", "/api/households/{household}/contact", "operator", 200)]
    [InlineData("GET", "/api/households/{household}/contact", "engineer", 403)]
    [InlineData("GET", "/api/households/{household}/contact", "worker1", 200)]
    [InlineData("GET", "/api/households/{household}/contact", "worker2", 403)]
    [InlineData("GET", "/api/households/{household}/contact", PrivacyFixture.Leader, 200)]
    [InlineData("GET", "/api/households/{household}/contact", null, 401)]
    [InlineData("PUT", "/api/households/{household}/contact", "admin", 200)]
    [InlineData("PUT", "/api/households/{household}/contact", "operator", 403)]
    [InlineData("PUT", "/api/households/{household}/contact", "engineer", 403)]
    [InlineData("PUT", "/api/households/{household}/contact", "worker1", 403)]
    [InlineData("PUT", "/api/households/{household}/contact", "worker2", 403)]
    [InlineData("PUT", "/api/households/{household}/contact", PrivacyFixture.Leader, 403)]
    [InlineData("PUT", "/api/households/{household}/contact", null, 401)]
    [InlineData("GET", "/api/households/{household}/export", "admin", 200)]
    [InlineData("GET", "/api/households/{household}/export", "operator", 403)]
    [InlineData("GET", "/api/households/{household}/export", "engineer", 403)]
    [InlineData("GET", "/api/households/{household}/export", "worker1", 403)]
    [InlineData("GET", "/api/households/{household}/export", "worker2", 403)]
    [InlineData("GET", "/api/households/{household}/export", PrivacyFixture.Leader, 403)]
    [InlineData("GET", "/api/households/{household}/export", null, 401)]
    [InlineData("DELETE", "/api/households/{household}", "admin", 200)]
    [InlineData("DELETE", "/api/households/{household}", "operator", 403)]
    [InlineData("DELETE", "/api/households/{household}", "engineer", 403)]
    [InlineData("DELETE", "/api/households/{household}", "worker1", 403)]
    [InlineData("DELETE", "/api/households/{household}", "worker2", 403)]
    [InlineData("DELETE", "/api/households/{household}", PrivacyFixture.Leader, 403)]
    [InlineData("DELETE", "/api/households/{household}", null, 401)]
    public async Task Household_privacy_endpoint_answers_the_caller_as_the_roles_say(string method, string template, string? user, int expected)
    {
        var household = await NewHouseholdWithContactAsync();
        var path = template.Replace("{household}", household, StringComparison.Ordinal);
        object? body = method == "PUT" ? new { residents = new[] { "王芳" }, phone = "13900001111" } : null;

        using var http = await fixture.HttpAsync(user);
        var (status, json) = await Scenario.SendAsync(http, new HttpMethod(method), path, body);
        Assert.True((int)status == expected, $"{method} {path} as {user ?? "anonymous"}: expected {expected}, got {(int)status} {json}");

        using var admin = await fixture.HttpAsync("admin");
        if (expected == 200 && method == "GET" && template.EndsWith("/contact", StringComparison.Ordinal))
        {
            var seen = json!.Value;
            var masked = user == "operator";
            Assert.Equal(masked, seen.GetProperty("masked").GetBoolean());
            Assert.Equal(masked ? "张**" : Name, seen.GetProperty("residents")[0].GetString());
            Assert.Equal(masked ? "138****5678" : Phone, seen.GetProperty("phone").GetString());
        }
        else if (expected == 200 && method == "DELETE")
        {
            Assert.Equal(household, json!.Value.GetProperty("household").GetString());
        }
        else if (expected == 200 && method == "GET")
        {
            Assert.Equal(household, json!.Value.GetProperty("household").GetProperty("id").GetString());
        }
        else
        {
            // A refused change leaves the household and its contact as they were; the admin's PUT replaced it.
            var contact = await Scenario.GetJsonAsync(admin, $"/api/households/{household}/contact");
            Assert.Equal(method == "PUT" && expected == 200 ? "王芳" : Name, contact.GetProperty("residents")[0].GetString());
            var (_, households) = await Scenario.SendAsync(admin, HttpMethod.Get, $"/api/households/{household}/export");
            Assert.Equal(household, households!.Value.GetProperty("household").GetProperty("id").GetString());
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Reading_changing_exporting_and_erasing_a_household_are_in_the_audit_log_without_the_contact()
    {
        var household = await NewHouseholdWithContactAsync();
        using var worker = await fixture.HttpAsync("worker1");
        using var op = await fixture.HttpAsync("operator");
        using var admin = await fixture.HttpAsync("admin");
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(worker, HttpMethod.Get, $"/api/households/{household}/contact")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(op, HttpMethod.Get, $"/api/households/{household}/contact")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(admin, HttpMethod.Get, $"/api/households/{household}/export")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(admin, HttpMethod.Delete, $"/api/households/{household}")).Status);

        var entries = (await Scenario.GetJsonAsync(admin, "/api/audit?kind=privacy&limit=10000")).EnumerateArray()
            .Where(e => e.GetProperty("subject").GetString() == household)
            .Select(e => $"{e.GetProperty("action").GetString()} {e.GetProperty("user").GetString()} {(e.TryGetProperty("detail", out var d) ? d.GetString() : "")}")
            .ToList();
        Assert.Contains("contact_viewed worker1 full", entries);
        Assert.Contains("contact_viewed operator masked", entries);
        Assert.Contains(entries, e => e.StartsWith("contact_changed admin", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.StartsWith("household_exported admin", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.StartsWith("household_erased admin", StringComparison.Ordinal));
        var file = await Scenario.GetJsonAsync(admin, "/api/audit?limit=10000");
        Assert.DoesNotContain(Phone, file.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Name, file.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_contact_is_validated_and_needs_a_registered_household()
    {
        using var admin = await fixture.HttpAsync("admin");
        var household = await NewHouseholdWithContactAsync();
        var (status, json) = await Scenario.SendAsync(admin, HttpMethod.Put, $"/api/households/{household}/contact",
            new { residents = Array.Empty<string>(), phone = "call me", emergency_phone = "1;DROP" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = json!.Value.GetProperty("errors");
        Assert.True(errors.TryGetProperty("residents", out _), json.ToString());
        Assert.True(errors.TryGetProperty("phone", out _), json.ToString());
        Assert.True(errors.TryGetProperty("emergency_phone", out _), json.ToString());

        (status, _) = await Scenario.SendAsync(admin, HttpMethod.Put, $"/api/households/{Scenario.NewId("h")}/contact", new { residents = new[] { Name } });
        Assert.Equal(HttpStatusCode.NotFound, status);
        (status, _) = await Scenario.SendAsync(admin, HttpMethod.Get, $"/api/households/{Scenario.NewId("h")}/contact");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Contacts_appear_in_no_listing_of_households_devices_or_alerts()
    {
        var household = await NewHouseholdWithContactAsync();
        using var admin = await fixture.HttpAsync("admin");
        var device = Scenario.NewId("wm");
        await Scenario.RegisterDeviceAsync(admin, device, "meter", "c1", "g1", household);
        await RaiseForAsync(household, device);

        foreach (var user in new[] { "admin", "operator", "worker1" })
        {
            using var http = await fixture.HttpAsync(user);
            foreach (var path in new[] { "/api/devices?community=c1", "/api/alerts?community=c1", "/api/communities", "/api/tiles?community=c1" })
            {
                var response = await http.GetAsync(path).WaitAsync(Scenario.Timeout);
                var text = await response.Content.ReadAsStringAsync().WaitAsync(Scenario.Timeout);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                // Both raw and as JSON escapes: System.Text.Json writes 张 as \u5F20 by default.
                Assert.DoesNotContain(Name, text, StringComparison.Ordinal);
                Assert.DoesNotContain(JsonSerializer.Serialize(Name).Trim('"'), text, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("5678", text, StringComparison.Ordinal);
            }
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task The_export_holds_the_household_its_contact_devices_away_spells_alerts_letters_and_readings()
    {
        var (household, device, alert) = await HouseholdWithDataAsync();
        var (neighbour, neighbourDevice, _) = await HouseholdWithDataAsync();

        using var admin = await fixture.HttpAsync("admin");
        var response = await admin.GetAsync($"/api/households/{household}/export").WaitAsync(Scenario.Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(household, response.Content.Headers.ContentDisposition?.ToString() ?? "", StringComparison.Ordinal);
        var export = JsonDocument.Parse(await response.Content.ReadAsStringAsync().WaitAsync(Scenario.Timeout)).RootElement;

        Assert.Equal(household, export.GetProperty("household").GetProperty("id").GetString());
        Assert.True(export.GetProperty("household").GetProperty("elderly_living_alone").GetBoolean());
        Assert.Equal(Name, export.GetProperty("contact").GetProperty("residents")[0].GetString());
        Assert.Equal(Phone, export.GetProperty("contact").GetProperty("phone").GetString());
        Assert.Equal("李明", export.GetProperty("contact").GetProperty("emergency_name").GetString());
        Assert.Equal([device], export.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        Assert.Single(export.GetProperty("away").EnumerateArray());

        var exportedAlert = Assert.Single(export.GetProperty("alerts").EnumerateArray());
        Assert.Equal(alert, exportedAlert.GetProperty("id").GetString());
        Assert.Equal(["raised", "acknowledged"], exportedAlert.GetProperty("actions").EnumerateArray().Select(a => a.GetProperty("action").GetString()));

        var letter = Assert.Single(export.GetProperty("dead_letters").EnumerateArray());
        Assert.Equal($"sensing/c1/meter/{device}", letter.GetProperty("topic").GetString());

        var readings = export.GetProperty("readings").EnumerateArray().ToList();
        Assert.Equal(25, readings.Count); // 24 hourly registers of its meter and one gate pass with its credential
        Assert.Equal(24, readings.Count(r => r.GetProperty("device").GetString() == device));
        Assert.Single(readings, r => r.GetProperty("metric").GetString() == Metrics.GatePass && r.GetProperty("household").GetString() == household);
        Assert.DoesNotContain(readings, r => r.GetProperty("device").GetString() == neighbourDevice || r.GetProperty("household").GetString() == neighbour);
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public async Task Erasure_removes_the_household_from_store_alerts_and_registry_keeps_the_neighbours_and_survives_a_restart()
    {
        var dataDirectory = SensingTestHost.NewDataDirectory();
        try
        {
            string household, device, alert, neighbour, neighbourDevice;
            await using (var host = await SensingTestHost.StartAsync(PrivacyFixture.LeaderSettings(), dataDirectory: dataDirectory))
            {
                (household, device, alert) = await HouseholdWithDataAsync(host);
                (neighbour, neighbourDevice, _) = await HouseholdWithDataAsync(host);
                using var admin = host.Http(await host.TokenAsync("admin"));

                var (status, report) = await Scenario.SendAsync(admin, HttpMethod.Delete, $"/api/households/{household}");
                Assert.Equal(HttpStatusCode.OK, status);
                var r = report!.Value;
                Assert.True(r.GetProperty("registered").GetBoolean());
                Assert.True(r.GetProperty("contact").GetBoolean());
                Assert.Equal(1, r.GetProperty("away_spells").GetInt32());
                Assert.Equal(1, r.GetProperty("devices_unassigned").GetInt32());
                Assert.Equal(25, r.GetProperty("readings").GetInt64());
                Assert.Equal(1, r.GetProperty("dead_letters").GetInt64());
                Assert.Equal(1, r.GetProperty("alerts").GetInt64());

                await AssertErasedAsync(host, household, device, alert, neighbour, neighbourDevice);
                host.AssertNoLoggedErrors();
            }

            // After a restart (registry file and DuckDB file read back), the household is still gone, the neighbour whole.
            await using (var host = await SensingTestHost.StartAsync(PrivacyFixture.LeaderSettings(), dataDirectory: dataDirectory))
            {
                await AssertErasedAsync(host, household, device, alert, neighbour, neighbourDevice);
                host.AssertNoLoggedErrors();
            }
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task AssertErasedAsync(SensingTestHost host, string household, string device, string alert, string neighbour, string neighbourDevice)
    {
        using var admin = host.Http(await host.TokenAsync("admin"));
        Assert.Equal(HttpStatusCode.NotFound, (await Scenario.SendAsync(admin, HttpMethod.Get, $"/api/households/{household}/contact")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Scenario.SendAsync(admin, HttpMethod.Get, $"/api/households/{household}/export")).Status);
        var alerts = await Scenario.GetJsonAsync(admin, "/api/alerts?community=c1");
        Assert.DoesNotContain(alert, Scenario.Ids(alerts));
        Assert.Equal(HttpStatusCode.NotFound, (await Scenario.SendAsync(admin, HttpMethod.Get, $"/api/alerts/{alert}/actions")).Status);

        // The meter stays, unassigned from the household, and has no readings left.
        var devices = await Scenario.GetJsonAsync(admin, "/api/devices?community=c1");
        var meter = Assert.Single(devices.EnumerateArray(), d => d.GetProperty("id").GetString() == device);
        Assert.Equal(JsonValueKind.Null, meter.GetProperty("household").ValueKind);
        var raw = await Scenario.GetJsonAsync(admin, $"/api/readings?device={device}&metric={Metrics.WaterTotal}&from={Scenario.Iso(T0.AddDays(-1))}&to={Scenario.Iso(T0.AddDays(2))}");
        Assert.Empty(raw.EnumerateArray());
        var store = host.App.Services.GetRequiredService<IHouseholdDataStore>();
        Assert.Empty(await store.HouseholdReadingsAsync(new HouseholdScope(household, [device]), CancellationToken.None).ToListAsync().AsTask().WaitAsync(Scenario.Timeout));
        Assert.Empty(await store.HouseholdDeadLettersAsync(new HouseholdScope(household, [device]), CancellationToken.None).ToListAsync().AsTask().WaitAsync(Scenario.Timeout));

        // The neighbour: contact, readings, alert and letter all still there.
        var export = await Scenario.GetJsonAsync(admin, $"/api/households/{neighbour}/export");
        Assert.Equal(Name, export.GetProperty("contact").GetProperty("residents")[0].GetString());
        Assert.Equal(25, export.GetProperty("readings").GetArrayLength());
        Assert.Single(export.GetProperty("alerts").EnumerateArray());
        Assert.Single(export.GetProperty("dead_letters").EnumerateArray());
        Assert.Contains(devices.EnumerateArray(), d => d.GetProperty("id").GetString() == neighbourDevice && d.GetProperty("household").GetString() == neighbour);
    }

    private Task<string> NewHouseholdWithContactAsync() => NewHouseholdWithContactAsync(Host);

    private static async Task<string> NewHouseholdWithContactAsync(SensingTestHost host)
    {
        var household = Scenario.NewId("h");
        using var admin = host.Http(await host.TokenAsync("admin"));
        await Scenario.RegisterHouseholdAsync(admin, household, "c1", "g1");
        var response = await admin.PutAsJsonAsync($"/api/households/{household}/contact",
            new { residents = new[] { Name }, phone = Phone, emergency_name = "李明", emergency_phone = "13900001111" }).WaitAsync(Scenario.Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return household;
    }

    private Task<(string Household, string Device, string Alert)> HouseholdWithDataAsync() => HouseholdWithDataAsync(Host);

    /// <summary>
    /// A household with its contact, a meter with a day of hourly registers, a gate pass with its credential, an away
    /// spell, a dead letter of its meter and an alert acknowledged by its grid's worker.
    /// </summary>
    private static async Task<(string Household, string Device, string Alert)> HouseholdWithDataAsync(SensingTestHost host)
    {
        var household = await NewHouseholdWithContactAsync(host);
        var device = Scenario.NewId("wm");
        using var admin = host.Http(await host.TokenAsync("admin"));
        await Scenario.RegisterDeviceAsync(admin, device, "meter", "c1", "g1", household);
        var away = await admin.PostAsJsonAsync($"/api/households/{household}/away", new { from = T0.AddDays(3), until = T0.AddDays(4) }).WaitAsync(Scenario.Timeout);
        Assert.Equal(HttpStatusCode.OK, away.StatusCode);

        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var readings = Enumerable.Range(0, 24).Select(h => new Reading(device, "c1", "g1", household, Metrics.WaterTotal, T0.AddHours(h), 100 + h * 0.01)).ToList();
        readings.Add(new Reading("gate-shared", "c1", "g1", household, Metrics.GatePass, T0.AddMinutes(30).AddTicks(Random.Shared.Next(1, 1_000_000) * 10L), 1, "in"));
        await store.WriteAsync(readings, CancellationToken.None).WaitAsync(Scenario.Timeout);
        await store.WriteDeadLettersAsync([new DeadLetter($"sensing/c1/meter/{device}", Encoding.UTF8.GetBytes("""{"type":"water","total":"lots"}"""), 31, T0, "meter: field 'total' must be a number", "native")],
            CancellationToken.None).WaitAsync(Scenario.Timeout);

        var alert = await RaiseForAsync(household, device, host);
        using var worker = host.Http(await host.TokenAsync("worker1"));
        var (status, _) = await Scenario.SendAsync(worker, HttpMethod.Post, $"/api/alerts/{alert}/ack");
        Assert.Equal(HttpStatusCode.OK, status);
        return (household, device, alert);
    }

    private Task<string> RaiseForAsync(string household, string device) => RaiseForAsync(household, device, Host);

    private static async Task<string> RaiseForAsync(string household, string device, SensingTestHost host)
    {
        var raised = host.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var alert = new Alert
        {
            Id = Alert.MakeId(AlertKinds.LivingAloneDrop, household, raised.AddHours(-6)),
            Kind = AlertKinds.LivingAloneDrop,
            Severity = AlertSeverity.Critical,
            Community = "c1",
            Grid = "g1",
            Household = household,
            Device = device,
            StartedAt = raised.AddHours(-6),
            RaisedAt = raised,
            Evidence = new AlertEvidence("no water for 6 hours", [new EvidencePoint(raised.AddHours(-6), Metrics.WaterConsumption, 0.05, 0)]),
        };
        IAlertSink sink = host.App.Services.GetRequiredService<AlertBook>();
        await sink.RaiseAsync(alert, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
        return alert.Id;
    }
}
