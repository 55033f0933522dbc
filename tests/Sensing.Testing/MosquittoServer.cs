using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit;

namespace Sensing.Testing;

/// <summary>How a <see cref="MosquittoServer"/> is set up.</summary>
public sealed record MosquittoSettings
{
    /// <summary>Also listen with TLS (a CA and a server certificate for <c>localhost</c>/127.0.0.1 made for this server).</summary>
    public bool Tls { get; init; }

    /// <summary>The TLS listener asks for a client certificate signed by the same CA (<see cref="MosquittoServer.IssueClientCertificate"/>).</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>Users and passwords (a <c>mosquitto_passwd</c> file); with any, anonymous clients are refused.</summary>
    public IReadOnlyDictionary<string, string> Users { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Messages the broker queues per client beyond those in flight. mosquitto's default (1,000) drops QoS 1 messages
    /// for a subscriber that is away or behind; 0 means no limit, what an ingest broker needs (see the README).
    /// </summary>
    public int MaxQueuedMessages { get; init; }

    /// <summary>Further lines for <c>mosquitto.conf</c>.</summary>
    public IReadOnlyList<string> ExtraConfig { get; init; } = [];
}

/// <summary>
/// A real <c>mosquitto</c> (Debian's package; <c>.ci/run</c> installs it) on a free loopback port with its own config,
/// persistence folder and, on request, TLS (a CA and server certificate made here) and password file. Started per test
/// (it starts in a few milliseconds), stopped gracefully (SIGTERM, so the persistence file keeps sessions and queued
/// messages) by <see cref="StopAsync"/>, started again on the same ports and folder by <see cref="StartAsync()"/>, and
/// killed, with its folder deleted, on dispose.
/// <para>
/// Like <see cref="InfluxServer"/> it runs under a small shell that holds our end of a pipe on stdin: if the test host
/// dies without disposing it, the pipe closes and the shell stops mosquitto, so no broker outlives the run.
/// </para>
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    private readonly ServerLog _log = new();
    private readonly string _config;
    private Process? _process;

    private MosquittoServer(string folder, MosquittoSettings settings)
    {
        Folder = folder;
        Settings = settings;
        _config = Path.Combine(folder, "mosquitto.conf");
    }

    public static string Executable => Environment.GetEnvironmentVariable("SENSING_MOSQUITTO") ?? "/usr/sbin/mosquitto";

    /// <summary>The package's password tool, which writes the hash format this mosquitto reads.</summary>
    public static string PasswordTool => Environment.GetEnvironmentVariable("SENSING_MOSQUITTO_PASSWD") ?? "/usr/bin/mosquitto_passwd";

    public static bool IsInstalled => File.Exists(Executable);

    /// <summary>Why broker tests are skipped on this machine, or null when mosquitto is there.</summary>
    public static string? MissingReason => IsInstalled ? null
        : $"{Executable} is missing: install Debian's 'mosquitto' package (bash .ci/run does) or set SENSING_MOSQUITTO.";

    public string Folder { get; }
    public MosquittoSettings Settings { get; }

    /// <summary>The plain listener on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>The TLS listener on 127.0.0.1 (0 without <see cref="MosquittoSettings.Tls"/>).</summary>
    public int TlsPort { get; private set; }

