using System.Runtime.InteropServices;

namespace Sensing.Cockpit;

/// <summary>
/// The C allocator's arenas (glibc on Linux), where DuckDB's memory comes from. glibc gives each thread that meets
/// contention an arena of its own, up to eight per core, and keeps the pages an arena once held: the store's writes run on
/// whichever thread-pool thread is current, so over a week DuckDB's allocations and frees spread across many arenas and
/// resident memory crept up while DuckDB's own accounting (capped by <c>Store:MemoryLimit</c>) and the managed heap stayed
/// flat. Two arenas held it (soak, benchmarks/README.md). <c>Runtime:MallocArenas</c>: the cap, default 2; 0 leaves
/// glibc's default. Same effect as <c>MALLOC_ARENA_MAX</c>, which only works when set before the process starts.
/// </summary>
internal static class NativeAllocator
{
    public const string ArenasKey = "Runtime:MallocArenas";
    public const int DefaultArenas = 2;

    // glibc's mallopt parameter for the arena cap (malloc.h: M_ARENA_MAX).
    private const int MArenaMax = -8;

    /// <summary>Applies the configured cap; returns whether the allocator took it (false off glibc, or when 0 leaves the default).</summary>
    public static bool LimitArenas(IConfiguration configuration)
    {
        var arenas = configuration.GetValue(ArenasKey, DefaultArenas);
        if (arenas is < 0 or > 1024)
        {
            throw new InvalidOperationException($"{ArenasKey} must be between 1 and 1024 (0: the C library's default), not {arenas}.");
        }
        if (arenas == 0 || !OperatingSystem.IsLinux()) return false;
        try
        {
            return MallOpt(MArenaMax, arenas) == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl has no arenas to cap): nothing to do.
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int parameter, int value);
}
