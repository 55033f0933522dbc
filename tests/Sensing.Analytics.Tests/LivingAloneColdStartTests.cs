using Sensing.Analytics.LivingAlone;
using Sensing.Telemetry;
using Xunit.Abstractions;

namespace Sensing.Analytics.Tests;

/// <summary>
/// The welfare detector from a standing start, as the loop runs it: households are judged from their second day of
/// history, on a model retrained every day from the store's last two weeks, so for their first two weeks they lean on the
/// population's usual day (the cold-start prior).
/// </summary>
public sealed class LivingAloneColdStartTests(ITestOutputHelper output)
{
    private static readonly TimeZoneInfo s_zone = SyntheticCommunity.Shanghai;
    // Monday 2026-11-02, local: the feed starts on a weekday, so the first weekend is a day type nobody has lived yet.
    private static readonly DateTimeOffset s_start = new(2026, 11, 2, 0, 0, 0, TimeSpan.FromHours(8));
    private static readonly DateTimeOffset s_end = s_start.AddDays(14);
    // The elderly resident of h-01 stops using water and electricity on the last morning.
    private static readonly DateTimeOffset s_dropFrom = s_start.AddDays(13).AddHours(8);

    /// <summary>
    /// The whole-loop test's feed: 16 households with one rhythm (a morning and an evening peak, nights at a fifth of the
    /// usual hour), scaled per household; registers read to 0.1 L and 0.1 Wh.
    /// </summary>
    private static (double Water, double Electricity) Usage(int household, DateTimeOffset hour)
    {
        var level = 1 + household % 4 * 0.15;
        var h = TimeZoneInfo.ConvertTime(hour, s_zone).Hour;
        var shape = h is >= 6 and < 9 ? 1.8 : h is >= 17 and < 22 ? 1.6 : h is >= 23 or < 6 ? 0.2 : 1.0;
        var low = household == 1 && hour >= s_dropFrom ? 0.01 : 1;
        return (Math.Round(0.02 * level * shape * low, 4), Math.Round(0.3 * level * shape * low, 4));
    }

    [Fact]
    public void A_cold_start_households_first_weekend_night_is_no_drop_but_a_real_drop_is_raised()
    {
        var options = new AnalyticsOptions { TimeZone = "Asia/Shanghai" };
        var households = Enumerable.Range(1, 16)
            .Select(i => new Household($"h-{i:00}", "c1", i <= 8 ? "g1" : "g2") { ElderlyLivingAlone = i is 1 or 9 })
            .ToDictionary(h => h.Id);
        var detector = new LivingAloneDetector(options.LivingAlone, s_zone, options.EvaluationDelay);
        var alerts = new List<Alert>();
        WelfareModel? model = null;
        var firstWeekendChecked = false;
        for (var hour = s_start.ToUniversalTime(); hour < s_end; hour = hour.AddHours(1))
        {
            // Trainings as the hourly detector has them: on a six-hour grid of event time, once a day.
            if (hour.UtcTicks % TimeSpan.FromHours(6).Ticks == 0 && (model is null || hour - model.Manifest.TrainedAt >= options.RetrainEvery))
            {
                var history = new HouseholdHistory.Builder(hour.AddDays(-options.HistoryDays), hour, s_zone);
                for (var h = s_start.ToUniversalTime(); h < hour; h = h.AddHours(1))
                {
                    for (var i = 1; i <= 16; i++)
                    {
                        var (water, electricity) = Usage(i, h);
                        history.Add($"h-{i:00}", Meter.Water, h, water);
                        history.Add($"h-{i:00}", Meter.Electricity, h, electricity);
                    }
                }
                model = WelfareTrainer.Train(history.Build(), id => households[id].ElderlyLivingAlone, options, TimeProvider.System) ?? model;
            }
            if (model is null) continue;
            var local = TimeZoneInfo.ConvertTime(hour, s_zone);
            if (!firstWeekendChecked && local.DayOfWeek == DayOfWeek.Saturday)
            {
                // The first weekend: no household has a weekend of its own yet, and neither has the population. Its usual
                // weekend night is then its usual night over all days, not a flat day that expects an ordinary hour at 3 a.m.
                firstWeekendChecked = true;
                var elderly = model.Profile("h-01")!;
                Assert.InRange(elderly.Days, options.MinHistoryDays, options.HistoryDays - 1);
                Assert.Equal(model.Prior.Share(true, Meter.Water, DayType.All, 2), model.Prior.Share(true, Meter.Water, DayType.Weekend, 2));
                var expected = model.Expect(elderly, Meter.Water, true, local.AddHours(2), s_zone);
                Assert.InRange(expected / Usage(1, hour.AddHours(2)).Water, 0.7, 1.3);
            }
            var observed = Enumerable.Range(1, 16).Select(i =>
            {
                var (water, electricity) = Usage(i, hour);
                return new HouseholdHour($"h-{i:00}", "c1", households[$"h-{i:00}"].Grid, new MeterHour(6, water), new MeterHour(6, electricity), default);
            });
            alerts.AddRange(detector.Judge(hour, observed, model, id => households.GetValueOrDefault(id), (_, _) => false));
        }

        foreach (var alert in alerts)
            output.WriteLine($"{alert.Household} {alert.Severity} since {TimeZoneInfo.ConvertTime(alert.StartedAt, s_zone):MM-dd HH:mm}: {alert.Evidence.Summary}");
        Assert.True(firstWeekendChecked);
        var raised = Assert.Single(alerts);
        Assert.Equal("h-01", raised.Household);
        Assert.Equal(s_dropFrom, raised.StartedAt);
    }
}
