using Xunit;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sensing.Testing;

/// <summary>
/// A real <c>influxd</c> (Debian's 1.x package; <c>.ci/run</c> installs it) on free loopback ports with its own data
/// directory, started once per test collection and killed, with its directory deleted, afterwards.
/// <para>
/// It runs under a small shell that holds our end of a pipe on stdin: if the test host dies without disposing the
/// fixture (an aborted run), the pipe closes, <c>cat</c> returns and the shell kills <c>influxd</c>, so no server
/// outlives the run (and the shell deletes its data directory). Dispose closes the pipe too and kills the whole
/// process tree for good measure.
/// </para>
/// </summary>
public sealed class InfluxServer : IAsyncLifetime
{
    private const string Watchdog = """
        "$1" -config "$2" &
        pid=$!
        cat >/dev/null
        kill "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$3"
        """;

    private readonly ServerLog _log = new(50);
    // Watchdog shells of influxd processes killed by Crash: kept until the end, when closing them deletes the folder
    // (closing one earlier would delete the data the restarted server needs).
    private readonly List<Process> _crashed = [];
    private Process? _process;
    private string? _folder;
    private string? _config;

    public Uri Url { get; private set; } = null!;

    /// <summary>
    /// Extra lines of the <c>[data]</c> section, e.g. <c>max-values-per-tag = 0</c> for a benchmark whose 200,000 devices
    /// exceed 1.x's default of 100,000 values per tag.
    /// </summary>
    public IReadOnlyList<string> DataSettings { get; init; } = [];

    public static string Executable => Environment.GetEnvironmentVariable("SENSING_INFLUXD") ?? "/usr/bin/influxd";

    /// <summary>A host's settings to store its readings here, in a database of its own named from <paramref name="prefix"/>.</summary>
    public Dictionary<string, string?> StoreSettings(string prefix) => new()
    {
        ["Store:Kind"] = "influxdb",
        ["Store:Url"] = Url.ToString(),
        ["Store:Database"] = prefix + "_" + Guid.NewGuid().ToString("N")[..8],
    };

    public async Task InitializeAsync()
    {
        if (!File.Exists(Executable))
        {
            throw new InvalidOperationException($"{Executable} is missing: install Debian's 'influxdb' package (bash .ci/run does) or set SENSING_INFLUXD.");
        }

        // A free port found here may be taken before influxd binds it; try a few times rather than fail a run.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartAsync();
                return;
            }
            catch (Exception) when (attempt < 3)
            {
                await StopAsync();
            }
        }
    }

    public async Task DisposeAsync() => await StopAsync();

    private async Task StartAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "sensing-influx-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        var httpPort = FreePort();
        int rpcPort;
        do
        {
            rpcPort = FreePort();
        }
        while (rpcPort == httpPort);

        var config = Path.Combine(_folder, "influxdb.conf");
        Url = new Uri($"http://127.0.0.1:{httpPort}/");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            reporting-disabled = true
            bind-address = "127.0.0.1:{rpcPort}"

            [meta]
              dir = "{_folder}/meta"

            [data]
              dir = "{_folder}/data"
              wal-dir = "{_folder}/wal"
              wal-fsync-delay = "0s"
              query-log-enabled = false
              {string.Join("\n  ", DataSettings)}

            [http]
              enabled = true
              bind-address = "127.0.0.1:{httpPort}"
              log-enabled = false
              max-row-limit = 0

            [monitor]
              store-enabled = false

            [continuous_queries]
              enabled = false

            [logging]
              level = "warn"
            """));

        _config = config;
        await LaunchAsync(config);
    }

    /// <summary>Starts influxd under a watchdog shell with <paramref name="config"/> and waits until it answers /ping.</summary>
    private async Task LaunchAsync(string config)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-c", Watchdog, "sh", Executable, config, _folder! })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start influxd.");
        _process.OutputDataReceived += (_, e) => _log.Add(e.Data);
        _process.ErrorDataReceived += (_, e) => _log.Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"influxd exited with {_process.ExitCode}: {Log()}");
            }

            try
            {
                using var ping = await http.GetAsync(new Uri(Url, "ping"));
                if (ping.StatusCode == HttpStatusCode.NoContent)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening but not answering yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"influxd did not answer /ping within 30 s: {Log()}");
    }

    private async Task StopAsync()
    {
        foreach (var shell in _crashed.Append(_process).OfType<Process>().ToList())
        {
            _process = null;
            var process = shell;
            try
            {
                process.StandardInput.Close();
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
            {
                // Already gone.
            }
            finally
            {
                process.Dispose();
            }
        }

        if (_folder is { } folder && Directory.Exists(folder))
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is not worth failing a run over.
            }
        }

        _crashed.Clear();
        _folder = null;
    }

    /// <summary>
    /// Kills influxd with SIGKILL, as a crash or an OOM kill would: no shutdown, no flush beyond what its WAL already
    /// holds. Its data directory stays; <see cref="RestartAsync"/> starts it again on the same ports and data.
    /// </summary>
    public async Task CrashAsync()
    {
        var shell = _process ?? throw new InvalidOperationException("influxd is not running");
        Signal("KILL");
        // Wait until it has gone: its HTTP port refuses connections (the shell does not reap it until the end, but a
        // zombie holds no sockets).
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Url.Port).WaitAsync(TimeSpan.FromSeconds(1));
                await Task.Delay(50);
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                break;
            }
        }
        _crashed.Add(shell);
        _process = null;
    }

    /// <summary>Starts influxd again after <see cref="CrashAsync"/>: same config, ports and data directory; returns once it answers /ping.</summary>
    public Task RestartAsync() =>
        _process is null && _config is { } config ? LaunchAsync(config) : throw new InvalidOperationException("influxd was not crashed");

    /// <summary>
    /// Freezes the server (SIGSTOP): it keeps its connections and its data but answers nothing, as a store that has
    /// hung or gone away does, until <see cref="Resume"/>.
    /// </summary>
    public void Pause() => Signal("STOP");

    /// <summary>Lets a paused server run again (SIGCONT); requests that waited are then answered.</summary>
    public void Resume() => Signal("CONT");

    private void Signal(string signal)
    {
        var shell = _process ?? throw new InvalidOperationException("influxd is not running");
        // influxd is the watchdog shell's only child.
        using var kill = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"pkill -{signal} -P {shell.Id} -x influxd"]) { UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"could not send SIG{signal} to influxd (pkill exit {kill.ExitCode})");
    }


    private string Log() => _log.ToString();

    public static int FreePort() => SensingTestHost.FreePort();
}

