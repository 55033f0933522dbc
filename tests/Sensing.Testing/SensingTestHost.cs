using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Cockpit;
using Sensing.Cockpit.Access;

namespace Sensing.Testing;

/// <summary>
/// A real Sensing host, started in-process on free loopback ports (HTTP and the embedded MQTT broker) with
/// its own data folder, demo off, and known users. Fails loudly when the host logs an error, so a broken
/// background stage cannot hide behind a passing assertion.
/// </summary>
public sealed class SensingTestHost : IAsyncDisposable
{
    public const string SigningKey = "sensing-tests-signing-key-0123456789abcdef";
    public const string Password = "test-password";

    /// <summary>Users every test host knows: one per role, and two grid workers of different grids of c1.</summary>
    public static readonly (string User, string Role, string? Community, string[] Grids)[] Users =
    [
        ("admin", Roles.Admin, null, []),
        ("operator", Roles.Operator, null, []),
        ("engineer", Roles.Engineer, null, []),
        ("worker1", Roles.Worker, "c1", ["g1"]),
        ("worker2", Roles.Worker, "c1", ["g2"]),
    ];

    private readonly ErrorLog _errors = new();
    private readonly bool _ownsDataDirectory;

    private SensingTestHost(WebApplication app, string dataDirectory, bool ownsDataDirectory, int httpPort, int mqttPort)
    {
        App = app;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        HttpPort = httpPort;
        MqttPort = mqttPort;
        BaseAddress = new Uri($"http://127.0.0.1:{httpPort}");
    }

    public WebApplication App { get; }
    public string DataDirectory { get; }
    public int HttpPort { get; }
    public int MqttPort { get; }
    public Uri BaseAddress { get; }
    public IReadOnlyList<string> LoggedErrors => _errors.Errors;

