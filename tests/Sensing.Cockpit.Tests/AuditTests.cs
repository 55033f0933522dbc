using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sensing.Cockpit.Audit;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// The audit log: every sign-in attempt (success, wrong password, unknown user, refused request, rate-limited), every
/// alert action and registry change, on file under the data folder, read by admins at <c>GET /api/audit</c>, and kept
/// across a restart.
/// </summary>
public sealed class AuditTests
{
    private const string WrongPassword = "wrong-password-7391";

    [Fact]
    public async Task Sign_ins_alert_actions_and_registry_changes_are_recorded_for_admins_and_survive_a_restart()
    {
        var folder = SensingTestHost.NewDataDirectory();
        try
        {
            var started = DateTimeOffset.UtcNow;
            string alertId, household;
            int entriesBefore;
            await using (var host = await SensingTestHost.StartAsync(new Dictionary<string, string?> { ["Auth:SignInPermitsPerMinute"] = "5" }, dataDirectory: folder,
                // The test host logs warnings and up; the audit's information events are wanted here.
                services: s => s.Configure<LoggerFilterOptions>(o => o.Rules.Add(new LoggerFilterRule(null, typeof(AuditLog).FullName, LogLevel.Information, null)))))
            {
                var events = new AuditEvents();
                host.App.Services.GetRequiredService<ILoggerFactory>().AddProvider(events);
                using var anonymous = host.Http();

                // Five attempts allowed a minute from this address, the sixth refused.
                var admin = await host.TokenAsync("admin");
                var operatorToken = await host.TokenAsync("operator");
                Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/auth/token", new { username = "worker1", password = WrongPassword })).StatusCode);
                Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/auth/token", new { username = "nobody", password = WrongPassword })).StatusCode);
                Assert.Equal(HttpStatusCode.BadRequest, (await anonymous.PostAsJsonAsync("/api/auth/token", new { username = "worker2" })).StatusCode);
                Assert.Equal((HttpStatusCode)429, (await anonymous.PostAsJsonAsync("/api/auth/token", new { username = "mallory", password = WrongPassword })).StatusCode);

                // An alert action and a registry change.
                alertId = (await Scenario.RaiseAsync(host, "c1", "g1")).Id;
                using var operatorHttp = host.Http(operatorToken);
                Assert.Equal(HttpStatusCode.OK, (await Scenario.SendAsync(operatorHttp, HttpMethod.Post, $"/api/alerts/{alertId}/ack")).Status);
                using var adminHttp = host.Http(admin);
                household = Scenario.NewId("h");
                await Scenario.RegisterHouseholdAsync(adminHttp, household, "c1", "g1");

                var signIns = await Scenario.GetJsonAsync(adminHttp, "/api/audit?kind=sign_in");
                Assert.Equal(
                    [("mallory", "rate_limited"), ("worker2", "invalid_request"), ("nobody", "unknown_user"), ("worker1", "wrong_password"), ("operator", "success"), ("admin", "success")],
                    signIns.EnumerateArray().Select(e => (e.GetProperty("user").GetString(), e.GetProperty("outcome").GetString())));
                foreach (var entry in signIns.EnumerateArray())
                {
                    Assert.Equal("sign_in", entry.GetProperty("kind").GetString());
                    Assert.Equal("127.0.0.1", entry.GetProperty("remote").GetString());
                    var at = entry.GetProperty("at").GetDateTimeOffset();
                    Assert.InRange(at, started, DateTimeOffset.UtcNow);
                }
                Assert.Equal("operator", signIns[4].GetProperty("role").GetString());
                Assert.Equal("admin", signIns[5].GetProperty("role").GetString());

                var alertEntries = await Scenario.GetJsonAsync(adminHttp, "/api/audit?kind=alert");
                var acknowledged = Assert.Single(alertEntries.EnumerateArray(), e => e.GetProperty("subject").GetString() == alertId && e.GetProperty("action").GetString() == "acknowledged");
                Assert.Equal("operator", acknowledged.GetProperty("user").GetString());
                Assert.Equal("operator", acknowledged.GetProperty("role").GetString());
                var raised = Assert.Single(alertEntries.EnumerateArray(), e => e.GetProperty("subject").GetString() == alertId && e.GetProperty("action").GetString() == "raised");
                Assert.Equal("system", raised.GetProperty("user").GetString());

                var registry = Assert.Single((await Scenario.GetJsonAsync(adminHttp, "/api/audit?kind=registry")).EnumerateArray());
                Assert.Equal(("upsert_household", household, "admin", "127.0.0.1"),
                    (registry.GetProperty("action").GetString(), registry.GetProperty("subject").GetString(), registry.GetProperty("user").GetString(), registry.GetProperty("remote").GetString()));

                // All kinds together, newest first; limit and since.
                var all = await Scenario.GetJsonAsync(adminHttp, "/api/audit");
                entriesBefore = all.GetArrayLength();
                Assert.Equal(6 + 2 + 1, entriesBefore);
                Assert.Equal("upsert_household", all[0].GetProperty("action").GetString());
                var times = all.EnumerateArray().Select(e => e.GetProperty("at").GetDateTimeOffset()).ToList();
                Assert.Equal(times.OrderDescending(), times);
                Assert.Equal(2, (await Scenario.GetJsonAsync(adminHttp, "/api/audit?limit=2")).GetArrayLength());
                Assert.Empty((await Scenario.GetJsonAsync(adminHttp, $"/api/audit?since={Uri.EscapeDataString(Scenario.Iso(DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1)))}")).EnumerateArray());
                Assert.Equal(HttpStatusCode.BadRequest, (await Scenario.SendAsync(adminHttp, HttpMethod.Get, "/api/audit?kind=passwords")).Status);
                Assert.Equal(HttpStatusCode.BadRequest, (await Scenario.SendAsync(adminHttp, HttpMethod.Get, "/api/audit?limit=0")).Status);

                // Admins only.
                Assert.Equal(HttpStatusCode.Forbidden, (await Scenario.SendAsync(operatorHttp, HttpMethod.Get, "/api/audit")).Status);

                // Never a password, right or wrong, in the file or the log.
                var file = await File.ReadAllTextAsync(host.App.Services.GetRequiredService<AuditLog>().FilePath);
                Assert.DoesNotContain(WrongPassword, file, StringComparison.Ordinal);
                Assert.DoesNotContain(SensingTestHost.Password, file, StringComparison.Ordinal);
                Assert.StartsWith(Path.GetFullPath(folder), host.App.Services.GetRequiredService<AuditLog>().FilePath, StringComparison.Ordinal);

                // Structured log events, one per entry, with their fields.
                var logged = events.Entries;
                Assert.Contains(logged, e => e.Level == LogLevel.Warning && e.Fields["Kind"] as string == "sign_in" && e.Fields["Outcome"] as string == "wrong_password"
                    && e.Fields["User"] as string == "worker1" && e.Fields["Remote"] as string == "127.0.0.1");
                Assert.Contains(logged, e => e.Level == LogLevel.Warning && e.Fields["Outcome"] as string == "rate_limited" && e.Fields["User"] as string == "mallory");
                Assert.Contains(logged, e => e.Level == LogLevel.Information && e.Fields["Kind"] as string == "alert" && e.Fields["Action"] as string == "acknowledged" && e.Fields["Subject"] as string == alertId);
                Assert.DoesNotContain(logged, e => e.Message.Contains(WrongPassword, StringComparison.Ordinal) || e.Message.Contains(SensingTestHost.Password, StringComparison.Ordinal));
                host.AssertNoLoggedErrors();
            }

            await using (var again = await SensingTestHost.StartAsync(dataDirectory: folder))
            {
                using var adminHttp = again.Http(await again.TokenAsync("admin"));
                var all = await Scenario.GetJsonAsync(adminHttp, "/api/audit");
                // What the first run recorded, and this run's sign-in on top.
                Assert.Equal(entriesBefore + 1, all.GetArrayLength());
                Assert.Equal(("admin", "success"), (all[0].GetProperty("user").GetString(), all[0].GetProperty("outcome").GetString()));
                Assert.Contains(all.EnumerateArray(), e => e.GetProperty("subject").GetString() == alertId && e.GetProperty("action").GetString() == "acknowledged");
                Assert.Contains(all.EnumerateArray(), e => e.GetProperty("user").GetString() == "mallory");
                again.AssertNoLoggedErrors();
            }
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_line_cut_short_by_a_crash_is_skipped_and_the_next_entry_starts_a_line_of_its_own()
    {
        var folder = SensingTestHost.NewDataDirectory();
        try
        {
            var path = Path.Combine(folder, "audit.jsonl");
            await File.WriteAllTextAsync(path, """{"at":"2026-11-20T08:00:00+00:00","kind":"sign_in","action":"sign_in","outcome":"success","user":"before"}""" + "\n" + """{"at":"2026-11-20T08:01:00+00:00","kind":"sign_""");
            await using var host = await SensingTestHost.StartAsync(dataDirectory: folder);
            using var adminHttp = host.Http(await host.TokenAsync("admin"));

            var all = await Scenario.GetJsonAsync(adminHttp, "/api/audit?kind=sign_in");
            Assert.Equal(["admin", "before"], all.EnumerateArray().Select(e => e.GetProperty("user").GetString()));
            host.AssertNoLoggedErrors();
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The audit log's structured events, with their named fields.</summary>
    private sealed class AuditEvents : ILoggerProvider
    {
        private readonly List<(LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Fields)> _entries = [];

        public IReadOnlyList<(LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Fields)> Entries { get { lock (_entries) return [.. _entries]; } }

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName == typeof(AuditLog).FullName);

        public void Dispose() { }

        private sealed class Logger(AuditEvents owner, bool audit) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => audit;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!audit) return;
                var fields = (state as IEnumerable<KeyValuePair<string, object?>>)?.ToDictionary(p => p.Key, p => p.Value) ?? [];
                lock (owner._entries) owner._entries.Add((logLevel, formatter(state, exception), fields));
            }
        }
    }
}
