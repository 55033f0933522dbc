using Microsoft.Playwright;

namespace Sensing.Browser.Tests;

/// <summary>
/// Debian's Chromium, launched by Playwright's bundled driver. Playwright never downloads a browser here: the
/// executable is the system's (<c>apt-get install chromium</c>, which <c>.ci/run</c> does), and the flags keep it
/// off every network but the loopback the host listens on (the machine has none other, and a browser that tries
/// waits on timeouts).
/// </summary>
public static class Chromium
{
    public static string Executable => Environment.GetEnvironmentVariable("SENSING_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Why browser tests are skipped on this machine, or null when Chromium is there.</summary>
    public static string? MissingReason => File.Exists(Executable) ? null
        : $"{Executable} is missing: install Debian's 'chromium' package (bash .ci/run does) or set SENSING_CHROMIUM.";

    public static BrowserTypeLaunchOptions LaunchOptions => new()
    {
        ExecutablePath = Executable,
        // Playwright adds --headless and gives each launch a fresh, temporary --user-data-dir of its own
        // (it refuses one in Args: a profile left from an earlier run could carry cookies or a service worker).
        Headless = true,
        Args =
        [
            "--no-sandbox", // CI runs as root, where Chromium's sandbox will not start
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
        Timeout = 60_000,
    };
}

/// <summary>A test that needs a real Chromium: skipped, saying why, only when the package is not installed.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Chromium.MissingReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs a real Chromium: skipped, saying why, only when the package is not installed.</summary>
public sealed class BrowserTheoryAttribute : TheoryAttribute
{
    public BrowserTheoryAttribute()
    {
        if (Chromium.MissingReason is { } reason) Skip = reason;
    }
}
