using System.Diagnostics;
using System.Globalization;
using Sensing.Ingest.Registry;

namespace Sensing.Benchmarks;

/// <summary>
/// <c>registry-memory</c>: what the device registry of a street office costs to hold. Writes the e2e feed's registry
/// file (<c>--communities</c>, 40: ~176,000 devices and 80,000 households), loads it the way the service does
/// (<see cref="DeviceRegistry.ReadFile"/> then <see cref="DeviceRegistry.Load"/>), marks every device seen once (as a
/// feed does), reads each community's devices (as the wall screens' tiles do) and prints the managed heap it keeps after
/// full collections, per device, and the process's RSS.
/// <code>
/// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- registry-memory [--communities 40]
/// </code>
/// </summary>
public static class RegistryMemoryCommand
{
    public static int Run(string[] args)
    {
        var i = Array.IndexOf(args, "--communities");
        var communities = i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : 40;
        var folder = Directory.CreateTempSubdirectory("sensing-registry-memory-").FullName;
        try
        {
            var path = Path.Combine(folder, "world.json");
            WriteRegistry(path, communities);
            var before = Settled();
            var clock = Stopwatch.StartNew();
            var registry = Load(path);
            var loaded = clock.Elapsed;
            var afterLoad = Settled();
            var now = DateTimeOffset.UtcNow;
            foreach (var device in registry.Devices) registry.Seen(device.Id, now);
            // And every community's devices read once, as the wall screens' tiles do (the community index).
            var indexClock = Stopwatch.StartNew();
            foreach (var community in registry.Communities) _ = registry.DevicesIn(community.Id).Count();
            var indexed = indexClock.Elapsed;
            var afterSeen = Settled();
            var devices = registry.Devices.Count;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"registry-memory: {devices:N0} devices, {registry.Households.Count:N0} households from a {new FileInfo(path).Length / 1e6:F1} MB file, loaded in {loaded.TotalSeconds:F2} s; managed heap kept {(afterLoad - before) / 1e6:F1} MB after load ({(afterLoad - before) / (double)devices:F0} B per device), {(afterSeen - before) / 1e6:F1} MB once every device was seen and every community read ({(afterSeen - before) / (double)devices:F0} B per device); process RSS {Rss("VmRSS:") / 1e6:F0} MB, peak {Rss("VmHWM:") / 1e6:F0} MB; every community's devices read in {indexed.TotalMilliseconds:F1} ms (the community index built once)"));
            GC.KeepAlive(registry);
            return 0;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    // Not inlined, so the simulated world is garbage before the first measurement.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void WriteRegistry(string path, int communities) => new E2eFeed(communities).WriteRegistry(path);

    // Not inlined, so the file's snapshot is garbage once the registry holds what it keeps.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static DeviceRegistry Load(string path)
    {
        var registry = new DeviceRegistry();
        registry.Load(DeviceRegistry.ReadFile(path));
        return registry;
    }

    private static long Settled()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static long Rss(string field) =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal)) is { } line
            ? long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024
            : 0;
}
