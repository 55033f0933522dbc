using Sensing.Analytics.LivingAlone;
using Sensing.Telemetry;
using Xunit.Abstractions;

namespace Sensing.Analytics.Tests;

/// <summary>The welfare detector's core, hour by hour, on a model trained from a synthetic community's history.</summary>
public sealed class LivingAloneDetectorTests(ITestOutputHelper output)
{
    // Friday 2026-11-13 (day 12): the model knows the twelve days before it; the detector judges it and the next day.
    private const int JudgedDay = 12;
    private static readonly DateTimeOffset DropFrom = SyntheticCommunity.At(JudgedDay, 10);
    private static readonly DateTimeOffset DropUntil = SyntheticCommunity.At(JudgedDay, 18);

    private static readonly AnalyticsOptions Options = new() { TimeZone = "Asia/Shanghai" };

    /// <summary>Runs the detector over every hour of the judged day and the next, as the loop does.</summary>
    private static List<Alert> JudgeHourly(
        SyntheticCommunity community,
        WelfareModel model,
        Func<string, DateTimeOffset, bool>? isAway = null,
        Func<int, DateTimeOffset, (bool WaterSilent, bool ElectricitySilent)>? silent = null,
        Func<int, DateTimeOffset, GateHour>? gate = null,
        LivingAloneOptions? options = null)
    {
        var detector = new LivingAloneDetector(options ?? Options.LivingAlone, SyntheticCommunity.Shanghai, TimeSpan.FromMinutes(5));
        var alerts = new List<Alert>();
        for (var hour = SyntheticCommunity.At(JudgedDay, 0); hour < SyntheticCommunity.At(JudgedDay + 2, 0); hour = hour.AddHours(1))
        {
            var households = Enumerable.Range(0, community.Households.Length)
                .Select(i => Welfare.Hour(community, i, hour, silent?.Invoke(i, hour) ?? default, gate?.Invoke(i, hour) ?? default))
                .Where(h => h.Water.Reported || h.Electricity.Reported || h.Gate.Passes > 0);
            alerts.AddRange(detector.Judge(hour, households, model, id => community.Households.Single(h => h.Id == id), isAway ?? ((_, _) => false)));
        }
        return alerts;
    }

