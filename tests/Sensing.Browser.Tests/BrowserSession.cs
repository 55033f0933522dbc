using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MQTTnet;
using Sensing.Testing;

namespace Sensing.Browser.Tests;

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserSession>
{
    public const string Name = "Browser";
}

/// <summary>
/// One real host (Kestrel on a free loopback port, embedded broker, DuckDB) with a small community published into it
/// over MQTT, and one headless Chromium, shared by every browser test: the tests run one after another, each in its
/// own browser context (fresh storage), and each raises its own alerts.
/// </summary>
public sealed class BrowserSession : IAsyncLifetime
{
    /// <summary>How long any single wait on the page or the host may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private IPlaywright? _playwright;
    private IMqttClient? _devices;
    private string? _dataDirectory;

    public SensingTestHost Host { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public Neighbourhood World { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // Without Chromium every test here is skipped (BrowserFact); starting the host would be wasted time.
        if (Chromium.MissingReason is not null) return;
        Assertions.SetDefaultExpectTimeout((float)Timeout.TotalMilliseconds);
        _dataDirectory = Neighbourhood.NewDataDirectory();
        Host = await SensingTestHost.StartAsync(dataDirectory: _dataDirectory);
        _devices = await Host.ConnectDeviceAsync("browser-tests-devices");
        World = new Neighbourhood(Host, _devices);
        await World.PublishAsync();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(Chromium.LaunchOptions);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
        _devices?.Dispose();
        if (Host is not null) await Host.DisposeAsync();
        if (_dataDirectory is not null)
        {
            try { Directory.Delete(_dataDirectory, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>A fresh browser context (no storage, no cookies) with one page, on the address of the host (or of <paramref name="host"/>).</summary>
    public async Task<BrowserTab> OpenTabAsync(int width, int height, float deviceScaleFactor = 1, bool mobile = false, SensingTestHost? host = null)
    {
        host ??= Host;
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = host.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            DeviceScaleFactor = deviceScaleFactor,
            IsMobile = mobile,
            HasTouch = mobile,
            Locale = "zh-CN",
            TimezoneId = "Asia/Shanghai",
        });
        context.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        return await BrowserTab.OpenAsync(context, host.BaseAddress);
    }

    public async Task<HttpClient> HttpAsync(string user) => Host.Http(await Host.TokenAsync(user).WaitAsync(Timeout));

    /// <summary>Polls until <paramref name="probe"/> gives a value; fails naming <paramref name="what"/> after <see cref="Timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string what) where T : struct
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {Timeout.TotalSeconds:0}s waiting for {what}");
            await Task.Delay(200);
        }
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        var response = await http.GetAsync(path).WaitAsync(Timeout);
        var body = await response.Content.ReadAsStringAsync().WaitAsync(Timeout);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} → {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}

/// <summary>
/// A page in its own context that records what must never happen on a wall screen or a worker's phone: an uncaught
/// script error, and a request to anything but the cockpit itself (no CDN, no web font; such requests are aborted
/// rather than left to time out on this closed network).
/// </summary>
public sealed class BrowserTab : IAsyncDisposable
{
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _consoleErrors = [];
    private readonly List<string> _foreignRequests = [];
    private readonly List<string> _documentsWithoutPolicy = [];
    private int _documents;
    private readonly List<(IWebSocketRoute Page, IWebSocketRoute Server)> _sockets = [];
    private volatile bool _networkDown;

    private BrowserTab(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
    }

    public IBrowserContext Context { get; }
    public IPage Page { get; }

    public static async Task<BrowserTab> OpenAsync(IBrowserContext context, Uri host)
    {
        var page = await context.NewPageAsync();
        var tab = new BrowserTab(context, page);
        page.PageError += (_, error) => { lock (tab._pageErrors) tab._pageErrors.Add(error); };
        page.Console += (_, message) =>
        {
            if (message.Type == "error") lock (tab._consoleErrors) tab._consoleErrors.Add(message.Text);
        };
        // The pages must work under the cockpit's content security policy: every page is checked to have come with
        // one, and anything the policy blocks is reported (Chromium also logs it as a console error) and fails the test.
        page.Response += (_, response) =>
        {
            if (response.Request.ResourceType != "document") return;
            Interlocked.Increment(ref tab._documents);
            if (!response.Headers.ContainsKey("content-security-policy")) lock (tab._documentsWithoutPolicy) tab._documentsWithoutPolicy.Add(response.Url);
        };
        await page.AddInitScriptAsync("""
            document.addEventListener('securitypolicyviolation', e =>
              console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
            """);
        await context.RouteAsync("**/*", async route =>
        {
            var url = new Uri(route.Request.Url);
            if (url.Scheme is "http" or "https" or "ws" or "wss" && url.Authority == host.Authority)
            {
                if (tab._networkDown) await route.AbortAsync("internetdisconnected");
                else await route.ContinueAsync();
                return;
            }
            lock (tab._foreignRequests) tab._foreignRequests.Add(route.Request.Url);
            await route.AbortAsync();
        });
        // WebSockets pass through Playwright too, so a test can cut them as a network drop would.
        await context.RouteWebSocketAsync(_ => true, socket =>
        {
            if (tab._networkDown)
            {
                _ = socket.CloseAsync(new() { Code = 1001, Reason = "network down (test)" });
                return;
            }
            var server = socket.ConnectToServer();
            lock (tab._sockets) tab._sockets.Add((socket, server));
        });
        return tab;
    }

    /// <summary>
    /// Cuts the page off the cockpit as a dropped network would: open WebSockets close (both ends, so the server
    /// forgets the connection too), and every new request or socket fails until <see cref="RestoreNetwork"/>.
    /// </summary>
    public async Task DropNetworkAsync()
    {
        _networkDown = true;
        (IWebSocketRoute Page, IWebSocketRoute Server)[] open;
        lock (_sockets)
        {
            open = [.. _sockets];
            _sockets.Clear();
        }
        foreach (var (page, server) in open)
        {
            await page.CloseAsync(new() { Code = 1001, Reason = "network down (test)" });
            await server.CloseAsync(new() { Code = 1001, Reason = "network down (test)" });
        }
    }

    public void RestoreNetwork() => _networkDown = false;

    /// <summary>Fails if the page threw or reached outside the cockpit; the console's errors are named to help.</summary>
    public void AssertHealthy()
    {
        string[] errors, console, foreign;
        lock (_pageErrors) errors = [.. _pageErrors];
        lock (_consoleErrors) console = [.. _consoleErrors];
        lock (_foreignRequests) foreign = [.. _foreignRequests];
        Assert.True(errors.Length == 0, "The page threw:\n" + string.Join("\n", errors) + Console(console));
        Assert.True(foreign.Length == 0, "The page requested something outside the cockpit:\n" + string.Join("\n", foreign));
        var blocked = console.Where(line => line.Contains("Content Security Policy", StringComparison.Ordinal) || line.StartsWith("CSP violation", StringComparison.Ordinal)).ToArray();
        Assert.True(blocked.Length == 0, "The content security policy blocked part of the page:\n" + string.Join("\n", blocked));
        string[] unprotected;
        lock (_documentsWithoutPolicy) unprotected = [.. _documentsWithoutPolicy];
        Assert.True(unprotected.Length == 0, "Pages served without a content security policy:\n" + string.Join("\n", unprotected));
        Assert.True(Volatile.Read(ref _documents) > 0, "No page was loaded in this tab.");

        static string Console(string[] lines) => lines.Length == 0 ? "" : "\nConsole errors:\n" + string.Join("\n", lines);
    }

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}
