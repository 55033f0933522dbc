using System.Text.Json;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;

namespace Sensing.Simulators.Tests.Simulate;

/// <summary>What the welfare evaluation relies on: everyday outings, trips, the season, dead meters, lost readings.</summary>
public sealed class WelfareScenarioTests
{
    private static readonly WorldOptions s_oneCommunity = new() { Communities = 1, Households = 300, Cameras = 0, Gates = 2, Lots = 0, Grids = 3 };

    [Fact]
    public void The_evaluation_preset_holds_many_drops_of_every_depth_and_length_and_each_confounder()
    {
        var duration = TimeSpan.FromDays(60);
        var plan = SimulatedRun.Plan(seed: 3, duration: duration, world: s_oneCommunity, scenario: Scenarios.Preset("welfare-eval", duration, s_oneCommunity.Households));
        var drops = plan.Truth.Where(t => t.Kind == AlertKinds.LivingAloneDrop).ToList();
        var elderly = plan.World.Households.Count(h => h.Kind == HouseholdKind.ElderlyAlone);

        // About one drop per elderly household per 30 days, every depth and length, at all hours, after the first days.
        Assert.InRange(drops.Count, 1.5 * elderly, 2.1 * elderly);
        Assert.Equal([0.0, 0.02, 0.05, 0.10, 0.20, 0.30], drops.Select(d => d.Depth!.Value).Distinct().Order());
        Assert.Equal(5, drops.Select(d => d.End - d.Onset).Distinct().Count());
        Assert.True(drops.Select(d => d.Onset.ToOffset(ChinaCalendar.LocalOffset).Hour).Distinct().Count() >= 16, "onsets at most hours of the day");
        Assert.All(drops, d => Assert.True(d.Onset >= SimulatedRun.Start.AddDays(1.5)));
        Assert.All(drops, d => Assert.True(d.ExpectAlert));
        foreach (var kind in new[] { TruthKinds.HolidayAway, TruthKinds.Trip, TruthKinds.Guest, TruthKinds.HeatWave, TruthKinds.Season })
            Assert.Contains(plan.Truth, t => t.Kind == kind);
        Assert.Contains(plan.Truth, t => t.Kind == TruthKinds.Trip && plan.World.Households[t.HouseholdIndex].Kind == HouseholdKind.WorkingFamily);
        Assert.Contains(plan.Truth, t => t.Kind == TruthKinds.Trip && plan.World.Households[t.HouseholdIndex].Kind == HouseholdKind.ElderlyAlone);
        // Dead meters of elderly households: single meters and whole flats (two truth lines, one onset).
        var silentMeters = plan.Truth.Where(t => t.Kind == AlertKinds.DeviceSilent && t.Household is not null).ToList();
        Assert.Contains(silentMeters.GroupBy(t => (t.Household, t.Onset)), g => g.Count() == 2);
        Assert.Contains(silentMeters.GroupBy(t => (t.Household, t.Onset)), g => g.Count() == 1);

        // A household hosts several incidents, never two within a day of each other.
        foreach (var household in plan.Truth.Where(t => t.Household is not null && t.Kind != AlertKinds.DeviceSilent).GroupBy(t => t.Household))
        {
            var spells = household.OrderBy(t => t.Onset).ToList();
            Assert.All(spells.Zip(spells.Skip(1)), p => Assert.True(p.Second.Onset >= p.First.End.AddDays(1), $"{household.Key}: {p.First.Kind} until {p.First.End:O}, then {p.Second.Kind} at {p.Second.Onset:O}"));
        }
        Assert.Contains(drops.GroupBy(d => d.Household), g => g.Count() >= 2);
    }

