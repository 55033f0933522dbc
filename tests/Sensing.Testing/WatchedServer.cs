using System.Diagnostics;

namespace Sensing.Testing;

/// <summary>
/// Starts a Debian server (mosquitto, redis-server) under a tiny shell watchdog that holds the server's lifetime to a
/// pipe: closing the watchdog's stdin stops the server with SIGTERM, and if the test process dies without disposing
/// it the pipe closes too, so no server outlives the run.
/// </summary>
internal static class WatchedServer
{
    private const string Watchdog = """
        "$@" &
        pid=$!
        cat >/dev/null
        kill "$pid" 2>/dev/null
        wait "$pid"
        """;

    public static Process Start(string executable, IEnumerable<string> arguments, Action<string?> logLine)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-c", Watchdog, "sh", executable }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        process.OutputDataReceived += (_, e) => logLine(e.Data);
        process.ErrorDataReceived += (_, e) => logLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Stops the server as an operator would (SIGTERM through the watchdog), killing it if it does not go in 10 s.</summary>
    public static async Task StopAsync(Process process)
    {
        try
        {
            process.StandardInput.Close();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        finally
        {
            process.Dispose();
        }
    }

    public static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is not worth failing a run over.
        }
    }
}

/// <summary>The last lines a server printed, for assertion and start-failure messages.</summary>
internal sealed class ServerLog(int keep = 200)
{
    private readonly Queue<string> _lines = new();

    public void Add(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Enqueue(line);
            if (_lines.Count > keep) _lines.Dequeue();
        }
    }

    public override string ToString()
    {
        lock (_lines) return string.Join(Environment.NewLine, _lines);
    }
}
