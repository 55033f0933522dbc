using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Sensing.Ingest.Tests.Faults;

/// <summary>
/// A real small filesystem for the spool: a tmpfs of a few megabytes mounted on a temporary folder, which a test fills
/// until the kernel answers "No space left on device", then grows (remount) to give the space back. Needs root (CI and
/// this machine run as root); elsewhere <see cref="MissingReason"/> says why the tests that need it are skipped.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private SmallDisk(string path) => Path = path;

    public string Path { get; }

    /// <summary>Why a tmpfs cannot be mounted here, or null when it can (probed once, with a 64 KiB mount).</summary>
    public static string? MissingReason => s_missing.Value;

    private static readonly Lazy<string?> s_missing = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return "a full disk is injected with a tmpfs mount, which needs Linux";
        if (Environment.UserName != "root") return $"a full disk is injected with a tmpfs mount, which needs root (running as {Environment.UserName})";
        try
        {
            using var probe = Mount(64 * 1024);
            return null;
        }
        catch (InvalidOperationException e)
        {
            return $"cannot mount a tmpfs to inject a full disk: {e.Message}";
        }
    });

    public static SmallDisk Mount(long bytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sensing-small-disk", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", path);
        return new SmallDisk(path);
    }

    /// <summary>Gives the disk more room while it is in use, as an operator freeing space would.</summary>
    public void Resize(long bytes) => Run("mount", "-o", $"remount,size={bytes}", Path);

    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    public void Dispose()
    {
        try { Run("umount", "-l", Path); } catch (InvalidOperationException) { }
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, UseShellExecute = false })
            ?? throw new InvalidOperationException($"{file} did not start");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)}: exit {process.ExitCode}: {error.Trim()}");
    }
}

/// <summary>A fact that injects a full disk: skipped, saying why, where a tmpfs cannot be mounted or influxd is missing.</summary>
internal sealed class SmallDiskFactAttribute : FactAttribute
{
    public SmallDiskFactAttribute()
    {
        if (SmallDisk.MissingReason is { } reason) Skip = reason;
        else if (!File.Exists(Sensing.Testing.InfluxServer.Executable)) Skip = $"{Sensing.Testing.InfluxServer.Executable} is missing: install Debian's 'influxdb' package (bash .ci/run does) or set SENSING_INFLUXD";
    }
}
