namespace Sensing.Simulators;

/// <summary>
/// A meter's hourly consumption as a pure function of (seed, meter, hour): no state, so the backfill, the
/// live feed and a resumed feed all agree on any hour, and enumeration order can never change a byte.
/// </summary>
internal sealed class HouseholdConsumption
{
    // Asia/Shanghai has had no daylight saving since 1991: a fixed offset keeps the rhythm independent of
    // the machine's tz database.
    internal static readonly TimeSpan LocalOffset = TimeSpan.FromHours(8);

    // Relative use by local hour, mean 1 over a weekday. Water: showers and breakfast at 7, cooking and
    // washing 18–21, near nothing at night. Electricity: the fridge and standby keep the night floor higher.
    private static readonly double[] s_waterWeekday = Normalize([0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.9, 2.4, 1.9, 0.8, 0.6, 0.7, 1.2, 0.7, 0.5, 0.5, 0.6, 1.0, 1.9, 2.2, 1.9, 1.5, 0.9, 0.4]);
    private static readonly double[] s_waterWeekend = Scale(s_waterWeekday, [0.15, 0.1, 0.1, 0.1, 0.15, 0.2, 0.4, 0.9, 1.6, 2.0, 1.5, 1.2, 1.4, 1.0, 0.9, 0.9, 0.9, 1.1, 1.8, 2.0, 1.8, 1.5, 1.0, 0.5]);
    private static readonly double[] s_electricityWeekday = Normalize([0.45, 0.4, 0.4, 0.4, 0.4, 0.5, 0.9, 1.6, 1.3, 0.8, 0.7, 0.8, 1.1, 0.8, 0.7, 0.7, 0.8, 1.1, 1.7, 2.0, 2.1, 1.9, 1.4, 0.8]);
    private static readonly double[] s_electricityWeekend = Scale(s_electricityWeekday, [0.45, 0.4, 0.4, 0.4, 0.4, 0.45, 0.6, 0.9, 1.3, 1.5, 1.4, 1.3, 1.4, 1.2, 1.1, 1.1, 1.1, 1.2, 1.7, 2.0, 2.1, 2.0, 1.5, 0.9]);

    private readonly ulong _seed;
    private readonly ulong _meterKey;
    private readonly double[] _weekday;
    private readonly double[] _weekend;
    private readonly double _level;
    private readonly double _noise;
    private readonly DateTimeOffset? _incidentOnset;
    private readonly double _incidentResidual;

    public HouseholdConsumption(int seed, string meterId, MeterType type, bool elderly, DateTimeOffset? incidentOnset, double incidentResidual)
    {
        _seed = (ulong)seed;
        _meterKey = Noise.Key(meterId);
        var (weekday, weekend) = type == MeterType.Water ? (s_waterWeekday, s_waterWeekend) : (s_electricityWeekday, s_electricityWeekend);
        // Someone living alone and elderly uses less and at steadier hours: half of the rhythm is flattened away.
        _weekday = elderly ? Flatten(weekday) : weekday;
        _weekend = elderly ? Flatten(weekend) : weekend;
        var spread = Noise.Unit(Noise.Hash(_seed, _meterKey, 1));
        // Mean hourly use: water 0.018–0.032 m³/h, electricity 0.25–0.50 kWh/h; elderly about 60 % of that.
        _level = (type == MeterType.Water ? 0.018 + 0.014 * spread : 0.25 + 0.25 * spread) * (elderly ? 0.6 : 1.0);
        _noise = 0.10 + 0.15 * Noise.Unit(Noise.Hash(_seed, _meterKey, 2));
        _incidentOnset = incidentOnset;
        _incidentResidual = incidentResidual;
        InitialRegister = type == MeterType.Water
            ? 40 + 900 * Noise.Unit(Noise.Hash(_seed, _meterKey, 3))
            : 800 + 20_000 * Noise.Unit(Noise.Hash(_seed, _meterKey, 3));
    }

    /// <summary>A plausible register for a meter first seen by the demo: years of use already on the dial.</summary>
    public double InitialRegister { get; }

    /// <summary>Consumption between two instants, integrating the hourly rates piecewise over hour boundaries.</summary>
    public double Between(DateTimeOffset from, DateTimeOffset to)
    {
        if (to <= from)
            return 0;
        var total = 0.0;
        var hour = from.UtcTicks / TimeSpan.TicksPerHour;
        var cursor = from.UtcTicks;
        while (cursor < to.UtcTicks)
        {
            var hourEnd = (hour + 1) * TimeSpan.TicksPerHour;
            var sliceEnd = Math.Min(hourEnd, to.UtcTicks);
            total += RateInHour(hour) * (sliceEnd - cursor) / TimeSpan.TicksPerHour;
            cursor = sliceEnd;
            hour++;
        }
        return total;
    }

    /// <summary>Use during the UTC hour <paramref name="hour"/> (hours since 0001-01-01), in m³ or kWh.</summary>
    private double RateInHour(long hour)
    {
        var start = new DateTimeOffset(hour * TimeSpan.TicksPerHour, TimeSpan.Zero);
        var local = start.ToOffset(LocalOffset);
        var weekend = local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
        var shape = (weekend ? _weekend : _weekday)[local.Hour];
        if (_incidentOnset is { } onset && start >= onset)
            return _level * shape * _incidentResidual; // no noise: the drop must stay clearly below 5 % of usual
        var factor = Math.Max(0.2, 1 + _noise * Noise.Gaussian(Noise.Hash(_seed, _meterKey, (ulong)hour + 16)));
        return _level * shape * factor;
    }

    private static double[] Normalize(double[] shape)
    {
        var mean = shape.Average();
        return [.. shape.Select(v => v / mean)];
    }

    // A weekend day is the weekday's total redistributed (late mornings, busy middays) plus 10 %: people are at home.
    private static double[] Scale(double[] weekday, double[] weekend)
    {
        var ratio = weekday.Sum() / weekend.Sum();
        return [.. weekend.Select(v => v * ratio * 1.1)];
    }

    private static double[] Flatten(double[] shape) => [.. shape.Select(v => 0.5 + 0.5 * v)];
}
