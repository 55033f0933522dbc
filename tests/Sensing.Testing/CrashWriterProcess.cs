using System.Diagnostics;
using System.Globalization;

namespace Sensing.Testing;

/// <summary>
/// Runs <c>tests/Sensing.CrashWriter</c> (a child process that writes durably and prints <c>ack n</c> per durable
/// batch), reads acknowledgements until <c>killAfterAcks</c>, kills it with SIGKILL mid-stream and returns the last
/// batch it acknowledged, counting acks printed between the last read and the kill. Test projects build the writer
/// beside themselves with a <c>ProjectReference … ReferenceOutputAssembly="false"</c>.
/// </summary>
public static class CrashWriterProcess
{
    public static async Task<int> RunAndKillAsync(string mode, string target, int batchSize, int killAfterAcks)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Dll(), mode, target, batchSize.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }
        var acknowledged = 0;
        using var writer = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (acknowledged < killAfterAcks)
            {
                var line = await writer.StandardOutput.ReadLineAsync(timeout.Token)
                    ?? throw new InvalidOperationException("The crash writer exited early: " + await writer.StandardError.ReadToEndAsync(timeout.Token));
                acknowledged = Ack(line) ?? acknowledged;
            }
        }
        finally
        {
            // SIGKILL on Unix: no finalizers, no flush or checkpoint on the way out, a write likely in flight.
            writer.Kill(entireProcessTree: true);
            await writer.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        // Acks printed between our last read and the kill still count: they were acknowledged.
        var rest = await writer.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var line in rest.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            acknowledged = Ack(line) ?? acknowledged;
        }
        return acknowledged;
    }

    private static int? Ack(string line) =>
        line.StartsWith("ack ", StringComparison.Ordinal) ? int.Parse(line["ack ".Length..], CultureInfo.InvariantCulture) : null;

    /// <summary>tests/X/bin/{configuration}/{tfm}/ → tests/Sensing.CrashWriter/bin/{configuration}/{tfm}/Sensing.CrashWriter.dll.</summary>
    private static string Dll()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = output.Name;
        var configuration = output.Parent!.Name;
        var tests = output.Parent.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(tests, "Sensing.CrashWriter", "bin", configuration, tfm, "Sensing.CrashWriter.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"The crash writer was not built at {dll}: reference tests/Sensing.CrashWriter from the test project.");
    }
}
