using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sensing.Cockpit.Access;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>The hardening headers on every kind of response: pages, scripts, styles, API answers and refusals, operations, hub negotiation.</summary>
public sealed class SecurityHeadersTests(CockpitFixture fixture) : IClassFixture<CockpitFixture>
{
    private SensingTestHost Host => fixture.Host;

    /// <summary>What is asked, as whom, and the status it must get (so each kind of response is really the one meant).</summary>
    public static TheoryData<string, string, string?, int> Responses => new()
    {
        { "GET", "/", null, 200 },
        { "GET", "/index.html", null, 200 },
        { "GET", "/worker.html", null, 200 },
        { "GET", "/app.js", null, 200 },
        { "GET", "/worker.js", null, 200 },
        { "GET", "/styles.css", null, 200 },
        { "GET", "/lib/signalr.min.js", null, 200 },
        { "GET", "/lib/echarts.min.js", null, 200 },
        { "GET", "/no-such-page.html", null, 404 },
        { "GET", "/healthz", null, 200 },
        { "GET", "/metrics", null, 200 },
        { "GET", "/api/config", null, 200 },
        { "GET", "/api/alerts", null, 401 },
        { "GET", "/api/alerts", "operator", 200 },
        { "GET", "/api/alerts/a-0000000000000000/actions", "operator", 404 },
        { "GET", "/api/tiles?community=c1", "worker1", 200 },
        { "GET", "/api/deadletters", "worker1", 403 },
        { "GET", "/api/readings", "operator", 400 },
        { "GET", "/api/export?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z", "engineer", 200 },
        { "POST", "/api/auth/token", null, 401 },
        { "POST", "/hubs/cockpit/negotiate?negotiateVersion=1", "operator", 200 },
        { "POST", "/hubs/worker/negotiate?negotiateVersion=1", null, 401 },
    };

    [Theory]
    [MemberData(nameof(Responses))]
    public async Task Every_response_carries_the_security_headers(string method, string path, string? user, int status)
    {
        using var http = user is null ? Host.Http() : await fixture.HttpAsync(user);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (path == "/api/auth/token") request.Content = JsonContent.Create(new { username = "worker1", password = "wrong" });
        using var response = await http.SendAsync(request).WaitAsync(Scenario.Timeout);

        Assert.Equal((HttpStatusCode)status, response.StatusCode);
        Assert.Equal(SecurityHeaders.ContentSecurityPolicy, Header(response, "Content-Security-Policy"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Contains("frame-ancestors 'none'", Header(response, "Content-Security-Policy"), StringComparison.Ordinal);
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal(SecurityHeaders.PermissionsPolicy, Header(response, "Permissions-Policy"));
        // Plain HTTP: no HSTS (it is for HTTPS only; see the HTTPS test).
        Assert.Null(Header(response, "Strict-Transport-Security"));
        if (path.StartsWith("/api", StringComparison.Ordinal) || path.StartsWith("/hubs", StringComparison.Ordinal))
        {
            Assert.Equal("no-store", Header(response, "Cache-Control"));
        }
        else
        {
            // Pages and scripts may be cached: they carry nobody's data.
            Assert.NotEqual("no-store", Header(response, "Cache-Control"));
        }
        Host.AssertNoLoggedErrors();
    }

    [Fact]
    public void The_policy_allows_only_the_cockpit_itself()
    {
        var directives = SecurityHeaders.ContentSecurityPolicy.Split(';', StringSplitOptions.TrimEntries)
            .ToDictionary(d => d.Split(' ')[0], d => d.Split(' ')[1..]);
        Assert.Equal(["'self'"], directives["default-src"]);
        // No inline or evaluated script, and no host but the cockpit's own: a CDN or an injected <script> does not run.
        Assert.Equal(["'self'"], directives["script-src"]);
        Assert.Equal(["'self'"], directives["connect-src"]);
        Assert.Equal(["'none'"], directives["object-src"]);
        Assert.Equal(["'none'"], directives["frame-ancestors"]);
        Assert.DoesNotContain(SecurityHeaders.ContentSecurityPolicy.Split(' '), token => token.StartsWith("http", StringComparison.Ordinal) || token == "*");
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(", ", values) : null;
}

/// <summary>HSTS over HTTPS only: a host listening on both, with a certificate made for the test.</summary>
public sealed class StrictTransportSecurityTests
{
    [Fact]
    public async Task Https_responses_carry_hsts_and_plain_http_ones_do_not()
    {
        var folder = SensingTestHost.NewDataDirectory();
        var certificatePath = Path.Combine(folder, "cockpit.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow - TimeSpan.FromDays(1), DateTimeOffset.UtcNow + TimeSpan.FromDays(1));
            await File.WriteAllBytesAsync(certificatePath, certificate.Export(X509ContentType.Pfx, "test"));
        }
        var httpPort = SensingTestHost.FreePort();
        var httpsPort = SensingTestHost.FreePort();
        try
        {
            await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?>
            {
                ["urls"] = $"http://127.0.0.1:{httpPort};https://127.0.0.1:{httpsPort}",
                ["Kestrel:Certificates:Default:Path"] = certificatePath,
                ["Kestrel:Certificates:Default:Password"] = "test",
            }, dataDirectory: folder, waitUntilHealthy: false);

            using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
            using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
            foreach (var path in new[] { "/", "/api/config", "/api/alerts", "/app.js" })
            {
                using var secure = await client.GetAsync($"https://127.0.0.1:{httpsPort}{path}").WaitAsync(Scenario.Timeout);
                Assert.True(secure.Headers.TryGetValues("Strict-Transport-Security", out var hsts), $"no HSTS on https {path}");
                Assert.Equal(SecurityHeaders.StrictTransportSecurity, Assert.Single(hsts));
                Assert.True(secure.Headers.Contains("Content-Security-Policy"), $"no CSP on https {path}");

                using var plain = await client.GetAsync($"http://127.0.0.1:{httpPort}{path}").WaitAsync(Scenario.Timeout);
                Assert.False(plain.Headers.Contains("Strict-Transport-Security"), $"HSTS on plain http {path}");
                Assert.Equal(secure.StatusCode, plain.StatusCode);
            }
            host.AssertNoLoggedErrors();
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
