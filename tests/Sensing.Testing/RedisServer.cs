using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Sensing.Testing;

/// <summary>
/// A real <c>redis-server</c> (Debian's package; <c>.ci/run</c> installs it) on a free loopback port, without
/// persistence, in its own folder: the SignalR backplane of the scale-out tests and the load run. Stopped by
/// <see cref="StopAsync"/> and started again on the same port by <see cref="StartAsync()"/> (an outage), killed on dispose.
/// <para>
/// Like <see cref="MosquittoServer"/> it runs under a small shell that holds our end of a pipe on stdin: if the test host
/// dies without disposing it, the pipe closes and the shell stops redis-server, so no server outlives the run.
/// </para>
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly ServerLog _log = new();
    private readonly string _config;
    private Process? _process;

    private RedisServer(string folder, int port)
    {
        Folder = folder;
        Port = port;
        _config = Path.Combine(folder, "redis.conf");
    }

    public static string Executable => Environment.GetEnvironmentVariable("SENSING_REDIS") ?? "/usr/bin/redis-server";

    public static bool IsInstalled => File.Exists(Executable);

    /// <summary>Why Redis tests are skipped on this machine, or null when redis-server is there.</summary>
    public static string? MissingReason => IsInstalled ? null
        : $"{Executable} is missing: install Debian's 'redis-server' package (bash .ci/run does) or set SENSING_REDIS.";

    public string Folder { get; }
    public int Port { get; }

    /// <summary>The <c>SignalR:Redis</c> connection string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a server on a free port; <paramref name="port"/> reuses a given one (a port a service was told about before Redis came up).</summary>
    public static async Task<RedisServer> StartAsync(int? port = null, IReadOnlyList<string>? extraConfig = null)
    {
        if (!IsInstalled) throw new InvalidOperationException(MissingReason);
        // A free port found here may be taken before redis-server binds it; try a few times rather than fail a run.
        for (var attempt = 1; ; attempt++)
        {
            var folder = Path.Combine(Path.GetTempPath(), "sensing-redis-tests", Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(folder);
            var server = new RedisServer(folder, port ?? FreePort());
            try
            {
                var config = new List<string>
                {
                    $"port {server.Port.ToString(CultureInfo.InvariantCulture)}",
                    "bind 127.0.0.1",
                    "protected-mode yes",
                    // Pub/sub only: nothing to keep, nothing to write behind our back.
                    "save \"\"",
                    "appendonly no",
                    $"dir {folder}",
                    "daemonize no",
                    "loglevel notice",
                    "logfile \"\"",
                };
                config.AddRange(extraConfig ?? []);
                await File.WriteAllLinesAsync(server._config, config);
                await server.StartAsync();
                return server;
            }
            catch (Exception)
            {
                await server.DisposeAsync();
                if (attempt >= 3 || port is not null) throw;
            }
        }
    }

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on the same port and config.</summary>
    public async Task StartAsync()
    {
        if (IsRunning) throw new InvalidOperationException("redis-server is running already");
        _process = WatchedServer.Start(Executable, [_config], _log.Add);

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"redis-server exited with {_process.ExitCode}: {Log()}");
            if (deadline.Elapsed > TimeSpan.FromSeconds(15)) throw new TimeoutException($"redis-server did not answer on {Port} within 15 s: {Log()}");
            if (await PingAsync()) return;
            await Task.Delay(20);
        }
    }

    /// <summary>PING over RESP; true on +PONG (a listening socket alone may still be loading).</summary>
    public async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(TimeSpan.FromSeconds(2));
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            return read >= 5 && buffer.AsSpan(0, 5).SequenceEqual("+PONG"u8);
        }
        catch (Exception e) when (e is SocketException or TimeoutException or IOException)
        {
            return false;
        }
    }

    /// <summary>Runs <c>redis-cli</c> against this server and returns its output (e.g. <c>PUBSUB CHANNELS *</c>).</summary>
    public async Task<string> CliAsync(params string[] command)
    {
        var cli = Path.Combine(Path.GetDirectoryName(Executable)!, "redis-cli");
        var start = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture) }.Concat(command)) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start redis-cli.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        if (process.ExitCode != 0) throw new InvalidOperationException($"redis-cli failed ({process.ExitCode}): {await error}");
        return await output;
    }

    /// <summary>Stops the server (SIGTERM): an outage, as the service sees it.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process) return;
        _process = null;
        await WatchedServer.StopAsync(process);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        WatchedServer.DeleteFolder(Folder);
    }

    /// <summary>The server's recent log lines, for assertion messages.</summary>
    public string Log() => _log.ToString();


    public static int FreePort() => SensingTestHost.FreePort();
}

/// <summary>A fact that needs a real redis-server: skipped, saying why, only when the package is not installed.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.MissingReason is { } reason) Skip = reason;
    }
}
