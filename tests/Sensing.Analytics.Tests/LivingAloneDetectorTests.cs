using Xunit.Abstractions;
using Sensing.Analytics.LivingAlone;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

public sealed class LivingAloneDetectorTests(ITestOutputHelper output)
{
    private const int Days = 14;
    // Friday 2026-11-13, judged hour by hour; the model knows only the twelve days before it.
    private const int JudgedDay = 12;

    private static readonly DateTimeOffset DropFrom = SyntheticCommunity.At(JudgedDay, 10);
    private static readonly DateTimeOffset DropUntil = SyntheticCommunity.At(JudgedDay, 16);

    private static (IReadOnlyList<HouseholdUsage> Usage, ExpectedConsumptionModel Model) Build(SyntheticCommunity community)
    {
        var usage = community.Hourly(Days * 24);
        var model = ExpectedConsumptionModel.Train(usage, SyntheticCommunity.At(JudgedDay, 0), SyntheticCommunity.Shanghai, minHistoryDays: 3);
        Assert.NotNull(model);
        return (usage, model);
    }

    /// <summary>Runs the detector once per complete hour over the judged day and the next, as the loop does.</summary>
    private static List<Alert> JudgeHourly(IReadOnlyList<HouseholdUsage> usage, ExpectedConsumptionModel model, Func<string, DateTimeOffset, bool>? isAway = null)
    {
        var detector = new LivingAloneDetector(new LivingAloneOptions(), SyntheticCommunity.Shanghai);
        var alerts = new List<Alert>();
        for (var end = SyntheticCommunity.At(JudgedDay, 1); end <= SyntheticCommunity.At(JudgedDay + 2, 0); end = end.AddHours(1))
            alerts.AddRange(detector.Evaluate(model, usage, end, isAway ?? ((_, _) => false)));
        return alerts;
    }

