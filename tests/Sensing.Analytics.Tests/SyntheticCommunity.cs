using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

/// <summary>
/// A small, seeded population of households with daily rhythms (breakfast, lunch, evening peaks, quiet
/// nights), later and heavier weekends, household-specific scale and multiplicative noise.
/// Hourly truth per household, plus per-household overrides for the scenario under test.
/// </summary>
internal sealed class SyntheticCommunity
{
    public static readonly TimeZoneInfo Shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");

    /// <summary>Sunday 2026-11-01 00:00 in Shanghai.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.FromHours(8));

    private readonly double[] _waterScale;
    private readonly double[] _electricityScale;
    private readonly Dictionary<(int Household, DateTimeOffset Hour), (double Water, double Electricity)> _noise = new();
    private readonly Random _random;
    private readonly List<Func<int, DateTimeOffset, (double Water, double Electricity), (double Water, double Electricity)>> _scenarios = [];

    public SyntheticCommunity(int households, int seed = 7)
    {
        _random = new Random(seed);
        Households = Enumerable.Range(0, households)
            .Select(i => new Household(HouseholdId(i), "c1", i % 2 == 0 ? "g1" : "g2"))
            .ToArray();
        _waterScale = Households.Select(_ => 0.6 + _random.NextDouble()).ToArray();
        _electricityScale = Households.Select(_ => 0.6 + _random.NextDouble()).ToArray();
    }

    public Household[] Households { get; }

    public static string HouseholdId(int i) => $"h-{i:00}";
    public static string WaterMeter(int i) => $"wm-{i:00}";
    public static string ElectricityMeter(int i) => $"em-{i:00}";

    /// <summary>Local time on day <paramref name="day"/> (0 = 2026-11-01) at <paramref name="hour"/>.</summary>
    public static DateTimeOffset At(int day, int hour) => Start.AddDays(day).AddHours(hour);

    public void MarkElderly(int i) => Households[i] = Households[i] with { ElderlyLivingAlone = true };

    /// <summary>From <paramref name="from"/> (inclusive) to <paramref name="until"/> (exclusive), household i uses only the given shares.</summary>
    public void Drop(int i, DateTimeOffset from, DateTimeOffset until, double waterShare, double electricityShare) =>
        _scenarios.Add((household, hour, usage) => household == i && hour >= from && hour < until
            ? (usage.Water * waterShare, usage.Electricity * electricityShare)
            : usage);

    /// <summary>Water (m³) and electricity (kWh) household i uses in the hour starting at <paramref name="hour"/>.</summary>
    public (double Water, double Electricity) Usage(int i, DateTimeOffset hour)
    {
        var local = TimeZoneInfo.ConvertTime(hour, Shanghai);
        var weekend = local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
        var h = local.Hour;
        // Weekends start two hours later and keep people at home during the day.
        var morning = weekend ? h is >= 8 and <= 10 : h is >= 6 and <= 8;
        double water = h switch
        {
            < 6 or >= 23 => 0.002,
            _ when morning => 0.04,
            >= 11 and <= 13 => 0.025,
            >= 18 and <= 21 => 0.035,
            _ => weekend ? 0.018 : 0.012,
        };
        double electricity = h switch
        {
            < 6 or >= 23 => 0.15,
            _ when morning => 0.5,
            >= 18 and <= 22 => 0.9,
            _ => weekend ? 0.5 : 0.35,
        };
        if (!_noise.TryGetValue((i, hour), out var noise))
            _noise[(i, hour)] = noise = (Noise(), Noise());
        var usage = (water * _waterScale[i] * noise.Water, electricity * _electricityScale[i] * noise.Electricity);
        foreach (var scenario in _scenarios) usage = scenario(i, hour, usage);
        return usage;
    }

    // Multiplicative noise around 1 with a standard deviation of 8 %, never negative.
    private double Noise()
    {
        var gaussian = Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());
        return Math.Max(0, 1 + 0.08 * gaussian);
    }
}
