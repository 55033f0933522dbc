using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Cockpit;
using Sensing.Cockpit.Access;
using Sensing.Testing;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>signalr-load</c>: how long a pushed alert takes to reach a thousand connected people. Starts a cockpit (a child
/// process: this program's <c>cockpit-host</c> command, the service as <c>dotnet run --project cockpit</c> composes it, demo
/// off; with <c>--instances 2</c> two of them on a real redis-server backplane) or targets one with <c>--url</c>; signs in
/// real users (tokens from <c>POST /api/auth/token</c>); connects <c>--clients</c> SignalR clients over WebSockets: wall
/// screens on <c>/hubs/cockpit</c> watching the community and grid workers on <c>/hubs/worker</c>, spread over the grids;
/// registers one access gate per alert through the admin API; then, one every <c>--interval-ms</c>, publishes a door-forced
/// event over MQTT to the service's broker. The service does the rest as in production: ingest stores the reading,
/// analytics' gate detector raises <c>gate_forced</c>, the alert book persists it and pushes it to the community's walls
/// and the gate's grid's workers. Each client stamps the moment its <c>alert</c> arrives.
/// <code>
/// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- signalr-load --clients 1000 --alerts 20 [--grids 10] [--walls-percent 20]
///     [--interval-ms 500] [--instances 1|2] [--url http://host:5080 --mqtt host:1883 --admin u:p --operator u:p --worker u:p …]
/// </code>
/// Latency is from the MQTT publish (the device's report) to the client's receipt, on one clock (this process): it
/// includes ingest's batching, the store write and analytics, so it bounds raise → delivery from above. Every client
/// should receive every alert meant for it (walls: all; workers: their grids'); what does not arrive within
/// <c>--settle-seconds</c> after the last publish counts as missed.
/// </summary>
public static class SignalRLoadCommand
{
    private const string Community = "c1";
    private const string Password = "load-password";

    public static async Task<int> RunAsync(string[] args)
    {
        var clients = IntOption(args, "--clients", 1000);
        var alerts = IntOption(args, "--alerts", 20);
        var grids = Math.Max(1, IntOption(args, "--grids", 10));
        var wallsPercent = Math.Clamp(IntOption(args, "--walls-percent", 20), 0, 100);
        var interval = IntOption(args, "--interval-ms", 500);
        var instances = Math.Max(1, IntOption(args, "--instances", 1));
        var connectParallel = Math.Max(1, IntOption(args, "--connect-parallel", 50));
        var settle = TimeSpan.FromSeconds(IntOption(args, "--settle-seconds", 15));
        var url = StringOption(args, "--url");
        // Many connections at once: do not let the thread pool's slow ramp-up pose as server latency.
        ThreadPool.SetMinThreads(Math.Max(64, Environment.ProcessorCount * 16), Math.Max(64, Environment.ProcessorCount * 16));

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"signalr-load: {clients:N0} clients ({wallsPercent} % walls), {alerts} alerts every {interval} ms, {(url is null ? $"over {grids} grids, {instances} instance(s) started here" : $"over the workers' grids, at {url}")}; ulimit -n {OpenFileLimit()}; load average {LoadAverage()}"));

        var servers = new List<CockpitProcess>();
        RedisServer? redis = null;
        var folder = Directory.CreateTempSubdirectory("sensing-signalr-load-").FullName;
        var connections = new ConcurrentBag<HubConnection>();
        IMqttClient? device = null;
        try
        {
            // 1. The service: started here, or the one at --url.
            Uri[] addresses;
            (string Host, int Port) broker;
            (string User, string Password) admin, operatorUser;
            List<(string User, string Password)> workerUsers;
            if (url is null)
            {
                if (instances > 1) redis = await RedisServer.StartAsync();
                var users = LoadUsers(grids);
                for (var i = 0; i < instances; i++)
                {
                    servers.Add(CockpitProcess.Start(ServerArguments(Path.Combine(folder, $"instance-{i}"), users, redis)));
                }
                foreach (var server in servers) await server.WaitUntilHealthyAsync(TimeSpan.FromSeconds(120));
                addresses = [.. servers.Select(s => s.BaseAddress)];
                broker = ("127.0.0.1", servers[0].MqttPort);
                admin = ("admin", Password);
                operatorUser = ("operator", Password);
                workerUsers = [.. users.Where(u => u.Role == Roles.Worker).Select(u => (u.User, Password))];
            }
            else
            {
                addresses = [new Uri(url)];
                var mqtt = StringOption(args, "--mqtt") ?? throw new ArgumentException("--url needs --mqtt host:port (the service's MQTT broker)");
                broker = (mqtt.Split(':')[0], int.Parse(mqtt.Split(':')[1], CultureInfo.InvariantCulture));
                admin = Credentials(StringOption(args, "--admin") ?? throw new ArgumentException("--url needs --admin user:password (registers the load gates)"));
                operatorUser = Credentials(StringOption(args, "--operator") ?? throw new ArgumentException("--url needs --operator user:password"));
                workerUsers = [.. args.Select((a, i) => (a, i)).Where(p => p.a == "--worker" && p.i + 1 < args.Length).Select(p => Credentials(args[p.i + 1]))];
                if (workerUsers.Count == 0 && wallsPercent < 100) throw new ArgumentException("--url needs --worker user:password (repeatable), or --walls-percent 100");
            }

            // 2. Real tokens, one per user (a worker with several phones shares one).
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            var adminToken = (await SignInAsync(http, addresses[0], admin)).Token;
            var operatorToken = (await SignInAsync(http, addresses[0], operatorUser)).Token;
            var workers = new List<(string Token, string[] Grids)>();
            foreach (var user in workerUsers)
            {
                var signedIn = await SignInAsync(http, addresses[0], user);
                workers.Add((signedIn.Token, signedIn.Grids));
            }
            var alertGrids = workers.Count > 0
                ? workers.SelectMany(w => w.Grids).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray()
                : [.. Enumerable.Range(1, grids).Select(g => $"g{g}")];

            // 3. One gate per alert (the gate detector's cool-down is per gate), spread over the grids, registered as an admin would.
            var run = Guid.NewGuid().ToString("N")[..6];
            var gates = Enumerable.Range(0, alerts).Select(i => (Id: $"load-gate-{run}-{i:D3}", Grid: alertGrids[i % alertGrids.Length])).ToArray();
            var gateIndex = gates.Select((g, i) => (g.Id, i)).ToDictionary(p => p.Id, p => p.i, StringComparer.Ordinal);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
            foreach (var gate in gates)
            {
                foreach (var address in addresses)
                {
                    var registered = await http.PostAsJsonAsync(new Uri(address, "/api/devices"), new { id = gate.Id, kind = "gate", community = Community, grid = gate.Grid });
                    if (!registered.IsSuccessStatusCode) throw new InvalidOperationException($"registering {gate.Id} at {address}: {(int)registered.StatusCode} {await registered.Content.ReadAsStringAsync()}");
                }
            }

            // 4. The clients: walls first, then workers round-robin over the worker users; round-robin over instances.
            var walls = workers.Count == 0 ? clients : clients * wallsPercent / 100;
            var listeners = new Listener[clients];
            for (var i = 0; i < clients; i++)
            {
                var isWall = i < walls;
                var worker = isWall ? default : workers[(i - walls) % workers.Count];
                var expected = new bool[alerts];
                for (var a = 0; a < alerts; a++) expected[a] = isWall || worker.Grids.Contains(gates[a].Grid);
                listeners[i] = new Listener(isWall, addresses[i % addresses.Length], isWall ? operatorToken : worker.Token, expected);
            }
            var connectClock = Stopwatch.StartNew();
            var closed = 0;
            var connectFailures = new ConcurrentBag<string>();
            await Parallel.ForEachAsync(listeners, new ParallelOptions { MaxDegreeOfParallelism = connectParallel }, async (listener, ct) =>
            {
                var hub = new HubConnectionBuilder()
                    .WithUrl(new Uri(listener.Address, listener.IsWall ? "/hubs/cockpit" : "/hubs/worker"), o =>
                    {
                        o.AccessTokenProvider = () => Task.FromResult<string?>(listener.Token);
                        // WebSockets only, as the pages use them: a silent fallback to long polling would measure something else.
                        o.Transports = HttpTransportType.WebSockets;
                    })
                    .AddJsonProtocol(o => CockpitHost.ConfigureJson(o.PayloadSerializerOptions))
                    .Build();
                hub.On<JsonElement>("alert", alert =>
                {
                    var at = Stopwatch.GetTimestamp();
                    if (alert.TryGetProperty("device", out var d) && d.GetString() is { } id && gateIndex.TryGetValue(id, out var index))
                    {
                        Interlocked.CompareExchange(ref listener.ReceivedAt[index], at, 0);
                    }
                });
                hub.Closed += _ => { Interlocked.Increment(ref closed); return Task.CompletedTask; };
                try
                {
                    await hub.StartAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
                    if (listener.IsWall) await hub.InvokeAsync<JsonElement>("Watch", Community, ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
                    connections.Add(hub);
                    listener.Connected = true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    connectFailures.Add(ex.GetType().Name + ": " + ex.Message);
                    await hub.DisposeAsync();
                }
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"connected {connections.Count:N0} of {clients:N0} clients ({walls:N0} walls, {clients - walls:N0} workers of {workers.Count} users) in {connectClock.Elapsed.TotalSeconds:F1} s; {connectFailures.Count} failed{(connectFailures.IsEmpty ? "" : ": " + connectFailures.First())}"));

            // 5. The alerts, as a gate would report its door forced.
            device = new MqttClientFactory().CreateMqttClient();
            await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithClientId($"signalr-load-{run}")
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
            var publishedAt = new long[alerts];
            await Task.Delay(1000); // let the walls' first tile pushes pass
            for (var a = 0; a < alerts; a++)
            {
                var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var message = new MqttApplicationMessageBuilder()
                    .WithTopic($"sensing/{Community}/gate/{gates[a].Id}")
                    .WithPayload(Encoding.UTF8.GetBytes($$"""{"ts":{{ts}},"event":"forced","direction":"in"}"""))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build();
                publishedAt[a] = Stopwatch.GetTimestamp();
                await device.PublishAsync(message);
                if (interval > 0 && a + 1 < alerts) await Task.Delay(interval);
            }

            // 6. Wait for every expected delivery, or the settle time.
            var settleClock = Stopwatch.StartNew();
            var expectedTotal = listeners.Where(l => l.Connected).Sum(l => l.Expected.Count(e => e));
            while (settleClock.Elapsed < settle && listeners.Sum(l => l.Delivered) < expectedTotal) await Task.Delay(100);

            // 7. The figures, over connected clients only (a failed connection is reported above, not as a miss).
            var latencies = new List<double>();
            var wallLatencies = new List<double>();
            var workerLatencies = new List<double>();
            var perAlertMax = new double[alerts];
            var perAlertMin = Enumerable.Repeat(double.MaxValue, alerts).ToArray();
            long missed = 0, expectedConnected = 0;
            foreach (var listener in listeners.Where(l => l.Connected))
            {
                for (var a = 0; a < alerts; a++)
                {
                    if (!listener.Expected[a]) continue;
                    expectedConnected++;
                    var at = Interlocked.Read(ref listener.ReceivedAt[a]);
                    if (at == 0) { missed++; continue; }
                    var ms = Stopwatch.GetElapsedTime(publishedAt[a], at).TotalMilliseconds;
                    latencies.Add(ms);
                    (listener.IsWall ? wallLatencies : workerLatencies).Add(ms);
                    perAlertMax[a] = Math.Max(perAlertMax[a], ms);
                    perAlertMin[a] = Math.Min(perAlertMin[a], ms);
                }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"deliveries: {latencies.Count:N0} of {expectedConnected:N0} expected ({missed:N0} missed), {closed} connections closed during the run"));
            Console.WriteLine("latency publish → client (ms): " + Summary(latencies));
            if (wallLatencies.Count > 0) Console.WriteLine("  walls   (ms): " + Summary(wallLatencies));
            if (workerLatencies.Count > 0) Console.WriteLine("  workers (ms): " + Summary(workerLatencies));
            // The first client's receipt is the service's pipeline (ingest, store, analytics, book) plus one push; the spread
            // from first to last client is the fan-out to everyone the alert concerns.
            var delivered = Enumerable.Range(0, alerts).Where(a => perAlertMin[a] != double.MaxValue).ToList();
            Console.WriteLine("  first client per alert (ms): " + string.Join(" ", delivered.Select(a => perAlertMin[a].ToString("F0", CultureInfo.InvariantCulture))));
            Console.WriteLine("  last client per alert (ms):  " + string.Join(" ", delivered.Select(a => perAlertMax[a].ToString("F0", CultureInfo.InvariantCulture))));
            Console.WriteLine("  pipeline (first client) (ms): " + Summary([.. delivered.Select(a => perAlertMin[a])]) +
                "; fan-out (last − first) (ms): " + Summary([.. delivered.Select(a => perAlertMax[a] - perAlertMin[a])]));
            foreach (var server in servers)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cockpit {server.BaseAddress}: RSS peak {server.PeakRssBytes() / 1e6:F0} MB, CPU {server.CpuSeconds():F1} s since start"));
            }
            Console.WriteLine($"load average after: {LoadAverage()}");
            var p99 = Percentile(latencies, 0.99);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"signalr-load result: p99 {p99:F0} ms ({(p99 < 1000 && missed == 0 && connectFailures.IsEmpty ? "within" : "NOT within")} the 1 s target with no misses)"));
            return missed == 0 && connectFailures.IsEmpty && p99 < 1000 ? 0 : 1;
        }
        finally
        {
            device?.Dispose();
            await Parallel.ForEachAsync(connections, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (hub, _) => await hub.DisposeAsync());
            foreach (var server in servers)
            {
                await server.StopAsync();
                if (server.HasFailed) Console.WriteLine($"cockpit log:{Environment.NewLine}{server.Log()}");
                server.Dispose();
            }
            if (redis is not null) await redis.DisposeAsync();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>One client: what it should receive and when each alert arrived (Stopwatch ticks, 0 = not yet).</summary>
    private sealed class Listener(bool isWall, Uri address, string token, bool[] expected)
    {
        public bool IsWall { get; } = isWall;
        public Uri Address { get; } = address;
        public string Token { get; } = token;
        public bool[] Expected { get; } = expected;
        public bool Connected { get; set; }
        public long[] ReceivedAt { get; } = new long[expected.Length];
        public int Delivered => ReceivedAt.Count(t => t != 0);
    }

    /// <summary>Users of the started service: admin, operator, and two workers per grid of c1 (g1…gN).</summary>
    private static List<(string User, string Role, string[] Grids)> LoadUsers(int grids)
    {
        var users = new List<(string, string, string[])> { ("admin", Roles.Admin, []), ("operator", Roles.Operator, []) };
        for (var g = 1; g <= grids; g++)
        {
            users.Add(($"worker-g{g}-a", Roles.Worker, [$"g{g}"]));
            users.Add(($"worker-g{g}-b", Roles.Worker, [$"g{g}"]));
        }
        return users;
    }

    private static List<string> ServerArguments(string folder, List<(string User, string Role, string[] Grids)> users, RedisServer? redis)
    {
        Directory.CreateDirectory(folder);
        var hash = PasswordHash.Create(Password);
        var args = new List<string>
        {
            $"--urls=http://127.0.0.1:{SensingTestHost.FreePort()}",
            $"--Mqtt:Port={SensingTestHost.FreePort()}",
            "--Demo:Enabled=false",
            "--Broker:AllowAnonymous=true", // the load publishers are anonymous, as a rig's simulators are
            $"--Store:Path={Path.Combine(folder, "sensing.duckdb")}",
            $"--Registry:Path={Path.Combine(folder, "registry.json")}",
            $"--Analytics:ModelDirectory={Path.Combine(folder, "models")}",
            $"--Auth:SigningKey={SensingTestHost.SigningKey}",
            "--Auth:SignInPermitsPerMinute=10000",
            "--Logging:LogLevel:Default=Warning",
        };
        if (redis is not null) args.Add($"--SignalR:Redis={redis.ConnectionString}");
        for (var i = 0; i < users.Count; i++)
        {
            var (user, role, grids) = users[i];
            args.Add($"--Auth:Users:{i}:Username={user}");
            args.Add($"--Auth:Users:{i}:PasswordHash={hash}");
            args.Add($"--Auth:Users:{i}:Role={role}");
            if (role == Roles.Worker) args.Add($"--Auth:Users:{i}:Community={Community}");
            for (var g = 0; g < grids.Length; g++) args.Add($"--Auth:Users:{i}:Grids:{g}={grids[g]}");
        }
        return args;
    }

    private static async Task<(string Token, string[] Grids)> SignInAsync(HttpClient http, Uri address, (string User, string Password) credentials)
    {
        var response = await http.PostAsJsonAsync(new Uri(address, "/api/auth/token"), new { username = credentials.User, password = credentials.Password });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"sign-in of {credentials.User} at {address}: {(int)response.StatusCode} {body}");
        using var json = JsonDocument.Parse(body);
        var grids = json.RootElement.TryGetProperty("grids", out var g) ? g.EnumerateArray().Select(x => x.GetString()!).ToArray() : [];
        return (json.RootElement.GetProperty("access_token").GetString()!, grids);
    }

    private static (string, string) Credentials(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? (text[..colon], text[(colon + 1)..]) : throw new ArgumentException($"'{text}' is not user:password");
    }

    private static string Summary(List<double> values) => values.Count == 0 ? "none" : string.Create(CultureInfo.InvariantCulture,
        $"p50 {Percentile(values, 0.50):F0}, p95 {Percentile(values, 0.95):F0}, p99 {Percentile(values, 0.99):F0}, max {values.Max():F0} (n = {values.Count:N0})");

    /// <summary>Nearest-rank percentile.</summary>
    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    private static string OpenFileLimit()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            return line is null ? "?" : line["Max open files".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        }
        catch (IOException) { return "?"; }
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : fallback;
    }

    private static string? StringOption(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>A cockpit in a child process (this program's <c>cockpit-host</c>), so the clients' work is not the service's.</summary>
    private sealed class CockpitProcess : IDisposable
    {
        private readonly Process _process;
        private readonly Queue<string> _log = new();
        private bool _stopping;

        private CockpitProcess(Process process, Uri baseAddress, int mqttPort)
        {
            _process = process;
            BaseAddress = baseAddress;
            MqttPort = mqttPort;
            _process.OutputDataReceived += (_, e) => Remember(e.Data);
            _process.ErrorDataReceived += (_, e) => Remember(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public Uri BaseAddress { get; }
        public int MqttPort { get; }
        public bool HasFailed => _process.HasExited && _process.ExitCode != 0;

        public static CockpitProcess Start(List<string> arguments)
        {
            var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
            var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(SignalRLoadCommand).Assembly.Location);
            start.ArgumentList.Add("cockpit-host");
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            var urls = arguments.First(a => a.StartsWith("--urls=", StringComparison.Ordinal))["--urls=".Length..];
            var mqtt = int.Parse(arguments.First(a => a.StartsWith("--Mqtt:Port=", StringComparison.Ordinal))["--Mqtt:Port=".Length..], CultureInfo.InvariantCulture);
            return new CockpitProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the cockpit"), new Uri(urls), mqtt);
        }

        public async Task WaitUntilHealthyAsync(TimeSpan timeout)
        {
            using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                if (_process.HasExited) throw new InvalidOperationException($"the cockpit exited with {_process.ExitCode}: {Log()}");
                try
                {
                    if ((await http.GetAsync("/healthz")).IsSuccessStatusCode) return;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }
                await Task.Delay(200);
            }
            throw new TimeoutException($"the cockpit at {BaseAddress} was not healthy within {timeout.TotalSeconds:0} s: {Log()}");
        }

        public long PeakRssBytes()
        {
            try
            {
                var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                return line is null ? 0 : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                return 0;
            }
        }

        public double CpuSeconds()
        {
            try
            {
                _process.Refresh();
                return _process.TotalProcessorTime.TotalSeconds;
            }
            catch (InvalidOperationException)
            {
                return double.NaN;
            }
        }

        private void Remember(string? line)
        {
            if (line is null) return;
            lock (_log)
            {
                _log.Enqueue(line);
                if (_log.Count > 50) _log.Dequeue();
            }
        }

        public string Log()
        {
            lock (_log) return string.Join(Environment.NewLine, _log);
        }

        public async Task StopAsync()
        {
            if (_process.HasExited || _stopping) return;
            _stopping = true;
            // Closing stdin asks the child to stop (it watches for EOF); kill it if it does not.
            _process.StandardInput.Close();
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }
}

/// <summary>
/// <c>cockpit-host</c>: the whole service as <c>dotnet run --project cockpit</c> composes it (<see cref="CockpitHost.Build"/>),
/// for <see cref="SignalRLoadCommand"/>; stops when stdin closes (its parent went away) or on SIGTERM/Ctrl+C.
/// </summary>
public static class CockpitHostCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        await using var app = CockpitHost.Build(args);
        await app.StartAsync();
        var stopping = new TaskCompletionSource();
        using var registration = app.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        await Task.WhenAny(Task.Run(() => Console.In.ReadToEnd()), stopping.Task);
        await app.StopAsync();
        return 0;
    }
}
