using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// TLS to an external broker from <see cref="MqttOptions"/>: which CA to trust (<c>Mqtt:CaFile</c>, or the system's
/// store), which name the broker's certificate must carry, and the client certificate some brokers require. Loading
/// happens once, at start (<see cref="MqttOptionsValidator"/> calls <see cref="Load"/> too), so a wrong path or a key
/// that does not match fails the start with the key's name instead of every connection attempt.
/// </summary>
public sealed class BrokerTls
{
    private readonly MqttOptions _options;
    private readonly X509Certificate2Collection? _trusted;
    private readonly X509Certificate2Collection? _clientCertificates;
    private string? _lastRejection;

    private BrokerTls(MqttOptions options, X509Certificate2Collection? trusted, X509Certificate2Collection? clientCertificates)
    {
        _options = options;
        _trusted = trusted;
        _clientCertificates = clientCertificates;
    }

    /// <summary>Why the broker's certificate was last refused (chain or name), for the connection error; null if it never was.</summary>
    public string? LastRejection => Volatile.Read(ref _lastRejection);

    /// <summary>Reads the configured files. Throws <see cref="InvalidOperationException"/> naming the key when one cannot be used.</summary>
    public static BrokerTls Load(MqttOptions options)
    {
        X509Certificate2Collection? trusted = null;
        if (!string.IsNullOrWhiteSpace(options.CaFile))
        {
            trusted = ReadCertificates(options.CaFile, "Mqtt:CaFile");
        }

        X509Certificate2Collection? client = null;
        if (!string.IsNullOrWhiteSpace(options.ClientCertificateFile))
        {
            client = [ReadClientCertificate(options)];
        }
        return new BrokerTls(options, trusted, client);
    }

    public MqttClientTlsOptions ClientOptions()
    {
        var tls = new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithTargetHost(string.IsNullOrWhiteSpace(_options.TlsServerName) ? _options.Host : _options.TlsServerName)
            // Revocation lists and OCSP are rarely published by the private CAs a street office's broker uses, and a
            // check that cannot reach its endpoint would refuse every connection.
            .WithRevocationMode(X509RevocationMode.NoCheck)
            .WithCertificateValidationHandler(e => Validate(e.Certificate, e.Chain, e.SslPolicyErrors));
        if (_clientCertificates is not null)
        {
            tls.WithClientCertificates(_clientCertificates);
        }
        return tls.Build();
    }

    /// <summary>
    /// Our own check rather than MQTTnet's flags, so a refusal says why (the handshake itself only reports that the
    /// callback refused). With <c>Mqtt:CaFile</c> the chain is built against those CAs alone (custom root trust).
    /// </summary>
    internal bool Validate(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (_options.AllowUntrustedCertificates)
        {
            return true;
        }
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return Reject("the broker presented no certificate");
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return Reject($"the broker's certificate ({certificate.Subject}) is not issued for '{(string.IsNullOrWhiteSpace(_options.TlsServerName) ? _options.Host : _options.TlsServerName)}' (set Mqtt:TlsServerName to the name it carries)");
        }
        if (_trusted is null)
        {
            return errors == SslPolicyErrors.None
                || Reject($"the broker's certificate ({certificate.Subject}) is not trusted by this machine: {Describe(presented)} (set Mqtt:CaFile to the CA that signed it)");
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf)
            || Reject($"the broker's certificate ({certificate.Subject}, issued by {certificate.Issuer}) does not chain to Mqtt:CaFile: {Describe(chain)}");
    }

    private bool Reject(string why)
    {
        Volatile.Write(ref _lastRejection, why);
        return false;
    }

    private static string Describe(X509Chain? chain) =>
        chain is null || chain.ChainStatus.Length == 0 ? "no chain" : string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct());

    private static X509Certificate2Collection ReadCertificates(string path, string key)
    {
        var file = RequireFile(path, key);
        var certificates = new X509Certificate2Collection();
        try
        {
            if (File.ReadAllText(file).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                certificates.ImportFromPemFile(file);
            }
            else
            {
                certificates.Add(X509CertificateLoader.LoadCertificateFromFile(file));
            }
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"{key} '{file}' holds no readable certificate (PEM or DER): {e.Message}", e);
        }
        return certificates.Count > 0 ? certificates : throw new InvalidOperationException($"{key} '{file}' holds no certificate.");
    }

    private static X509Certificate2 ReadClientCertificate(MqttOptions options)
    {
        var file = RequireFile(options.ClientCertificateFile!, "Mqtt:ClientCertificateFile");
        try
        {
            X509Certificate2 certificate;
            if (Path.GetExtension(file).ToLowerInvariant() is ".pfx" or ".p12")
            {
                if (!string.IsNullOrWhiteSpace(options.ClientKeyFile))
                {
                    throw new InvalidOperationException("Mqtt:ClientKeyFile is for a PEM certificate; a PKCS#12 file (.pfx/.p12) carries its own key.");
                }
                certificate = X509CertificateLoader.LoadPkcs12FromFile(file, options.ClientCertificatePassword);
            }
            else
            {
                var keyFile = string.IsNullOrWhiteSpace(options.ClientKeyFile) ? file : RequireFile(options.ClientKeyFile, "Mqtt:ClientKeyFile");
                using var pem = string.IsNullOrEmpty(options.ClientCertificatePassword)
                    ? X509Certificate2.CreateFromPemFile(file, keyFile)
                    : X509Certificate2.CreateFromEncryptedPemFile(file, options.ClientCertificatePassword, keyFile);
                // A PEM key is ephemeral; TLS stacks want the certificate and its key as one persisted pair.
                certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            return certificate.HasPrivateKey
                ? certificate
                : throw new InvalidOperationException($"Mqtt:ClientCertificateFile '{file}' has no private key (set Mqtt:ClientKeyFile).");
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException(
                $"Mqtt:ClientCertificateFile '{file}' cannot be used with its key{(string.IsNullOrWhiteSpace(options.ClientKeyFile) ? "" : $" ('{options.ClientKeyFile}')")}: {e.Message}", e);
        }
    }

    private static string RequireFile(string path, string key)
    {
        var full = Path.GetFullPath(path);
        return File.Exists(full) ? full : throw new InvalidOperationException($"{key} '{path}' does not exist (resolved to '{full}').");
    }
}