    [Fact]
    public void Both_meters_near_zero_for_six_hours_raise_one_alert_with_onset_and_evidence()
    {
        var community = new SyntheticCommunity(20);
        community.Drop(0, DropFrom, DropUntil, waterShare: 0.02, electricityShare: 0.03);
        var (usage, model) = Build(community);

        var alerts = JudgeHourly(usage, model);

        var alert = Assert.Single(alerts);
        output.WriteLine($"{alert.Severity} raised {alert.RaisedAt:O}: {alert.Evidence.Summary}");
        Assert.Equal(AlertKinds.LivingAloneDrop, alert.Kind);
        Assert.Equal("h-00", alert.Household);
        Assert.Equal("c1", alert.Community);
        Assert.Equal("g1", alert.Grid);
        Assert.Equal(DropFrom, alert.StartedAt);
        Assert.Equal(Alert.MakeId(AlertKinds.LivingAloneDrop, "h-00", DropFrom), alert.Id);
        // Raised once the low run is long enough and the window sum says so; before the drop ends.
        Assert.True(alert.RaisedAt >= DropFrom.AddHours(new LivingAloneOptions().MinLowHours), $"raised {alert.RaisedAt:O}");
        Assert.True(alert.RaisedAt <= DropUntil, $"raised {alert.RaisedAt:O}");
        Assert.Equal(0, alert.RaisedAt.UtcTicks % TimeSpan.TicksPerHour);

        // Evidence: per hour of the six-hour window ending at RaisedAt, expected vs observed for both meters.
        Assert.Equal(12, alert.Evidence.Points.Count);
        var windowStart = alert.RaisedAt.AddHours(-6);
        for (var k = 0; k < 6; k++)
        {
            var hour = windowStart.AddHours(k);
            var (water, electricity) = community.Usage(0, hour);
            var w = Assert.Single(alert.Evidence.Points, p => p.Time == hour && p.Metric == Metrics.WaterConsumption);
            var e = Assert.Single(alert.Evidence.Points, p => p.Time == hour && p.Metric == Metrics.ElectricityConsumption);
            Assert.Equal(water, w.Observed, 4);
            Assert.Equal(electricity, e.Observed, 4);
            if (hour >= DropFrom)
            {
                Assert.True(w.Expected > 10 * w.Observed, $"water at {hour:O}: {w.Expected} vs {w.Observed}");
                Assert.True(e.Expected > 10 * e.Observed, $"electricity at {hour:O}: {e.Expected} vs {e.Observed}");
            }
        }
        Assert.Contains("low since 10:00", alert.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Expectation_follows_the_households_own_rhythm()
    {
        var community = new SyntheticCommunity(20);
        var (usage, model) = Build(community);

        var expected = model.Expect(usage[3], SyntheticCommunity.At(JudgedDay, 0), 24);

        Assert.NotNull(expected);
        double observedWater = 0, observedElectricity = 0;
        for (var h = 0; h < 24; h++)
        {
            var (w, e) = community.Usage(3, SyntheticCommunity.At(JudgedDay, h));
            observedWater += w;
            observedElectricity += e;
        }
        // A whole normal day lands within 15 % of what the model expects of this household.
        Assert.InRange(expected.Water.Sum() / observedWater, 0.85, 1.15);
        Assert.InRange(expected.Electricity.Sum() / observedElectricity, 0.85, 1.15);
        // And the evening peak is expected to be heavier than the small hours.
        Assert.True(expected.Electricity[19] > 3 * expected.Electricity[3]);
    }

    [Fact]
    public void Normal_households_raise_nothing()
    {
        var (usage, model) = Build(new SyntheticCommunity(20));

        Assert.Empty(JudgeHourly(usage, model));
    }

    [Fact]
    public void A_drop_in_only_one_meter_raises_nothing()
    {
        var community = new SyntheticCommunity(20);
        community.Drop(1, DropFrom, DropUntil, waterShare: 0.0, electricityShare: 1.0);
        community.Drop(2, DropFrom, DropUntil, waterShare: 1.0, electricityShare: 0.0);
        var (usage, model) = Build(community);

        Assert.Empty(JudgeHourly(usage, model));
    }

    [Fact]
    public void An_away_household_raises_nothing()
    {
        var community = new SyntheticCommunity(20);
        community.Drop(0, DropFrom, DropUntil, waterShare: 0.0, electricityShare: 0.0);
        var (usage, model) = Build(community);

        var alerts = JudgeHourly(usage, model, isAway: (household, at) => household == "h-00" && at >= SyntheticCommunity.At(JudgedDay, 8));

        Assert.Empty(alerts);
    }

    [Fact]
    public void An_elderly_household_is_caught_at_a_milder_drop_than_others()
    {
        var community = new SyntheticCommunity(20);
        community.MarkElderly(3);
        // Both households fall to 30 % of their usual: below the elderly ratio (40 %), above the general one (25 %).
        community.Drop(3, DropFrom, DropUntil, waterShare: 0.3, electricityShare: 0.3);
        community.Drop(4, DropFrom, DropUntil, waterShare: 0.3, electricityShare: 0.3);
        var (usage, model) = Build(community);

        var alerts = JudgeHourly(usage, model);

        var alert = Assert.Single(alerts);
        Assert.Equal("h-03", alert.Household);
        Assert.Equal(DropFrom, alert.StartedAt);
    }

    [Fact]
    public void A_household_that_recovers_and_drops_again_raises_a_second_episode()
    {
        var community = new SyntheticCommunity(20);
        var secondFrom = SyntheticCommunity.At(JudgedDay + 1, 10);
        community.Drop(0, DropFrom, DropUntil, 0.0, 0.0);
        community.Drop(0, secondFrom, secondFrom.AddHours(6), 0.0, 0.0);
        var (usage, model) = Build(community);

        var alerts = JudgeHourly(usage, model);

        Assert.Equal([DropFrom, secondFrom], alerts.Select(a => a.StartedAt).ToArray());
    }

    [Fact]
    public void Both_meters_going_silent_is_not_a_drop()
    {
        var community = new SyntheticCommunity(20);
        var (usage, model) = Build(community);
        // The flat's gateway dies at 10:00: no more buckets from either meter, which says nothing about the household.
        foreach (var series in new[] { usage[0].Water, usage[0].Electricity })
        {
            var buckets = (Dictionary<DateTimeOffset, double>)series;
            foreach (var hour in buckets.Keys.Where(h => h >= DropFrom).ToList()) buckets.Remove(hour);
        }

        Assert.Empty(JudgeHourly(usage, model));
    }

    [Fact]
    public void Training_is_deterministic()
    {
        var community = new SyntheticCommunity(20);
        var usage = community.Hourly(Days * 24);
        var until = SyntheticCommunity.At(JudgedDay, 0);

        var first = ExpectedConsumptionModel.Train(usage, until, SyntheticCommunity.Shanghai, 3)!.Expect(usage[5], until, 6)!;
        var second = ExpectedConsumptionModel.Train(usage, until, SyntheticCommunity.Shanghai, 3)!.Expect(usage[5], until, 6)!;

        Assert.Equal(first.Water, second.Water);
        Assert.Equal(first.Electricity, second.Electricity);
    }

    [Fact]
    public void Too_little_history_trains_no_model()
    {
        var usage = new SyntheticCommunity(20).Hourly(2 * 24);

        Assert.Null(ExpectedConsumptionModel.Train(usage, SyntheticCommunity.At(2, 0), SyntheticCommunity.Shanghai, minHistoryDays: 3));
    }
}
