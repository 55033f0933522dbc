using System.Diagnostics;
using System.Text.Json;
using Sensing.Testing;
using Xunit.Abstractions;

namespace Sensing.EndToEnd.Tests;

/// <summary>
/// The e2e benchmark command's code paths, in a few seconds: a real mosquitto ceiling, the real service stepped at a
/// low rate, gate_forced alerts through SignalR, and the JSON, CSV and PNG it writes. Its figures are not judged here
/// (speed targets are checked by running the benchmark, not by tests); that it measures something real is.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class E2eBenchmarkSmokeTests(ITestOutputHelper output)
{
    [MosquittoFact]
    public async Task E2e_command_measures_ceiling_pipeline_and_alerts_and_draws_its_chart()
    {
        var folder = Directory.CreateTempSubdirectory("sensing-e2e-smoke-").FullName;
        try
        {
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                typeof(Sensing.Benchmarks.E2eCommand).Assembly.Location, "e2e", "--communities", "1", "--steps", "200", "--step-seconds", "3",
                "--ceiling-seconds", "1", "--brokers", "mosquitto", "--qos", "1", "--no-peer", "--alert-seconds", "1", "--alert-rate", "100", "--out", folder,
            })
            {
                start.ArgumentList.Add(argument);
            }
            using var e2e = Process.Start(start)!;
            var stdout = e2e.StandardOutput.ReadToEndAsync();
            var stderr = e2e.StandardError.ReadToEndAsync();
            await e2e.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            output.WriteLine(await stderr);
            output.WriteLine(await stdout);
            Assert.Equal(0, e2e.ExitCode);

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "e2e.json")));
            var run = json.RootElement.GetProperty("runs")[0];
            Assert.True(run.GetProperty("ceilings")[0].GetProperty("received_per_second").GetDouble() > 0, "the counting subscriber received nothing");
            var pipeline = run.GetProperty("pipelines")[0];
            var step = pipeline.GetProperty("steps")[0];
            Assert.Equal(200, step.GetProperty("offered").GetInt32());
            Assert.True(step.GetProperty("taken_per_second").GetDouble() > 0, "the service took nothing");
            Assert.True(step.GetProperty("latency_samples").GetInt64() > 0, "no stored reading was timed");
            Assert.True(pipeline.GetProperty("peak_rss_bytes").GetInt64() > 0);
            // Every forced door reached the wall screen as a gate_forced alert.
            var alert = pipeline.GetProperty("alert");
            Assert.True(alert.GetProperty("sent").GetInt32() > 0);
            Assert.Equal(alert.GetProperty("sent").GetInt32(), alert.GetProperty("received").GetInt32());

            var csv = await File.ReadAllLinesAsync(Path.Combine(folder, "e2e-steps.csv"));
            Assert.StartsWith("run,broker,qos,store,offered,", csv[0]);
            Assert.True(csv.Length >= 2);
            var png = await File.ReadAllBytesAsync(Path.Combine(folder, "e2e.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