    [Fact]
    public void Both_meters_near_zero_raise_one_alert_with_onset_evidence_and_severity()
    {
        var community = new SyntheticCommunity(20);
        community.Drop(0, DropFrom, DropUntil, waterShare: 0.02, electricityShare: 0.03);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));

        var alert = Assert.Single(JudgeHourly(community, model));

        output.WriteLine($"{alert.Severity} raised {alert.RaisedAt:O}: {alert.Evidence.Summary}");
        Assert.Equal((AlertKinds.LivingAloneDrop, "h-00", "c1", "g1"), (alert.Kind, alert.Household, alert.Community, alert.Grid));
        // The onset is the end of the last sign of normal life: the 09:00 hour was normal, 10:00 was not.
        Assert.Equal(DropFrom, alert.StartedAt);
        Assert.Equal(Alert.MakeId(AlertKinds.LivingAloneDrop, "h-00", DropFrom), alert.Id);
        // A deep drop of an ordinary household: three informative hours, raised when the third hour is judged.
        Assert.Equal(DropFrom.AddHours(Options.LivingAlone.DeepHours).AddMinutes(5), alert.RaisedAt);
        Assert.Equal(AlertSeverity.Warning, alert.Severity);

        // Evidence: every hour of the run, expected against observed, for both meters.
        Assert.Equal(2 * Options.LivingAlone.DeepHours, alert.Evidence.Points.Count);
        foreach (var point in alert.Evidence.Points)
        {
            var (water, electricity) = community.Usage(0, point.Time);
            Assert.Equal(point.Metric == Metrics.WaterConsumption ? water : electricity, point.Observed, 4);
            Assert.True(point.Expected > 10 * point.Observed, $"{point.Metric} at {point.Time:O}: {point.Expected} vs {point.Observed}");
        }
        Assert.Contains("no sign of normal life since 11-13 10:00", alert.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Ordinary_days_raise_nothing()
    {
        var community = new SyntheticCommunity(20);

        Assert.Empty(JudgeHourly(community, Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0))));
    }

    [Fact]
    public void A_drop_of_one_meter_alone_raises_nothing()
    {
        var community = new SyntheticCommunity(20);
        community.Drop(1, DropFrom, DropUntil, waterShare: 0.0, electricityShare: 1.0);
        community.Drop(2, DropFrom, DropUntil, waterShare: 1.0, electricityShare: 0.0);

        Assert.Empty(JudgeHourly(community, Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0))));
    }

    [Fact]
    public void Elderly_people_living_alone_are_raised_sooner_and_at_a_milder_drop()
    {
        var community = new SyntheticCommunity(20);
        community.MarkElderly(3);
        community.MarkElderly(5);
        // Households 3 (elderly) and 4 (not) fall to 30 % of their usual use for eight hours: below the elderly ratio
        // (40 %), above the general one (25 %). Households 5 (elderly) and 6 (not) fall to next to nothing.
        community.Drop(3, DropFrom, DropUntil, 0.3, 0.3);
        community.Drop(4, DropFrom, DropUntil, 0.3, 0.3);
        community.Drop(5, DropFrom, DropUntil, 0.01, 0.01);
        community.Drop(6, DropFrom, DropUntil, 0.01, 0.01);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));

        var alerts = JudgeHourly(community, model).ToDictionary(a => a.Household!);

        Assert.Equal(["h-03", "h-05", "h-06"], alerts.Keys.Order());
        Assert.Equal(DropFrom.AddHours(Options.LivingAlone.ElderlyMinLowHours).AddMinutes(5), alerts["h-03"].RaisedAt);
        Assert.Equal(DropFrom.AddHours(Options.LivingAlone.ElderlyDeepHours).AddMinutes(5), alerts["h-05"].RaisedAt);
        Assert.Equal(DropFrom.AddHours(Options.LivingAlone.DeepHours).AddMinutes(5), alerts["h-06"].RaisedAt);
        // Next to nothing for an elderly person alone is critical at once; for others it becomes critical with time.
        Assert.Equal(AlertSeverity.Critical, alerts["h-05"].Severity);
        Assert.Equal(AlertSeverity.Warning, alerts["h-06"].Severity);
    }

    [Fact]
    public void A_household_marked_away_is_not_judged_until_it_returns()
    {
        var community = new SyntheticCommunity(20);
        community.Drop(0, DropFrom, DropUntil, 0.0, 0.0);
        var secondFrom = SyntheticCommunity.At(JudgedDay + 1, 10);
        community.Drop(0, secondFrom, secondFrom.AddHours(6), 0.0, 0.0);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));
        var back = SyntheticCommunity.At(JudgedDay, 20);

        // Away (hospital) from 08:00 to 20:00: the first drop is theirs to have; the second, after the return, is raised.
        var alert = Assert.Single(JudgeHourly(community, model, isAway: (household, at) => household == "h-00" && at >= SyntheticCommunity.At(JudgedDay, 8) && at < back));

        Assert.Equal(secondFrom, alert.StartedAt);
    }

    [Fact]
    public void A_silent_meter_is_no_evidence_but_a_meter_reporting_zero_use_is()
    {
        var community = new SyntheticCommunity(20);
        // Household 0's flat loses both meters at 10:00 (a dead gateway): no readings at all. Household 1's water meter
        // dies while its electricity carries on normally. Household 2's meters report, and report zero use.
        community.Drop(2, DropFrom, DropUntil, 0.0, 0.0);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));

        var alerts = JudgeHourly(community, model, silent: (i, hour) => hour >= DropFrom && hour < DropUntil ? (i is 0 or 1, i == 0) : default);

        Assert.Equal("h-02", Assert.Single(alerts).Household);
    }

    [Fact]
    public void With_one_meter_silent_the_other_alone_needs_twice_the_hours()
    {
        var community = new SyntheticCommunity(20);
        // The water meter of household 0 is dead, and its electricity falls to nothing at 10:00.
        community.Drop(0, DropFrom, DropUntil, 1.0, 0.0);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));

        var alert = Assert.Single(JudgeHourly(community, model, silent: (i, hour) => (i == 0 && hour >= SyntheticCommunity.At(JudgedDay, 6), false)));

        Assert.Equal(DropFrom.AddHours(2 * Options.LivingAlone.DeepHours).AddMinutes(5), alert.RaisedAt);
        Assert.Contains("one meter only", alert.Evidence.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain(alert.Evidence.Points, p => p.Metric == Metrics.WaterConsumption);
    }

    [Fact]
    public void A_pass_out_through_the_gate_suspends_judging_until_the_household_is_back()
    {
        var community = new SyntheticCommunity(20);
        // Household 0 leaves at 09:40 through a gate that recognises it and stays away (an unannounced trip): its meters
        // show next to nothing. Household 1 comes in at 09:40 and then uses nothing: that is judged.
        community.Drop(0, DropFrom, SyntheticCommunity.At(JudgedDay + 2, 0), 0.01, 0.2);
        community.Drop(1, DropFrom, DropUntil, 0.0, 0.0);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));
        var pass = SyntheticCommunity.At(JudgedDay, 9).AddMinutes(40);

        var alerts = JudgeHourly(community, model, gate: (i, hour) => i <= 1 && hour == SyntheticCommunity.At(JudgedDay, 9)
            ? new GateHour(1, i == 0 ? "out" : "in", pass)
            : default);

        var alert = Assert.Single(alerts);
        Assert.Equal("h-01", alert.Household);
        Assert.Equal(pass, alert.StartedAt);
        Assert.Contains("last recognised gate pass: in at 11-13 09:40", alert.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fall_in_the_evening_shows_in_the_morning_with_the_evening_as_its_onset()
    {
        var community = new SyntheticCommunity(20);
        var fall = SyntheticCommunity.At(JudgedDay, 23);
        community.Drop(0, fall, fall.AddHours(20), 0.0, 0.0);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0));

        var alert = Assert.Single(JudgeHourly(community, model));

        // Nobody uses water at night, so the morning decides; what the worker reads is "nothing since 23:00".
        Assert.Equal(fall, alert.StartedAt);
        Assert.True(alert.RaisedAt >= SyntheticCommunity.At(JudgedDay + 1, 6), $"raised {alert.RaisedAt:O}");
    }

    [Fact]
    public void A_household_with_little_history_leans_on_the_population_and_is_still_judged()
    {
        var community = new SyntheticCommunity(20);
        // Household 7 moved in two and a half days before the judged day: the model has only that of it.
        var movedIn = SyntheticCommunity.At(JudgedDay - 3, 12);
        community.Drop(7, DropFrom, DropUntil, 0.0, 0.0);
        var model = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0), knownFrom: i => i == 7 ? movedIn : SyntheticCommunity.Start);

        var newcomer = model.Profile("h-07")!;
        var settled = model.Profile("h-08")!;
        Assert.InRange(newcomer.Days, Options.MinHistoryDays, 3);
        Assert.Equal(12, settled.Days);
        // Its usual day is mostly the population's: a weight of days/14 on its own.
        Span<float> features = stackalloc float[UsageFeatures.Count];
        WelfareModel.Features(features, newcomer, newcomer.Water!, Meter.Water, false, 7, false, model.Prior, Options.HistoryDays);
        Assert.Equal(newcomer.Days / 14, features[UsageFeatures.OwnWeight], 4);
        Assert.Equal(model.Prior.Share(false, Meter.Water, DayType.Weekday, 7) * (1 - features[UsageFeatures.OwnWeight])
            + newcomer.Water!.Share(DayType.Weekday, 7) * features[UsageFeatures.OwnWeight], features[UsageFeatures.Share], 4);
        // Its expected day is still close to what it uses (the synthetic community shares one rhythm).
        var expected = Enumerable.Range(0, 24).Sum(h => model.Expect(newcomer, Meter.Water, false, SyntheticCommunity.At(JudgedDay - 1, h), SyntheticCommunity.Shanghai));
        var used = Enumerable.Range(0, 24).Sum(h => community.Usage(7, SyntheticCommunity.At(JudgedDay - 1, h)).Water);
        Assert.InRange(expected / used, 0.7, 1.3);

        Assert.Equal("h-07", Assert.Single(JudgeHourly(community, model)).Household);
        // Less than MinHistoryDays: not judged at all.
        var tooNew = Welfare.Train(community, SyntheticCommunity.At(JudgedDay, 0), knownFrom: i => i == 7 ? SyntheticCommunity.At(JudgedDay - 1, 0) : SyntheticCommunity.Start);
        Assert.Null(tooNew.Profile("h-07"));
    }
}
