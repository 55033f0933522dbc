using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Ingest.Registry;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>
/// A real host whose alert book runs on a fake clock (deadlines, escalation, response times move only when a test
/// says so; ingest and tokens keep real time), with a grid leader: <c>leader1</c> leads g1 of c1 (g2 has no leader).
/// Deadlines are the defaults, but <c>gate_forced</c> warnings must be acknowledged within 5 minutes (an override).
/// </summary>
public sealed class LoopFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    /// <summary>The book's clock, starting at the real now so the book's seven-day window holds the tests' alerts.</summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public SensingTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var leader = SensingTestHost.Users.Length; // after the test host's own users
        Host = await SensingTestHost.StartAsync(
            new Dictionary<string, string?>
            {
                [$"Auth:Users:{leader}:Username"] = "leader1",
                [$"Auth:Users:{leader}:PasswordHash"] = PasswordHash.Create(SensingTestHost.Password),
                [$"Auth:Users:{leader}:Role"] = Roles.Worker,
                [$"Auth:Users:{leader}:Community"] = "c1",
                [$"Auth:Users:{leader}:Leads:0"] = "g1",
                ["Alerts:Deadlines:Kinds:gate_forced:Acknowledge:Warning"] = "00:05:00",
            },
            services: s => s.AddKeyedSingleton<TimeProvider>(AlertBook.ClockKey, Clock));
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
    }

    public async Task<string> TokenAsync(string user)
    {
        if (_tokens.TryGetValue(user, out var token)) return token;
        token = await Host.TokenAsync(user).WaitAsync(Scenario.Timeout);
        return _tokens[user] = token;
    }

    public async Task<HttpClient> HttpAsync(string user) => Host.Http(await TokenAsync(user));

    public AlertBook Book => Host.App.Services.GetRequiredService<AlertBook>();

    /// <summary>Raises an alert as analytics would, with the kind and severity a test needs.</summary>
    public async Task<Alert> RaiseAsync(string community, string? grid, AlertSeverity severity = AlertSeverity.Warning, string kind = AlertKinds.WaterLeak)
    {
        var device = Scenario.NewId("dev");
        var raised = DateTimeOffset.UtcNow;
        var started = raised - TimeSpan.FromMinutes(30);
        var alert = new Alert
        {
            Id = Alert.MakeId(kind, device, started),
            Kind = kind,
            Severity = severity,
            Community = community,
            Grid = grid,
            Device = device,
            StartedAt = started,
            RaisedAt = raised,
            Evidence = new AlertEvidence("test alert", [new EvidencePoint(started, "water.flow", 0.1, 2.5)]),
        };
        IAlertSink sink = Book;
        await sink.RaiseAsync(alert, CancellationToken.None).AsTask().WaitAsync(Scenario.Timeout);
        return Book.Find(alert.Id)!;
    }

    /// <summary>Makes a grid known to the registry, as the registry file would.</summary>
    public void AddGrid(string community, string grid) =>
        Host.App.Services.GetRequiredService<DeviceRegistry>().Upsert(new Grid(grid, community, grid));
}
