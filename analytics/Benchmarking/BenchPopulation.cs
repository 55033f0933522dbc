using Sensing.Analytics.LivingAlone;
using Sensing.Telemetry;

namespace Sensing.Analytics.Benchmarking;

/// <summary>
/// A synthetic population for the speed measurements: households with a daily rhythm (about one in twelve elderly
/// living alone), their own scale and ±30 % hourly noise, generated fast and deterministically. Not a quality test
/// (that is <c>evaluate</c>): only the amount and shape of the work matter here.
/// </summary>
public sealed class BenchPopulation
{
    public static readonly DateTimeOffset Start = new(2026, 9, 1, 0, 0, 0, TimeSpan.FromHours(8));
    public static readonly TimeZoneInfo Zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");

    private static readonly float[] s_water = [0.1f, 0.05f, 0.05f, 0.05f, 0.2f, 1.2f, 2.0f, 1.6f, 1.0f, 0.8f, 1.2f, 1.9f, 1.2f, 0.5f, 0.5f, 0.7f, 1.4f, 1.8f, 1.3f, 0.9f, 0.6f, 0.3f, 0.15f, 0.1f];
    private static readonly float[] s_power = [0.5f, 0.5f, 0.5f, 0.5f, 0.6f, 1.0f, 1.4f, 1.3f, 1.1f, 1.0f, 1.2f, 1.5f, 1.2f, 0.9f, 0.9f, 1.0f, 1.3f, 1.6f, 1.7f, 1.6f, 1.3f, 0.9f, 0.6f, 0.5f];

    private readonly float[] _waterLevel;
    private readonly float[] _powerLevel;

    public BenchPopulation(int households)
    {
        Count = households;
        Ids = [.. Enumerable.Range(0, households).Select(i => $"h-{i:000000}")];
        Elderly = [.. Enumerable.Range(0, households).Select(i => Unit(i, 0, 1) < 0.08)];
        _waterLevel = [.. Enumerable.Range(0, households).Select(i => (float)(0.006 + 0.02 * Unit(i, 0, 2)))];
        _powerLevel = [.. Enumerable.Range(0, households).Select(i => (float)(0.1 + 0.3 * Unit(i, 0, 3)))];
    }

    public int Count { get; }
    public string[] Ids { get; }
    public bool[] Elderly { get; }

    /// <summary>Household i's use in UTC hour index <paramref name="hour"/> from <see cref="Start"/>.</summary>
    public (float Water, float Electricity) Use(int i, int hour)
    {
        var local = (hour + 8) % 24;
        return (_waterLevel[i] * s_water[local] * (float)(0.7 + 0.6 * Unit(i, hour, 4)),
                _powerLevel[i] * s_power[local] * (float)(0.7 + 0.6 * Unit(i, hour, 5)));
    }

    public HouseholdHistory History(int days)
    {
        var from = Start.ToUniversalTime();
        var builder = new HouseholdHistory.Builder(from, from.AddDays(days), Zone);
        for (var i = 0; i < Count; i++)
        {
            for (var h = 0; h < days * 24; h++)
            {
                var (water, electricity) = Use(i, h);
                builder.Add(Ids[i], Meter.Water, from.AddHours(h), water);
                builder.Add(Ids[i], Meter.Electricity, from.AddHours(h), electricity);
            }
        }
        return builder.Build();
    }

    /// <summary>The store window of one hour (index from <see cref="Start"/>): four readings per meter, a few gate passes.</summary>
    public List<HourlySeries> Window(int hour)
    {
        var start = Start.ToUniversalTime().AddHours(hour);
        var series = new List<HourlySeries>(2 * Count + Count / 50);
        for (var i = 0; i < Count; i++)
        {
            var (water, electricity) = Use(i, hour);
            var id = Ids[i];
            series.Add(new HourlySeries($"wm-{i}", Metrics.WaterConsumption, null, id, "c1", "g1", start, 4, water, start.AddMinutes(52)));
            series.Add(new HourlySeries($"em-{i}", Metrics.ElectricityConsumption, null, id, "c1", "g1", start, 4, electricity, start.AddMinutes(52)));
            if (Unit(i, hour, 6) < 0.02)
                series.Add(new HourlySeries("gate-1", Metrics.GatePass, Unit(i, hour, 7) < 0.5 ? "in" : "out", id, "c1", "g1", start, 1, 1, start.AddMinutes(30)));
        }
        return series;
    }

    private static double Unit(int household, int hour, int salt)
    {
        var z = ((ulong)household << 32) ^ ((ulong)(uint)hour << 4) ^ (ulong)salt;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return ((z ^ (z >> 31)) >> 11) * (1.0 / (1UL << 53));
    }
}
