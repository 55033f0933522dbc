using System.Net;
using Sensing.Testing;

namespace Sensing.Ingest.Tests.Brokers;

/// <summary>
/// TLS and credentials against a real mosquitto with a CA and server certificate made for it: the right settings
/// connect and deliver; each wrong one is refused with an error that names what to fix, in the log and in
/// <c>/healthz</c>, and ingest keeps retrying.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BrokerSecurityTests
{
    private static readonly Dictionary<string, string> Users = new() { ["ingest"] = "ingest-secret", ["device"] = "device-secret" };

    [MosquittoFact]
    public async Task Ingest_connects_over_tls_with_credentials_and_stores_what_devices_publish()
    {
        await using var broker = await MosquittoServer.StartAsync(new MosquittoSettings { Tls = true, Users = Users });
        await using var host = await SensingTestHost.StartAsync(broker.IngestSettings("ingest-tls", tls: true, "ingest", "ingest-secret"));

        var (_, health) = await host.HealthAsync();
        var mqtt = health.GetProperty("mqtt");
        Assert.True(mqtt.GetProperty("connected").GetBoolean());
        Assert.True(mqtt.GetProperty("tls").GetBoolean());
        Assert.Equal(broker.TlsPort, mqtt.GetProperty("port").GetInt32());

        var start = BrokerFeed.RecentStart();
        var devices = await BrokerFeed.PublishersAsync(broker, "tls-device", 1, tls: true, "device", "device-secret");
        await FeedPublisher.PublishAsync(devices, BrokerFeed.GatePasses("c6", start, 0, 200));
        BrokerFeed.Dispose(devices);
        await BrokerFeed.UntilAsync(async () => await BrokerFeed.StoredPassCountAsync(host, "c6", start) == 200, "the passes published over TLS");
        host.AssertNoLoggedErrors();
    }

    [MosquittoFact]
    public async Task A_wrong_password_is_reported_as_such_and_retried()
    {
        await using var broker = await MosquittoServer.StartAsync(new MosquittoSettings { Tls = true, Users = Users });
        await using var host = await SensingTestHost.StartAsync(broker.IngestSettings("ingest-wrong-password", tls: true, "ingest", "not-the-password"), waitUntilHealthy: false);

        var (status, body) = await BrokerFeed.HealthUntilAsync(host, (_, mqtt) => mqtt.GetProperty("failed_attempts").GetInt32() >= 3, "three refused attempts", TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("disconnected", body.GetProperty("broker").GetString());
        var error = body.GetProperty("mqtt").GetProperty("last_error").GetString();
        // mosquitto 2 answers a wrong password with "not authorized" (MQTT 5 allows it or "bad user name or password").
        Assert.Contains("the broker refused the connection: NotAuthorized (check Mqtt:Username and Mqtt:Password", error, StringComparison.Ordinal);
        // Logged once as an error (the first of the streak), not once per attempt.
        var logged = Assert.Single(host.LoggedErrors);
        Assert.Contains("NotAuthorized (check Mqtt:Username and Mqtt:Password", logged, StringComparison.Ordinal);
        Assert.Contains("retrying", logged, StringComparison.Ordinal);
    }

    [MosquittoFact]
    public async Task A_server_certificate_from_another_ca_or_for_another_name_is_refused_with_the_reason()
    {
        await using var broker = await MosquittoServer.StartAsync(new MosquittoSettings { Tls = true });
        await using var stranger = await MosquittoServer.StartAsync(new MosquittoSettings { Tls = true });

        var otherCa = broker.IngestSettings("ingest-other-ca", tls: true);
        otherCa["Mqtt:CaFile"] = stranger.CaFile;
        await using (var host = await SensingTestHost.StartAsync(otherCa, waitUntilHealthy: false))
        {
            var (_, body) = await BrokerFeed.HealthUntilAsync(host, (_, mqtt) => mqtt.GetProperty("failed_attempts").GetInt32() >= 1, "a refused handshake", TimeSpan.FromSeconds(30));
            Assert.Contains("does not chain to Mqtt:CaFile", body.GetProperty("mqtt").GetProperty("last_error").GetString(), StringComparison.Ordinal);
        }

        var systemTrust = broker.IngestSettings("ingest-system-trust", tls: true);
        systemTrust.Remove("Mqtt:CaFile");
        await using (var host = await SensingTestHost.StartAsync(systemTrust, waitUntilHealthy: false))
        {
            var (_, body) = await BrokerFeed.HealthUntilAsync(host, (_, mqtt) => mqtt.GetProperty("failed_attempts").GetInt32() >= 1, "a refused handshake", TimeSpan.FromSeconds(30));
            Assert.Contains("not trusted by this machine", body.GetProperty("mqtt").GetProperty("last_error").GetString(), StringComparison.Ordinal);
        }

        var wrongName = broker.IngestSettings("ingest-wrong-name", tls: true);
        wrongName["Mqtt:TlsServerName"] = "broker.example.org";
        await using (var host = await SensingTestHost.StartAsync(wrongName, waitUntilHealthy: false))
        {
            var (_, body) = await BrokerFeed.HealthUntilAsync(host, (_, mqtt) => mqtt.GetProperty("failed_attempts").GetInt32() >= 1, "a refused handshake", TimeSpan.FromSeconds(30));
            Assert.Contains("not issued for 'broker.example.org'", body.GetProperty("mqtt").GetProperty("last_error").GetString(), StringComparison.Ordinal);
        }

        // The right name, given explicitly, connects (the certificate is for localhost and 127.0.0.1).
        var rightName = broker.IngestSettings("ingest-right-name", tls: true);
        rightName["Mqtt:TlsServerName"] = "localhost";
        await using (var host = await SensingTestHost.StartAsync(rightName))
        {
            host.AssertNoLoggedErrors();
        }
    }

    [MosquittoFact]
    public async Task A_broker_that_requires_client_certificates_accepts_the_configured_one()
    {
        await using var broker = await MosquittoServer.StartAsync(new MosquittoSettings { Tls = true, RequireClientCertificate = true });
        var (certificate, key) = broker.IssueClientCertificate("sensing-ingest");

        var settings = broker.IngestSettings("ingest-mtls", tls: true);
        settings["Mqtt:ClientCertificateFile"] = certificate;
        settings["Mqtt:ClientKeyFile"] = key;
        await using (var host = await SensingTestHost.StartAsync(settings))
        {
            host.AssertNoLoggedErrors();
        }

        // Without one the broker ends the handshake; ingest reports it and keeps trying.
        await using (var host = await SensingTestHost.StartAsync(broker.IngestSettings("ingest-no-certificate", tls: true), waitUntilHealthy: false))
        {
            var (status, body) = await BrokerFeed.HealthUntilAsync(host, (_, mqtt) => mqtt.GetProperty("failed_attempts").GetInt32() >= 2, "refused attempts", TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.False(string.IsNullOrEmpty(body.GetProperty("mqtt").GetProperty("last_error").GetString()));
        }
    }
}