    /// <summary>The CA certificate (PEM) that signed the server's certificate.</summary>
    public string CaFile => Path.Combine(Folder, "ca.crt");

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The running mosquitto's process id (for a benchmark's CPU figures), or null when it is stopped.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public static async Task<MosquittoServer> StartAsync(MosquittoSettings? settings = null)
    {
        if (!IsInstalled) throw new InvalidOperationException(MissingReason);
        settings ??= new MosquittoSettings();
        // A free port found here may be taken before mosquitto binds it; try a few times rather than fail a run.
        for (var attempt = 1; ; attempt++)
        {
            var folder = Path.Combine(Path.GetTempPath(), "sensing-mosquitto-tests", Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(folder);
            var server = new MosquittoServer(folder, settings);
            try
            {
                await server.PrepareAsync();
                await server.StartAsync();
                return server;
            }
            catch (Exception)
            {
                await server.DisposeAsync();
                if (attempt >= 3) throw;
            }
        }
    }

    private async Task PrepareAsync()
    {
        Port = SensingTestHost.FreePort();
        if (Settings.Tls)
        {
            do TlsPort = SensingTestHost.FreePort(); while (TlsPort == Port);
            WriteCertificates();
        }

        var config = new StringBuilder();
        void Line(string line) => config.Append(line).Append('\n');
        Line("per_listener_settings false");
        // Started as root, mosquitto 2 drops to user 'mosquitto', which may not read this folder; stay who we are.
        Line($"user {Environment.UserName}");
        Line("persistence true");
        Line($"persistence_location {Folder}/");
        Line("autosave_interval 0");
        Line($"max_queued_messages {Settings.MaxQueuedMessages.ToString(CultureInfo.InvariantCulture)}");
        // Publishers of the tests pipeline many QoS 1 messages; the broker's default allows 20 in flight per client.
        Line("max_inflight_messages 0");
        Line("log_dest stderr");
        Line("log_type error");
        Line("log_type warning");
        Line("log_type notice");
        Line("log_type information");
        Line("connection_messages true");
        if (Settings.Users.Count > 0)
        {
            var passwords = Path.Combine(Folder, "passwords");
            foreach (var (user, password) in Settings.Users)
            {
                await RunAsync(PasswordTool, File.Exists(passwords) ? ["-b", passwords, user, password] : ["-c", "-b", passwords, user, password]);
            }
            Line("allow_anonymous false");
            Line($"password_file {passwords}");
        }
        else
        {
            Line("allow_anonymous true");
        }
        Line($"listener {Port.ToString(CultureInfo.InvariantCulture)} 127.0.0.1");
        if (Settings.Tls)
        {
            Line($"listener {TlsPort.ToString(CultureInfo.InvariantCulture)} 127.0.0.1");
            Line($"cafile {CaFile}");
            Line($"certfile {Path.Combine(Folder, "server.crt")}");
            Line($"keyfile {Path.Combine(Folder, "server.key")}");
            if (Settings.RequireClientCertificate)
            {
                Line("require_certificate true");
            }
        }
        foreach (var extra in Settings.ExtraConfig) Line(extra);
        await File.WriteAllTextAsync(_config, config.ToString());
    }

    /// <summary>Starts the broker (again, after <see cref="StopAsync"/>) on the same ports, config and persistence folder.</summary>
    public async Task StartAsync()
    {
        if (IsRunning) throw new InvalidOperationException("mosquitto is running already");
        _process = WatchedServer.Start(Executable, ["-c", _config], _log.Add);

        var deadline = Stopwatch.StartNew();
        foreach (var port in TlsPort > 0 ? new[] { Port, TlsPort } : [Port])
        {
            while (true)
            {
                if (_process.HasExited) throw new InvalidOperationException($"mosquitto exited with {_process.ExitCode}: {Log()}");
                if (deadline.Elapsed > TimeSpan.FromSeconds(15)) throw new TimeoutException($"mosquitto did not listen on {port} within 15 s: {Log()}");
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
                    break;
                }
                catch (Exception e) when (e is SocketException or TimeoutException)
                {
                    await Task.Delay(20);
                }
            }
        }
    }

    /// <summary>Stops the broker as an operator would (SIGTERM): it saves sessions and queued messages to its persistence file.</summary>
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

    /// <summary>
    /// Settings for a <see cref="SensingTestHost"/> whose ingest uses this broker (<c>Mqtt:Embedded=false</c>), on the plain
    /// listener or, with <paramref name="tls"/>, the TLS one trusting this server's CA.
    /// </summary>
    public Dictionary<string, string?> IngestSettings(string clientId, bool tls = false, string? user = null, string? password = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mqtt:Embedded"] = "false",
            ["Mqtt:Host"] = "127.0.0.1",
            ["Mqtt:Port"] = (tls ? TlsPort : Port).ToString(CultureInfo.InvariantCulture),
            ["Mqtt:ClientId"] = clientId,
        };
        if (tls)
        {
            settings["Mqtt:UseTls"] = "true";
            settings["Mqtt:CaFile"] = CaFile;
        }
        if (user is not null)
        {
            settings["Mqtt:Username"] = user;
            settings["Mqtt:Password"] = password;
        }
        return settings;
    }

    /// <summary>An MQTT 5 client connected to the plain listener (or the TLS one, trusting this server's CA), for publishing as devices do.</summary>
    public async Task<IMqttClient> ConnectClientAsync(string clientId, bool tls = false, string? user = null, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", tls ? TlsPort : Port)
            .WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(30));
        if (user is not null) options.WithCredentials(user, password);
        if (tls)
        {
            var trust = new X509Certificate2Collection { X509CertificateLoader.LoadCertificateFromFile(CaFile) };
            options.WithTlsOptions(t => t.UseTls().WithTargetHost("localhost").WithTrustChain(trust));
        }
        var result = await client.ConnectAsync(options.Build()).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    /// <summary>Writes a client certificate and its key (PEM) signed by this server's CA; returns their paths.</summary>
    public (string Certificate, string Key) IssueClientCertificate(string name)
    {
        using var ca = X509Certificate2.CreateFromPemFile(CaFile, Path.Combine(Folder, "ca.key"));
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), ca.NotAfter.AddDays(-1), RandomNumberGenerator.GetBytes(16));
        var certificatePath = Path.Combine(Folder, name + ".crt");
        var keyPath = Path.Combine(Folder, name + ".key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>The broker's recent log lines (connections, refusals, drops), for assertion messages.</summary>
    public string Log() => _log.ToString();

    /// <summary>
    /// A CA and a server certificate for <c>localhost</c> and 127.0.0.1, made with .NET's own X.509 API (what openssl's
    /// <c>req -x509</c> and <c>x509 -req</c> would make), valid from yesterday for a few days.
    /// </summary>
    private void WriteCertificates()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Sensing Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(3));
        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Folder, "ca.key"), caKey.ExportPkcs8PrivateKeyPem());

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var server = serverRequest.Create(ca, now.AddDays(-1), now.AddDays(2), RandomNumberGenerator.GetBytes(16));
        File.WriteAllText(Path.Combine(Folder, "server.crt"), server.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Folder, "server.key"), serverKey.ExportPkcs8PrivateKeyPem());
    }

    private static async Task RunAsync(string tool, string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {tool}.");
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} failed ({process.ExitCode}): {await error}");
    }


}

/// <summary>A fact that needs a real mosquitto: skipped, saying why, only when the package is not installed.</summary>
public sealed class MosquittoFactAttribute : FactAttribute
{
    public MosquittoFactAttribute()
    {
        if (MosquittoServer.MissingReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs a real mosquitto: skipped, saying why, only when the package is not installed.</summary>
public sealed class MosquittoTheoryAttribute : TheoryAttribute
{
    public MosquittoTheoryAttribute()
    {
        if (MosquittoServer.MissingReason is { } reason) Skip = reason;
    }
}
