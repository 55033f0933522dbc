using Sensing.Analytics.LivingAlone;

namespace Sensing.Analytics.Tests;

/// <summary>Welfare models trained on a <see cref="SyntheticCommunity"/>, and its hours as the detector sees them.</summary>
internal static class Welfare
{
    /// <summary>
    /// Trains on the community's hours from the start until <paramref name="until"/>, as the loop would from the store's
    /// last weeks; <paramref name="knownFrom"/> says from when each household has readings (a household that moved in).
    /// </summary>
    public static WelfareModel Train(SyntheticCommunity community, DateTimeOffset until, AnalyticsOptions? options = null, Func<int, DateTimeOffset>? knownFrom = null)
    {
        options ??= new AnalyticsOptions { TimeZone = "Asia/Shanghai" };
        var from = SyntheticCommunity.Start.ToUniversalTime();
        var builder = new HouseholdHistory.Builder(from, until.ToUniversalTime(), SyntheticCommunity.Shanghai);
        for (var i = 0; i < community.Households.Length; i++)
        {
            var first = knownFrom?.Invoke(i) ?? from;
            for (var hour = from; hour < until; hour = hour.AddHours(1))
            {
                if (hour < first) continue;
                var (water, electricity) = community.Usage(i, hour);
                builder.Add(community.Households[i].Id, Meter.Water, hour, water);
                builder.Add(community.Households[i].Id, Meter.Electricity, hour, electricity);
            }
        }
        var elderly = community.Households.ToDictionary(h => h.Id, h => h.ElderlyLivingAlone);
        return WelfareTrainer.Train(builder.Build(), id => elderly[id], options, TimeProvider.System)
            ?? throw new InvalidOperationException("the synthetic community is too small to train on");
    }

    /// <summary>Household i's hour: four readings per meter adding up to its use, unless a meter is silent.</summary>
    public static HouseholdHour Hour(SyntheticCommunity community, int i, DateTimeOffset hour, (bool Water, bool Electricity) silent, GateHour gate)
    {
        var (water, electricity) = community.Usage(i, hour);
        var household = community.Households[i];
        return new HouseholdHour(household.Id, household.Community, household.Grid,
            silent.Water ? default : new MeterHour(4, water),
            silent.Electricity ? default : new MeterHour(4, electricity),
            gate);
    }
}
