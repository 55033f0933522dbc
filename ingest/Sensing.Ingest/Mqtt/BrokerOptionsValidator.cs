using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// Checks <see cref="BrokerOptions"/> at start, beyond the data annotations: the TLS certificate loads and has its
/// private key, configured users carry hashes (never passwords) and valid topic filters, and anonymous access is not
/// switched off under the demo, whose feed publishes anonymously. A wrong value stops the start naming the key.
/// </summary>
internal sealed class BrokerOptionsValidator(IConfiguration configuration) : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        var failures = new List<string>();
        var demo = configuration.GetValue("Demo:Enabled", true);
        if (demo && options.AllowAnonymous == false)
        {
            failures.Add("Broker:AllowAnonymous=false needs Demo:Enabled=false: the demo feed publishes to the embedded broker anonymously.");
        }
        var tlsFiles = !string.IsNullOrWhiteSpace(options.TlsCertificateFile) || !string.IsNullOrWhiteSpace(options.TlsKeyFile);
        if (options.TlsPort is not null && string.IsNullOrWhiteSpace(options.TlsCertificateFile))
        {
            failures.Add("Broker:TlsPort is set without Broker:TlsCertificateFile (PEM with Broker:TlsKeyFile, or a .pfx/.p12).");
        }
        else if (options.TlsPort is null && tlsFiles)
        {
            failures.Add("Broker:TlsCertificateFile is set but Broker:TlsPort is not: set the port of the TLS listener (8883 by convention).");
        }
        else if (options.TlsPort is { } tlsPort)
        {
            if (tlsPort == configuration.GetValue("Mqtt:Port", 1883)) failures.Add($"Broker:TlsPort {tlsPort} is Mqtt:Port too: the TLS listener needs its own port.");
            try
            {
                BrokerCertificate.Load(options).Dispose();
            }
            catch (InvalidOperationException e)
            {
                failures.Add(e.Message);
            }
        }
        foreach (var user in options.Users)
        {
            if (string.IsNullOrWhiteSpace(user.Username)) failures.Add("Broker:Users: every user needs a Username.");
            else if (user.Username == ServiceCredential.DefaultUsername) failures.Add($"Broker:Users: '{user.Username}' is the service's own username.");
            if (!Sensing.Telemetry.PasswordHash.IsWellFormed(user.PasswordHash))
            {
                failures.Add($"Broker:Users '{user.Username}': PasswordHash must be a hash from PasswordHash.Create (pbkdf2-sha256$…), never a password.");
            }
            foreach (var topic in user.Topics)
            {
                if (Normalization.VendorFormats.FilterProblem(topic) is { } problem) failures.Add($"Broker:Users '{user.Username}': topic filter '{topic}' {problem}");
            }
        }
        if (options.Users.GroupBy(u => u.Username, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            failures.Add($"Broker:Users: '{twice.Key}' is listed twice.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Loads the embedded broker's TLS certificate with its private key, or says which key is wrong.</summary>
internal static class BrokerCertificate
{
    public static X509Certificate2 Load(BrokerOptions options)
    {
        var path = options.TlsCertificateFile ?? throw new InvalidOperationException("Broker:TlsCertificateFile is not set.");
        if (!File.Exists(path)) throw new InvalidOperationException($"Broker:TlsCertificateFile '{path}' does not exist.");
        if (options.TlsKeyFile is { Length: > 0 } keyFile && !File.Exists(keyFile)) throw new InvalidOperationException($"Broker:TlsKeyFile '{keyFile}' does not exist.");
        X509Certificate2 certificate;
        try
        {
            var extension = Path.GetExtension(path).ToLowerInvariant();
            certificate = extension is ".pfx" or ".p12"
                ? X509CertificateLoader.LoadPkcs12FromFile(path, options.TlsCertificatePassword)
                : string.IsNullOrEmpty(options.TlsCertificatePassword)
                    ? X509Certificate2.CreateFromPemFile(path, options.TlsKeyFile is { Length: > 0 } key ? key : null)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, options.TlsCertificatePassword, options.TlsKeyFile is { Length: > 0 } encryptedKey ? encryptedKey : null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException)
        {
            throw new InvalidOperationException($"Broker:TlsCertificateFile '{path}' could not be read with its key: {e.Message}", e);
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"Broker:TlsCertificateFile '{path}' has no private key: add Broker:TlsKeyFile, or use a .pfx with its key.");
        }
        // A certificate made from PEM holds an ephemeral key that TLS on some platforms cannot use; a PKCS#12 round trip
        // gives it a usable one.
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