    /// <summary>A fresh temporary data folder; the caller deletes it (see <see cref="StartAsync"/>'s <c>dataDirectory</c>).</summary>
    public static string NewDataDirectory()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "sensing-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dataDirectory);
        return dataDirectory;
    }

    /// <summary>
    /// Starts a host. Without <paramref name="dataDirectory"/> it gets a fresh data folder that is deleted with it;
    /// with one (e.g. a folder an earlier, stopped host used) it opens that folder's store and registry and leaves
    /// the folder in place, so a test can restart the service on the same data. With <paramref name="waitUntilHealthy"/>
    /// false it returns once the host has started, for tests of a host that cannot become healthy (a refused broker).
    /// <paramref name="services"/> registers services before the host's own (which add theirs only where none is
    /// registered yet), e.g. a fake clock for the alert book under <c>AlertBook.ClockKey</c>.
    /// </summary>
    public static async Task<SensingTestHost> StartAsync(IDictionary<string, string?>? settings = null, bool failOnLoggedErrors = true, string? dataDirectory = null, bool waitUntilHealthy = true,
        Action<IServiceCollection>? services = null)
    {
        var ownsDataDirectory = dataDirectory is null;
        dataDirectory ??= NewDataDirectory();
        Directory.CreateDirectory(dataDirectory);
        var httpPort = FreePort();
        var mqttPort = FreePort();
        var args = new List<string>
        {
            $"--urls=http://127.0.0.1:{httpPort}",
            "--Demo:Enabled=false",
            // Tests publish to the embedded broker as anonymous devices; outside the demo that must be allowed explicitly.
            "--Broker:AllowAnonymous=true",
            $"--Mqtt:Port={mqttPort}",
            $"--Store:Path={Path.Combine(dataDirectory, "sensing.duckdb")}",
            $"--Registry:Path={Path.Combine(dataDirectory, "registry.json")}",
            // Each host its own welfare models: the default (data/models under the working directory) is shared by every
            // host of a test run, and one test's model, trained on another test's households, raised false alarms in the next.
            $"--Analytics:ModelDirectory={Path.Combine(dataDirectory, "models")}",
            $"--Auth:SigningKey={SigningKey}",
            "--Auth:SignInPermitsPerMinute=1000",
        };
        for (var i = 0; i < Users.Length; i++)
        {
            var (user, role, community, grids) = Users[i];
            args.Add($"--Auth:Users:{i}:Username={user}");
            args.Add($"--Auth:Users:{i}:PasswordHash={Sensing.Telemetry.PasswordHash.Create(Password)}");
            args.Add($"--Auth:Users:{i}:Role={role}");
            if (community is not null) args.Add($"--Auth:Users:{i}:Community={community}");
            for (var g = 0; g < grids.Length; g++) args.Add($"--Auth:Users:{i}:Grids:{g}={grids[g]}");
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            args.Add($"--{key}={value}");
        }

        SensingTestHost? host = null;
        var app = CockpitHost.Build([.. args], builder =>
        {
            services?.Invoke(builder.Services);
            builder.Logging.ClearProviders();
            // SENSING_TEST_LOGS=1 shows the host's own log on the console while a test runs.
            if (Environment.GetEnvironmentVariable("SENSING_TEST_LOGS") == "1")
            {
                builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
                builder.Logging.SetMinimumLevel(LogLevel.Information);
            }
            else
            {
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
            }
        });
        host = new SensingTestHost(app, dataDirectory, ownsDataDirectory, httpPort, mqttPort);
        if (failOnLoggedErrors)
        {
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(host._errors);
        }
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (waitUntilHealthy)
        {
            await host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(60));
        }
        return host;
    }

    public HttpClient Http(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async Task<string> TokenAsync(string user, string password = Password)
    {
        using var http = Http();
        var response = await http.PostAsJsonAsync("/api/auth/token", new { username = user, password });
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    public async Task<HubConnection> ConnectHubAsync(string path, string token)
    {
        var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(BaseAddress, path), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .AddJsonProtocol(o => CockpitHost.ConfigureJson(o.PayloadSerializerOptions))
            .Build();
        await hub.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return hub;
    }

    public async Task<IMqttClient> ConnectDeviceAsync(string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", MqttPort).WithClientId(clientId).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build();
        await client.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(30));
        return client;
    }

    public static Task PublishAsync(IMqttClient client, string topic, string payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after the timeout.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } result) return result;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0}s waiting for {what}");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// One sample of <c>/metrics</c>, read as Prometheus does: <paramref name="sample"/> is the name with its labels as the
    /// service writes them (<c>sensing_spool_batches_total</c>, <c>sensing_duckdb_batches_total{duplicate_check="no"}</c>).
    /// </summary>
    public async Task<double> MetricAsync(string sample)
    {
        using var http = Http();
        foreach (var line in (await http.GetStringAsync("/metrics")).Split('\n'))
        {
            if (line.StartsWith(sample + " ", StringComparison.Ordinal)) return double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"/metrics has no {sample}");
    }

    /// <summary>GET /healthz whatever its status code (503 while broker or ingest are not ready), as JSON.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> HealthAsync()
    {
        using var http = Http();
        var response = await http.GetAsync("/healthz");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json.RootElement.Clone());
    }

    public async Task WaitUntilHealthyAsync(TimeSpan timeout)
    {
        using var http = Http();
        await EventuallyAsync(async () =>
        {
            try
            {
                var response = await http.GetAsync("/healthz");
                return response.StatusCode == HttpStatusCode.OK ? response : null;
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }, timeout, "/healthz to answer 200");
    }

    /// <summary>Throws if the host logged any error: background failures must fail the test that caused them.</summary>
    public void AssertNoLoggedErrors()
    {
        if (_errors.Errors.Count > 0)
        {
            throw new Xunit.Sdk.XunitException("The host logged errors:\n" + string.Join("\n", _errors.Errors));
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await App.DisposeAsync();
            if (_ownsDataDirectory)
            {
                try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
            }
        }
    }

    /// <summary>
    /// A port free on 127.0.0.1 now, below the kernel's ephemeral range and never handed out before in this process. A
    /// port the OS picks (bind to 0) comes from the ephemeral range, which every outgoing connection of the test run
    /// draws its local port from too: between this check and the server's own bind one took it, and a host failed to
    /// start with "address already in use" (CI, 2026-11-25).
    /// </summary>
    public static int FreePort()
    {
        var (low, high) = s_freePorts.Value;
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(low, high);
            if (!s_handedOut.TryAdd(port, 0)) continue;
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use by something else: try another.
            }
        }
        using var any = new TcpListener(IPAddress.Loopback, 0);
        any.Start();
        return ((IPEndPoint)any.LocalEndpoint).Port;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> s_handedOut = new();

    // 12,000 ports below the ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range, 32768 by default).
    private static readonly Lazy<(int Low, int High)> s_freePorts = new(() =>
    {
        var first = 32_768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (range.Length > 0 && int.TryParse(range[0], out var parsed) && parsed > 13_024) first = parsed;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return (first - 12_000, first);
    });

    /// <summary>Collects every log entry at Error or above.</summary>
    private sealed class ErrorLog : ILoggerProvider
    {
        private readonly List<string> _errors = [];
        public IReadOnlyList<string> Errors { get { lock (_errors) return [.. _errors]; } }
        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void Dispose() { }

        private sealed class Logger(ErrorLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel < LogLevel.Error) return;
                lock (log._errors) log._errors.Add($"{category}: {formatter(state, exception)} {exception}");
            }
        }
    }
}
