using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Mqtt;

namespace Sensing.Ingest.Tests;

/// <summary>The <c>Mqtt</c> section as the host binds and validates it at start.</summary>
public sealed class MqttOptionsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sensing-mqtt-options-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static MqttOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSensingIngest(configuration);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<MqttOptions>>().Value;
    }

    private static string Failure(Dictionary<string, string?> settings) =>
        Assert.Throws<OptionsValidationException>(() => Bind(settings)).Message;

    [Fact]
    public void The_connection_to_the_broker_gets_socket_buffers_large_enough_for_tcp_window_scaling()
    {
        // MQTTnet's own default is 8 KB, which turns window scaling off (see MqttOptions.SocketBufferBytes).
        Assert.Equal(1024 * 1024, ((MQTTnet.MqttClientTcpOptions)MqttIntake.BuildClientOptions(Bind([]), tls: null).ChannelOptions).BufferSize);
        var configured = Bind(new() { ["Mqtt:SocketBufferBytes"] = "262144" });
        Assert.Equal(262_144, ((MQTTnet.MqttClientTcpOptions)MqttIntake.BuildClientOptions(configured, tls: null).ChannelOptions).BufferSize);
        Assert.Contains("SocketBufferBytes", Failure(new() { ["Mqtt:SocketBufferBytes"] = "4096" }));
    }

    [Fact]
    public void Configured_topics_replace_the_default_instead_of_joining_it()
    {
        Assert.Equal(["sensing/#"], Bind([]).Topics);
        Assert.Equal(["sensing/+/gate/#", "sensing/+/camera/#"], Bind(new() { ["Mqtt:Topics:0"] = "sensing/+/gate/#", ["Mqtt:Topics:1"] = "sensing/+/camera/#" }).Topics);
    }

    [Fact]
    public void Shared_group_subscribes_topics_through_share_and_unshared_topics_directly()
    {
        var options = Bind(new()
        {
            ["Mqtt:Embedded"] = "false",
            ["Mqtt:SharedGroup"] = "ingest",
            ["Mqtt:Topics:0"] = "sensing/+/gate/#",
            ["Mqtt:UnsharedTopics:0"] = "sensing/+/meter/#",
        });
        var filters = MqttIntake.SubscriptionFilters(options);
        Assert.Equal("$share/ingest/sensing/+/gate/#", filters[0]);
        Assert.Equal("sensing/+/meter/#", filters[^1]);
        // The vendor formats' filters (Ingest:Formats) are split across the group like Mqtt:Topics.
        Assert.Contains("$share/ingest/tele/+/SENSOR", filters);
        Assert.DoesNotContain("tele/+/SENSOR", filters);
        // The native route sensing/# is Mqtt:Topics' business: a second shared subscription beside sensing/+/gate/#
        // would match the same gate messages, and the broker would deliver each once per subscription (twice in all).
        Assert.DoesNotContain("$share/ingest/sensing/#", filters);
        Assert.Equal(filters.Count, filters.Distinct().Count());
    }

    [Theory]
    [InlineData("Mqtt:UseTls", "true", "Mqtt:UseTls is for an external broker")]
    [InlineData("Mqtt:SharedGroup", "ingest", "Mqtt:SharedGroup needs an external broker")]
    public void Embedded_broker_refuses_what_only_an_external_one_offers(string key, string value, string expected) =>
        Assert.Contains(expected, Failure(new() { [key] = value }), StringComparison.Ordinal);

    [Theory]
    [InlineData("Mqtt:CaFile", "/etc/ssl/certs/ca.pem")]
    [InlineData("Mqtt:AllowUntrustedCertificates", "true")]
    [InlineData("Mqtt:TlsServerName", "broker.example.org")]
    [InlineData("Mqtt:ClientCertificateFile", "/etc/ssl/ingest.pem")]
    public void Tls_settings_without_tls_are_refused(string key, string value) =>
        Assert.Contains($"{key} is set but Mqtt:UseTls is false", Failure(new() { ["Mqtt:Embedded"] = "false", [key] = value }), StringComparison.Ordinal);

    [Fact]
    public void A_missing_ca_file_fails_the_start_naming_the_key_and_the_path()
    {
        var message = Failure(new() { ["Mqtt:Embedded"] = "false", ["Mqtt:UseTls"] = "true", ["Mqtt:CaFile"] = Path.Combine(_folder, "missing-ca.crt") });
        Assert.Contains("Mqtt:CaFile", message, StringComparison.Ordinal);
        Assert.Contains("missing-ca.crt' does not exist", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_file_without_a_certificate_fails_the_start()
    {
        var file = Path.Combine(_folder, "not-a-ca.crt");
        File.WriteAllText(file, "hello");
        Assert.Contains("holds no readable certificate", Failure(new() { ["Mqtt:Embedded"] = "false", ["Mqtt:UseTls"] = "true", ["Mqtt:CaFile"] = file }), StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_certificate_without_its_key_fails_the_start()
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=ingest", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var file = Path.Combine(_folder, "ingest.crt");
        File.WriteAllText(file, certificate.ExportCertificatePem());
        var message = Failure(new() { ["Mqtt:Embedded"] = "false", ["Mqtt:UseTls"] = "true", ["Mqtt:ClientCertificateFile"] = file });
        Assert.Contains("Mqtt:ClientCertificateFile", message, StringComparison.Ordinal);
        Assert.Contains("cannot be used with its key", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Mqtt:Topics:0", "sensing/#/meter", "Mqtt:Topics 'sensing/#/meter' is not a valid MQTT topic filter")]
    [InlineData("Mqtt:Topics:0", "$share/g/sensing/#", "set Mqtt:SharedGroup instead")]
    [InlineData("Mqtt:SharedGroup", "a/b", "Mqtt:SharedGroup 'a/b' must be a non-empty name")]
    [InlineData("Mqtt:Password", "secret", "Mqtt:Password is set without Mqtt:Username")]
    [InlineData("Mqtt:UnsharedTopics:0", "sensing/+/meter/#", "Mqtt:UnsharedTopics 'sensing/+/meter/#' overlaps Mqtt:Topics 'sensing/#'")]
    [InlineData("Mqtt:ReceiveMaximum", "70000", "ReceiveMaximum")]
    public void Invalid_settings_fail_the_start_with_the_key(string key, string value, string expected) =>
        Assert.Contains(expected, Failure(new() { ["Mqtt:Embedded"] = "false", [key] = value }), StringComparison.Ordinal);

    [Theory]
    [InlineData("sensing/#", "sensing/+/meter/#", true)]
    [InlineData("sensing/+/gate/#", "sensing/+/meter/#", false)]
    [InlineData("sensing/c1/meter/x", "sensing/+/meter/+", true)]
    [InlineData("sensing/c1/meter", "sensing/c1/meter/#", true)]
    [InlineData("sensing/c1", "sensing/c1/meter", false)]
    [InlineData("+/+", "sensing/c1/meter", false)]
    [InlineData("#", "anything/at/all", true)]
    public void Topic_filters_overlap_when_some_topic_matches_both(string a, string b, bool overlap)
    {
        Assert.Equal(overlap, TopicFilters.Overlap(a, b));
        Assert.Equal(overlap, TopicFilters.Overlap(b, a));
    }
}
