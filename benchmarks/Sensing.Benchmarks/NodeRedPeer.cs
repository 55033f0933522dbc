using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Sensing.Benchmarks;

/// <summary>
/// The peer of the e2e comparison: Node-RED 4 with node-red-contrib-influxdb, installed by
/// <c>benchmarks/peer/setup.sh</c> into a scratch folder (<c>SENSING_PEER_DIR</c>, default <c>/tmp/sensing-nodered</c>;
/// never committed), running a flow as a Node-RED user would build it: <c>mqtt in</c> (<c>sensing/#</c>, QoS 1, JSON)
/// → a function that normalizes the native payload into one point (measurement per device kind, community/device/
/// metric/label tags, the figure as <c>value</c>, the payload's <c>ts</c>) and batches 1,000 points or 200 ms
/// → <c>influxdb batch</c> (1.x, millisecond precision). Node-RED acknowledges the broker on arrival, before the
/// write, and keeps no outage buffer: at most once, where Sensing acknowledges only what is durable.
/// </summary>
internal sealed class NodeRedPeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<string> _log = new();

    private NodeRedPeer(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Version { get; private set; } = "?";

    /// <summary>Runs the setup script (idempotent) and returns the scratch folder it installed into.</summary>
    public static async Task<string> SetUpAsync()
    {
        var script = FindScript();
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        using var setup = Process.Start(start) ?? throw new InvalidOperationException("could not run " + script);
        var output = setup.StandardOutput.ReadToEndAsync();
        var errors = setup.StandardError.ReadToEndAsync();
        await setup.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        if (setup.ExitCode != 0) throw new InvalidOperationException($"{script} failed ({setup.ExitCode}): {await errors}");
        return (await output).Trim().Split('\n')[^1].Trim();
    }

    public static async Task<NodeRedPeer> StartAsync(string directory, int mqttPort, Uri influx, string database)
    {
        using (var http = new HttpClient { BaseAddress = influx })
        {
            using var created = await http.PostAsync($"query?q={Uri.EscapeDataString($"CREATE DATABASE \"{database}\"")}", null);
            created.EnsureSuccessStatusCode();
        }
        var httpPort = Sensing.Testing.SensingTestHost.FreePort();
        await File.WriteAllTextAsync(Path.Combine(directory, "e2e-flows.json"), Flow(mqttPort, influx, database));
        await File.WriteAllTextAsync(Path.Combine(directory, "e2e-settings.js"), """
            module.exports = {
                flowFile: 'e2e-flows.json',
                uiHost: '127.0.0.1',
                credentialSecret: false,
                logging: { console: { level: 'info', metrics: false, audit: false } },
                editorTheme: { tours: false, projects: { enabled: false } },
            };
            """);
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { Path.Combine(directory, "node_modules", "node-red", "red.js"), "--userDir", directory, "--port", httpPort.ToString(CultureInfo.InvariantCulture), "--settings", Path.Combine(directory, "e2e-settings.js") })
        {
            start.ArgumentList.Add(a);
        }
        var peer = new NodeRedPeer(Process.Start(start) ?? throw new InvalidOperationException("could not start Node-RED"));
        try
        {
            await peer._connected.Task.WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            await peer.DisposeAsync();
            throw new TimeoutException("Node-RED did not connect to the broker within 90 s: " + peer.Log());
        }
        return peer;
    }

    public double CpuSeconds() => ProcessCpu.Seconds(_process.Id);

    public long PeakRssBytes()
    {
        try
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public string Log()
    {
        lock (_log) return string.Join(Environment.NewLine, _log);
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            _log.Enqueue(line);
            if (_log.Count > 60) _log.Dequeue();
        }
        if (line.Contains("Node-RED version:", StringComparison.Ordinal)) Version = line[(line.IndexOf("version:", StringComparison.Ordinal) + 8)..].Trim();
        if (line.Contains("Connected to broker", StringComparison.Ordinal)) _connected.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }
        _process.Dispose();
    }

    private static string FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var script = Path.Combine(dir.FullName, "benchmarks", "peer", "setup.sh");
                if (File.Exists(script)) return script;
                script = Path.Combine(dir.FullName, "peer", "setup.sh");
                if (File.Exists(script) && dir.Name == "benchmarks") return script;
            }
        }
        throw new FileNotFoundException("benchmarks/peer/setup.sh not found above the working directory");
    }

    /// <summary>
    /// The flow, as Node-RED's editor would export it. Ids are distinct from every name: Node-RED takes any property
    /// value equal to a config node's id for a reference (a config node named like its id "depends on itself").
    /// </summary>
    private static string Flow(int mqttPort, Uri influx, string database)
    {
        // The function normalizes one native payload into one point and batches points for the influxdb batch node.
        const string function = """
            const parts = msg.topic.split('/');
            if (parts.length !== 4) return null;
            const community = parts[1], kind = parts[2], device = parts[3];
            const p = msg.payload;
            if (p === null || typeof p !== 'object') return null;
            const ts = typeof p.ts === 'number' ? p.ts : Date.parse(p.ts);
            if (!Number.isFinite(ts)) return null;
            let measurement, metric, label, value;
            switch (kind) {
              case 'meter':
                if (typeof p.total !== 'number') return null;
                measurement = 'meter'; metric = p.type + '.total'; value = p.total; break;
              case 'gate':
                measurement = 'gate'; metric = 'gate.' + p.event; label = p.direction; value = 1; break;
              case 'parking':
                if (typeof p.free !== 'number') return null;
                measurement = 'parking'; metric = 'parking.free'; label = p.lot; value = p.free; break;
              case 'camera':
                measurement = 'camera'; metric = 'camera.' + p.event; label = p.zone; value = typeof p.count === 'number' ? p.count : 1; break;
              default:
                return null;
            }
            const tags = { community: community, device: device, metric: metric };
            if (label) tags.label = String(label);
            if (kind === 'meter' && p.household) tags.household = String(p.household);
            let batch = context.get('batch');
            if (!batch) { batch = []; context.set('batch', batch); }
            batch.push({ measurement: measurement, tags: tags, fields: { value: value }, timestamp: new Date(ts) });
            if (batch.length >= 1000) {
              context.set('batch', []);
              return { payload: batch };
            }
            if (!context.get('timer')) {
              context.set('timer', setTimeout(function () {
                context.set('timer', null);
                const rest = context.get('batch');
                if (rest && rest.length) { context.set('batch', []); node.send({ payload: rest }); }
              }, 200));
            }
            return null;
            """;
        object[] nodes =
        [
            new Dictionary<string, object> { ["id"] = "e2e-tab", ["type"] = "tab", ["label"] = "sensing peer" },
            new Dictionary<string, object>
            {
                ["id"] = "e2e-broker", ["type"] = "mqtt-broker", ["name"] = "mosquitto", ["broker"] = "127.0.0.1", ["port"] = mqttPort.ToString(CultureInfo.InvariantCulture),
                ["clientid"] = "nodered-peer", ["autoConnect"] = true, ["usetls"] = false, ["protocolVersion"] = "4", ["keepalive"] = "60", ["cleansession"] = true,
            },
            new Dictionary<string, object>
            {
                ["id"] = "e2e-in", ["type"] = "mqtt in", ["z"] = "e2e-tab", ["name"] = "devices", ["topic"] = "sensing/#", ["qos"] = "1", ["datatype"] = "json",
                ["broker"] = "e2e-broker", ["nl"] = false, ["rap"] = false, ["inputs"] = 0, ["x"] = 120, ["y"] = 80, ["wires"] = new[] { new[] { "e2e-normalize" } },
            },
            new Dictionary<string, object>
            {
                ["id"] = "e2e-normalize", ["type"] = "function", ["z"] = "e2e-tab", ["name"] = "normalize + batch", ["func"] = function, ["outputs"] = 1,
                ["x"] = 320, ["y"] = 80, ["wires"] = new[] { new[] { "e2e-out" } },
            },
            new Dictionary<string, object>
            {
                ["id"] = "e2e-influxdb", ["type"] = "influxdb", ["hostname"] = influx.Host, ["port"] = influx.Port.ToString(CultureInfo.InvariantCulture), ["protocol"] = "http",
                ["database"] = database, ["name"] = "InfluxDB 1.x", ["usetls"] = false, ["influxdbVersion"] = "1.x",
            },
            new Dictionary<string, object>
            {
                ["id"] = "e2e-out", ["type"] = "influxdb batch", ["z"] = "e2e-tab", ["influxdb"] = "e2e-influxdb", ["precision"] = "ms", ["retentionPolicy"] = "", ["name"] = "to influx",
                ["x"] = 540, ["y"] = 80, ["wires"] = Array.Empty<string[]>(),
            },
        ];
        return JsonSerializer.Serialize(nodes, new JsonSerializerOptions { WriteIndented = true });
    }
}