    [Fact]
    public void Elderly_residents_go_out_most_days_leaving_no_water_use_and_passing_a_gate()
    {
        var plan = SimulatedRun.Plan(seed: 4, duration: TimeSpan.FromDays(3), world: s_oneCommunity);
        var messages = SimulatedRun.Messages(plan);
        var elderly = plan.World.Households.Where(h => h.Kind == HouseholdKind.ElderlyAlone).Select(h => h.Id).ToHashSet();

        var passes = messages.Where(m => m.Topic.Contains("/gate/", StringComparison.Ordinal))
            .Select(m => JsonDocument.Parse(m.Payload).RootElement)
            .Where(p => p.TryGetProperty("household", out var h) && h.ValueKind == JsonValueKind.String && elderly.Contains(h.GetString()!))
            .ToList();
        // ~1 outing a day each, out and back, about 6 in 7 recognised.
        Assert.InRange(passes.Count, 2 * 3 * elderly.Count * 0.5, 2 * 3 * elderly.Count * 1.2);
        Assert.InRange(passes.Count(p => p.GetProperty("direction").GetString() == "out"), passes.Count * 0.4, passes.Count * 0.6);

        // While out, the flat's water register stands still and its electricity runs at the base load.
        var outing = plan.Modifiers.Select((m, d) => (Modifiers: m, Device: d))
            .Where(x => x.Modifiers is not null && plan.World.Devices[x.Device].Meter == MeterType.Water)
            .SelectMany(x => x.Modifiers!.Where(m => m.Kind == MeterModifierKind.Outing).Select(m => (x.Device, m)))
            .First(x => x.m.To - x.m.From >= 7_200_000);
        var water = messages.Where(m => m.Device == outing.Device && m.Time >= SimulatedRun.Start.AddMilliseconds(outing.m.From) && m.Time <= SimulatedRun.Start.AddMilliseconds(outing.m.To))
            .Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("total").GetDouble()).ToList();
        Assert.True(water.Count >= 6);
        Assert.Equal(water[1], water[^1]);
    }

    [Fact]
    public void A_trip_leaves_through_a_gate_and_is_not_in_the_registry_while_a_holiday_is()
    {
        IncidentSpec[] scenario =
        [
            new(TruthKinds.Trip, "c1", null, TimeSpan.FromHours(10), TimeSpan.FromHours(30), null),
            new(TruthKinds.HolidayAway, "c1", null, TimeSpan.FromHours(12), TimeSpan.FromHours(30), null),
        ];
        var plan = SimulatedRun.Plan(seed: 5, duration: TimeSpan.FromDays(3), world: s_oneCommunity, scenario: scenario);
        var trip = plan.Truth.Single(t => t.Kind == TruthKinds.Trip);
        var holiday = plan.Truth.Single(t => t.Kind == TruthKinds.HolidayAway);

        Assert.Equal(holiday.Household, Assert.Single(plan.Away).Household);
        Assert.False(trip.ExpectAlert);
        // Both leave and come back through a gate (script), and pass no gate in between.
        foreach (var away in new[] { trip, holiday })
        {
            var theirs = plan.Script.Where(e => e.Event == "pass" && e.Household == away.Household).ToList();
            Assert.All(theirs, e => Assert.False(e.At > (away.Onset - SimulatedRun.Start).TotalMilliseconds && e.At < (away.End - SimulatedRun.Start).TotalMilliseconds));
            Assert.True(plan.IsAbsent(away.HouseholdIndex, (long)(away.Onset - SimulatedRun.Start).TotalMilliseconds + 60_000, (long)(away.Onset - SimulatedRun.Start).TotalMilliseconds + 120_000));
        }
        Assert.Contains(plan.Script, e => e.Event == "pass" && e.Direction == "out" && e.At == (long)(trip.Onset - SimulatedRun.Start).TotalMilliseconds
            && plan.World.Devices[e.Device].Kind == DeviceKind.Gate);
    }

    [Fact]
    public void The_season_turns_electricity_down_over_the_run_and_lost_readings_leave_gaps_the_register_bridges()
    {
        var duration = TimeSpan.FromDays(20);
        var world = s_oneCommunity with { Households = 40, Gates = 0 };
        var withSeason = SimulatedRun.Plan(seed: 6, duration: duration, world: world, scenario: [new(TruthKinds.Season, null, null, TimeSpan.Zero, duration, 0.7)],
            faults: FaultRates.None with { Loss = 0.05 });
        var without = SimulatedRun.Plan(seed: 6, duration: duration, world: world);
        static Dictionary<string, List<(DateTimeOffset Time, double Total)>> Registers(FeedPlan plan) => SimulatedRun.Messages(plan)
            .Where(m => m.Topic.Contains("-em-", StringComparison.Ordinal))
            .GroupBy(m => m.DeviceId)
            .ToDictionary(g => g.Key, g => g.Select(m => (m.Time, JsonDocument.Parse(m.Payload).RootElement.GetProperty("total").GetDouble())).ToList());
        var seasonal = Registers(withSeason);
        var usual = Registers(without);
        double LastDays(List<(DateTimeOffset Time, double Total)> r) => r[^1].Total - r.Last(x => x.Time <= r[^1].Time.AddDays(-3)).Total;

        var ratio = seasonal.Keys.Sum(k => LastDays(seasonal[k])) / usual.Keys.Sum(k => LastDays(usual[k]));
        Assert.InRange(ratio, 0.68, 0.78);
        // About 5 % of readings are missing, and the register still counts the whole use.
        var expected = usual.Values.Sum(r => r.Count);
        Assert.InRange(seasonal.Values.Sum(r => r.Count), expected * 0.93, expected * 0.97);
    }
}
