using System.Diagnostics;
using System.Globalization;
using Sensing.Testing;

namespace Sensing.EndToEnd.Tests.Faults;

/// <summary>
/// The whole service in a child process, so a test can kill it as the kernel would (SIGKILL: no shutdown, no flush, writes
/// in flight): the benchmarks' <c>service-host</c> command (<c>CockpitHost.Build</c> as <c>cockpit</c> runs it), which prints
/// <c>stats &lt;received&gt; &lt;stored&gt; &lt;connected&gt; … &lt;queue depth&gt; …</c> every 100 ms and stops gracefully when its stdin closes.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _log = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _received;
    private long _stored;
    private long _queueDepth;

    private ServiceProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public long Received => Interlocked.Read(ref _received);
    public long Stored => Interlocked.Read(ref _stored);
    public long QueueDepth => Interlocked.Read(ref _queueDepth);

    /// <summary>
    /// Arguments for a service on <paramref name="broker"/> (<c>Mqtt:Embedded=false</c>) with client id <paramref name="clientId"/>,
    /// its DuckDB store, registry and models in <paramref name="data"/>: the same arguments start the same service again.
    /// </summary>
    public static string[] Arguments(MosquittoServer broker, string clientId, string data) =>
    [
        $"--urls=http://127.0.0.1:{SensingTestHost.FreePort()}",
        "--Demo:Enabled=false",
        "--Mqtt:Embedded=false",
        "--Mqtt:Host=127.0.0.1",
        $"--Mqtt:Port={broker.Port}",
        $"--Mqtt:ClientId={clientId}",
        $"--Store:Path={Path.Combine(data, "sensing.duckdb")}",
        $"--Registry:Path={Path.Combine(data, "registry.json")}",
        $"--Analytics:ModelDirectory={Path.Combine(data, "models")}",
        $"--Auth:SigningKey={SensingTestHost.SigningKey}",
    ];

    public static ServiceProcess Start(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(Sensing.Benchmarks.ServiceHostCommand).Assembly.Location);
        start.ArgumentList.Add("service-host");
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return new ServiceProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the service"));
    }

    public async Task WaitUntilConnectedAsync(TimeSpan timeout)
    {
        try
        {
            await _connected.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the service did not connect to its broker within {timeout.TotalSeconds:0} s: {Log()}");
        }
    }

    /// <summary>SIGKILL, as the OOM killer or a power cut would: nothing of the service runs after it.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops the service gracefully (stdin closed: the host stops, the store closes its file).</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        _process.StandardInput.Close();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public string Log()
    {
        lock (_log) return string.Join(Environment.NewLine, _log);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        if (!line.StartsWith("stats ", StringComparison.Ordinal))
        {
            Remember(line);
            return;
        }
        var fields = line.Split(' ');
        Interlocked.Exchange(ref _received, long.Parse(fields[1], CultureInfo.InvariantCulture));
        Interlocked.Exchange(ref _stored, long.Parse(fields[2], CultureInfo.InvariantCulture));
        Interlocked.Exchange(ref _queueDepth, long.Parse(fields[7], CultureInfo.InvariantCulture));
        if (fields[3] == "1") _connected.TrySetResult();
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
}
