namespace Sensing.Simulators.Simulate;

/// <summary>
/// Hourly consumption shapes (mean 1 over a day, by local hour) and mean levels per kind of household.
/// The differences are what a welfare detector must learn per household rather than per estate:
/// an elderly person alone rises early, cooks at 11 and 17 and is quiet after 21; a working family is out
/// between 9 and 17 on work days; a retired couple is home all day; an empty flat shows only standby.
/// </summary>
internal static class HouseholdProfiles
{
    private static readonly double[] s_familyWaterWork = Normalize([0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.9, 2.4, 1.9, 0.6, 0.3, 0.3, 0.5, 0.3, 0.3, 0.3, 0.4, 1.0, 1.9, 2.4, 2.2, 1.6, 0.9, 0.4]);
    private static readonly double[] s_familyWaterRest = Normalize([0.2, 0.1, 0.1, 0.1, 0.1, 0.15, 0.3, 0.8, 1.5, 1.9, 1.5, 1.3, 1.5, 1.0, 0.9, 0.9, 1.0, 1.2, 1.9, 2.1, 1.9, 1.5, 1.0, 0.5]);
    private static readonly double[] s_familyPowerWork = Normalize([0.45, 0.4, 0.4, 0.4, 0.4, 0.5, 0.9, 1.6, 1.2, 0.6, 0.5, 0.5, 0.6, 0.5, 0.5, 0.5, 0.6, 1.1, 1.8, 2.2, 2.3, 2.0, 1.4, 0.8]);
    private static readonly double[] s_familyPowerRest = Normalize([0.5, 0.45, 0.4, 0.4, 0.4, 0.45, 0.6, 0.9, 1.3, 1.5, 1.4, 1.3, 1.4, 1.2, 1.1, 1.1, 1.1, 1.3, 1.8, 2.1, 2.2, 2.0, 1.5, 0.9]);
    private static readonly double[] s_elderlyWater = Normalize([0.1, 0.05, 0.05, 0.05, 0.2, 1.2, 2.0, 1.6, 1.0, 0.8, 1.2, 1.9, 1.2, 0.5, 0.5, 0.7, 1.4, 1.8, 1.3, 0.9, 0.6, 0.3, 0.15, 0.1]);
    private static readonly double[] s_elderlyPower = Normalize([0.5, 0.5, 0.5, 0.5, 0.6, 1.0, 1.4, 1.3, 1.1, 1.0, 1.2, 1.5, 1.2, 0.9, 0.9, 1.0, 1.3, 1.6, 1.7, 1.6, 1.3, 0.9, 0.6, 0.5]);
    private static readonly double[] s_retiredWater = Normalize([0.1, 0.05, 0.05, 0.05, 0.1, 0.6, 1.6, 1.8, 1.3, 1.1, 1.3, 1.8, 1.4, 0.8, 0.8, 1.0, 1.4, 1.9, 1.7, 1.3, 1.1, 0.7, 0.3, 0.15]);
    private static readonly double[] s_retiredPower = Normalize([0.5, 0.45, 0.45, 0.45, 0.5, 0.7, 1.1, 1.3, 1.2, 1.1, 1.2, 1.4, 1.3, 1.1, 1.1, 1.1, 1.3, 1.6, 1.8, 1.9, 1.7, 1.3, 0.8, 0.6]);
    private static readonly double[] s_flat = [.. Enumerable.Repeat(1.0, 24)];

    /// <summary>The shape for a kind, quantity and day type; index by local hour.</summary>
    public static double[] Shape(HouseholdKind kind, MeterType meter, bool restDay) => (kind, meter) switch
    {
        (HouseholdKind.WorkingFamily, MeterType.Water) => restDay ? s_familyWaterRest : s_familyWaterWork,
        (HouseholdKind.WorkingFamily, _) => restDay ? s_familyPowerRest : s_familyPowerWork,
        // Retired people keep the same day whatever the calendar says.
        (HouseholdKind.ElderlyAlone, MeterType.Water) => s_elderlyWater,
        (HouseholdKind.ElderlyAlone, _) => s_elderlyPower,
        (HouseholdKind.RetiredCouple, MeterType.Water) => s_retiredWater,
        (HouseholdKind.RetiredCouple, _) => s_retiredPower,
        _ => s_flat,
    };

    /// <summary>
    /// Mean use per hour (m³ or kWh) before the per-household spread: a family of three uses ~0.55 m³ and
    /// ~8 kWh a day, one elderly person ~0.15 m³ and ~3 kWh, an empty flat a dripping nothing and a fridge-less
    /// standby.
    /// </summary>
    public static double Level(HouseholdKind kind, MeterType meter) => (kind, meter) switch
    {
        (HouseholdKind.WorkingFamily, MeterType.Water) => 0.023,
        (HouseholdKind.WorkingFamily, _) => 0.34,
        (HouseholdKind.ElderlyAlone, MeterType.Water) => 0.0065,
        (HouseholdKind.ElderlyAlone, _) => 0.12,
        (HouseholdKind.RetiredCouple, MeterType.Water) => 0.013,
        (HouseholdKind.RetiredCouple, _) => 0.22,
        (HouseholdKind.EmptyFlat, MeterType.Water) => 0.0002,
        _ => 0.02,
    };

    private static double[] Normalize(double[] shape)
    {
        var sum = 0.0;
        foreach (var v in shape)
            sum += v;
        var mean = sum / shape.Length;
        var result = new double[shape.Length];
        for (var i = 0; i < shape.Length; i++)
            result[i] = shape[i] / mean;
        return result;
    }
}
