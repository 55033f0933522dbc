using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests;

/// <summary>
/// The soak command's code paths in well under a minute (<c>soak --quick</c>: 2 communities, 6 simulated hours at
/// 1,800×): the real service in a child process, the simulator's feed, the sampler reading the service's
/// <c>/metrics</c>, the verdict, and the CSV, JSON and PNG it writes. The verdict itself is not asserted (six simulated
/// hours say nothing about a week); that the sampler saw the live process and its traffic is.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class SoakBenchmarkSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Soak_quick_samples_the_service_process_and_writes_its_results()
    {
        var folder = Directory.CreateTempSubdirectory("sensing-soak-smoke-").FullName;
        try
        {
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { typeof(Sensing.Benchmarks.SoakCommand).Assembly.Location, "soak", "--quick", "--out", folder })
            {
                start.ArgumentList.Add(argument);
            }
            using var soak = Process.Start(start)!;
            var stdout = soak.StandardOutput.ReadToEndAsync();
            var stderr = soak.StandardError.ReadToEndAsync();
            await soak.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            output.WriteLine(await stderr);
            output.WriteLine(await stdout);
            // 0: flat; 1: something grew (a verdict, not a failure of the command); anything else: it broke.
            Assert.True(soak.ExitCode is 0 or 1, $"soak exited with {soak.ExitCode}");

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "soak.json")));
            var result = json.RootElement.GetProperty("result");
            var sent = result.GetProperty("sent").GetInt64();
            Assert.True(sent > 1_000, $"the simulator sent only {sent} messages");
            // Every message reached the service (stored or dead-lettered), and the stored count is real readings.
            Assert.True(result.GetProperty("received").GetDouble() >= sent);
            Assert.True(result.GetProperty("readings_stored").GetDouble() >= sent * 0.9);
            Assert.True(result.GetProperty("alerts_raised").GetDouble() > 0, "the scenario's incidents raised no alert");

            var samples = json.RootElement.GetProperty("samples").EnumerateArray().ToList();
            Assert.True(samples.Count >= 5, $"only {samples.Count} samples");
            var last = samples[^1];
            // The sampler saw the live service process: its memory, its threads, its open handles, its DuckDB file.
            Assert.True(last.GetProperty("rss_mb").GetDouble() > 20);
            Assert.True(last.GetProperty("threads").GetDouble() >= 5);
            Assert.True(last.GetProperty("handles").GetDouble() >= 10);
            Assert.True(last.GetProperty("store_mb").GetDouble() > 0);
            Assert.True(last.GetProperty("heap_mb").GetDouble() > 0);
            Assert.Contains(samples, s => s.GetProperty("phase").GetString() == "feed");
            Assert.Equal("idle", last.GetProperty("phase").GetString());
            var series = result.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("series").GetString()).ToList();
            Assert.Contains("RSS", series);
            Assert.Contains("open handles", series);

            var csv = await File.ReadAllLinesAsync(Path.Combine(folder, "soak-samples.csv"));
            Assert.StartsWith("wall_s,simulated_days,phase,rss_mb,", csv[0]);
            Assert.Equal(samples.Count + 1, csv.Length);
            var simulatedDays = csv.Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToList();
            Assert.True(simulatedDays[^1] >= 0.2, "the simulated clock did not reach the end of the six hours");
            var png = await File.ReadAllBytesAsync(Path.Combine(folder, "soak.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
