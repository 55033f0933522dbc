using System.Globalization;

namespace Sensing.Benchmarks;

/// <summary>CPU time of a process and of the whole machine from <c>/proc</c> (Linux), for the e2e command's CPU column.</summary>
internal static class ProcessCpu
{
    // USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK); /proc reports in those ticks.
    private const double TicksPerSecond = 100;

    /// <summary>
    /// User + system seconds of <paramref name="pid"/> and its live descendants (mosquitto and influxd run under a small
    /// shell watchdog; the shell's own share is nil). 0 once it is gone.
    /// </summary>
    public static double Seconds(int pid)
    {
        var total = Own(pid);
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                foreach (var child in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    total += Seconds(int.Parse(child, CultureInfo.InvariantCulture));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return total;
    }

    private static double Own(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Busy and total seconds of all cores together since boot (first line of <c>/proc/stat</c>).</summary>
    public static (double Busy, double Total) Machine()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
        var total = fields.Take(8).Sum();
        var idle = fields[3] + fields[4];
        return ((total - idle) / TicksPerSecond, total / TicksPerSecond);
    }

    /// <summary>The 1-minute load average.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
