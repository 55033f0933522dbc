using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MQTTnet.Server;
using Sensing.Simulators.Simulate;

namespace Sensing.Simulators.Tests.Simulate;

public sealed class SimulateCommandTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly string _folder = Directory.CreateTempSubdirectory("sensing-simulate-").FullName;

    private static readonly string[] s_smallWorld =
        ["--communities", "2", "--households", "60", "--cameras", "8", "--gates", "2", "--lots", "2", "--start", "2026-11-02T00:00:00+08:00", "--seed", "3"];

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Dry_run_writes_messages_truth_and_registry_and_repeats_byte_for_byte()
    {
        var (code, output, _) = await Run([.. s_smallWorld, "--duration", "6h", "--scenario", "all", "--dry-run", "--out", File("a.jsonl"),
            "--truth-out", File("truth.jsonl"), "--registry-out", File("registry.json")]);
        Assert.Equal(0, code);

        var lines = System.IO.File.ReadAllLines(File("a.jsonl"));
        Assert.Contains($"{lines.Length:N0} messages", output, StringComparison.Ordinal);
        foreach (var line in lines)
        {
            var row = JsonDocument.Parse(line).RootElement;
            Assert.StartsWith("sensing/c", row.GetProperty("topic").GetString());
            Assert.InRange(row.GetProperty("time").GetDateTimeOffset(), new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.FromHours(8)), new DateTimeOffset(2026, 11, 2, 6, 0, 0, TimeSpan.FromHours(8)));
            Assert.NotEmpty(row.GetProperty("payload").GetString()!);
        }
        Assert.NotEmpty(System.IO.File.ReadAllLines(File("truth.jsonl")));
        Assert.Contains("\"away\"", System.IO.File.ReadAllText(File("registry.json")), StringComparison.Ordinal);

        Assert.Equal(0, (await Run([.. s_smallWorld, "--duration", "6h", "--scenario", "all", "--dry-run", "--out", File("b.jsonl")])).Code);
        Assert.Equal(System.IO.File.ReadAllBytes(File("a.jsonl")), System.IO.File.ReadAllBytes(File("b.jsonl")));
    }

    [Theory]
    [InlineData("--speed", "fast")]
    [InlineData("--format", "loxone")]
    [InlineData("--qos", "2")]
    [InlineData("--scenario", "earthquake")]
    [InlineData("--duration", "soon")]
    [InlineData("--out", "x.jsonl")] // without --dry-run
    [InlineData("--bogus", "1")]
    public async Task Bad_options_exit_2_with_a_reason(string option, string value)
    {
        var (code, _, error) = await Run([option, value]);
        Assert.Equal(2, code);
        Assert.StartsWith("simulate: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_every_option()
    {
        var (code, output, _) = await Run(["--help"]);
        Assert.Equal(0, code);
        foreach (var option in new[] { "--communities", "--duration", "--start", "--speed", "--rate", "--seed", "--format", "--host", "--port", "--username", "--password", "--qos", "--client-id", "--scenario", "--truth-out", "--registry-out", "--households", "--cameras", "--gates", "--lots", "--dry-run", "--out" })
            Assert.Contains(option, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_stops_cleanly_with_a_summary()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var (code, output, _) = await Run([.. s_smallWorld, "--duration", "7d", "--speed", "3600", "--dry-run"], stop.Token);
        Assert.Equal(SimulateCommand.Interrupted, code);
        Assert.Contains("interrupted at event time", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Speed_and_rate_hold_messages_back_to_the_wall_clock()
    {
        // 10 minutes of event time at 600× is one second of wall time; pacing can only make a run slower.
        var started = TimeProvider.System.GetTimestamp();
        Assert.Equal(0, (await Run([.. s_smallWorld, "--duration", "10m", "--speed", "600", "--dry-run"])).Code);
        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.9));

        started = TimeProvider.System.GetTimestamp();
        var (code, output, _) = await Run([.. s_smallWorld, "--duration", "10m", "--speed", "max", "--rate", "2000", "--dry-run"]);
        Assert.Equal(0, code);
        var count = long.Parse(output[(output.IndexOf("simulate: ", StringComparison.Ordinal) + 10)..output.IndexOf(" messages", StringComparison.Ordinal)],
            System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromSeconds((count - 1) / 2000.0 * 0.95), $"{count} messages");
    }

    [Fact]
    public async Task Publishes_every_message_to_a_broker_in_per_device_order()
    {
        var port = FreePort();
        using var broker = new MqttServerFactory().CreateMqttServer(
            new MqttServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointPort(port).Build());
        var received = new ConcurrentQueue<(string Topic, byte[] Payload)>();
        broker.InterceptingPublishAsync += e =>
        {
            received.Enqueue((e.ApplicationMessage.Topic, e.ApplicationMessage.Payload.ToArray()));
            return Task.CompletedTask;
        };
        await broker.StartAsync();
        try
        {
            using var timeout = new CancellationTokenSource(s_timeout);
            var (code, output, error) = await Run([.. s_smallWorld, "--duration", "2h", "--speed", "max", "--qos", "1", "--host", "127.0.0.1",
                "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--malformed-rate", "0"], timeout.Token);
            Assert.True(code == 0, error);

            var expected = SimulatedRun.Messages(FeedPlan.Create(
                SimulatedWorld.Create(new WorldOptions { Communities = 2, Households = 60, Cameras = 8, Gates = 2, Lots = 2 }, 3),
                new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.FromHours(8)), TimeSpan.FromHours(2), [], new FaultRates { Malformed = 0 }));
            Assert.Contains($"{expected.Count:N0} messages", output, StringComparison.Ordinal);
            Assert.Equal(expected.Count, received.Count);
            // Per device, the broker saw the messages in the order they were generated.
            var byTopic = received.GroupBy(r => r.Topic).ToDictionary(g => g.Key, g => g.Select(r => Convert.ToHexString(r.Payload)).ToList());
            foreach (var group in expected.GroupBy(m => m.Topic))
                Assert.Equal(group.Select(m => Convert.ToHexString(m.Payload)), byTopic[group.Key]);
        }
        finally
        {
            await broker.StopAsync();
        }
    }

    [Fact]
    public async Task Unreachable_broker_exits_1()
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        var (code, _, error) = await Run([.. s_smallWorld, "--duration", "1h", "--host", "127.0.0.1", "--port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)], timeout.Token);
        Assert.Equal(1, code);
        Assert.Contains("cannot connect", error, StringComparison.Ordinal);
    }

    private string File(string name) => Path.Combine(_folder, name);

    private static async Task<(int Code, string Output, string Error)> Run(string[] args, CancellationToken cancellationToken = default)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await SimulateCommand.RunAsync(args, output, error, interactive: false, TimeProvider.System, cancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
