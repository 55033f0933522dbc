using System.Text.Json;
using Sensing.Ingest.Registry;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;

namespace Sensing.Simulators.Tests.Simulate;

public sealed class ScenarioTruthTests
{
    private static readonly TimeSpan s_day = TimeSpan.FromDays(1);

    [Fact]
    public void A_welfare_drop_keeps_the_household_at_or_below_depth_times_its_usual_use()
    {
        var world = SimulatedWorld.Create(SimulatedRun.SmallWorld, seed: 5);
        var household = world.Households.First(h => h.Kind == HouseholdKind.ElderlyAlone);
        IncidentSpec[] scenario = [new(AlertKinds.LivingAloneDrop, null, household.Id, TimeSpan.FromHours(9), TimeSpan.FromHours(10), 0.1)];
        var withDrop = SimulatedRun.Plan(seed: 5, scenario: scenario);
        var usual = SimulatedRun.Plan(seed: 5);
        var incident = Assert.Single(withDrop.Truth);
        Assert.Equal((household.Id, AlertKinds.LivingAloneDrop, true, 0.1), (incident.Subject, incident.Kind, incident.ExpectAlert, incident.Depth!.Value));
        Assert.Equal(SimulatedRun.Start.AddHours(9), incident.Onset);

        foreach (var meter in world.Devices.Where(d => d.Household >= 0 && world.Households[d.Household].Id == household.Id))
        {
            var dropped = UseWithin(SimulatedRun.Messages(withDrop), meter.Id, incident.Onset, incident.End);
            var normal = UseWithin(SimulatedRun.Messages(usual), meter.Id, incident.Onset, incident.End);
            Assert.True(normal > 0);
            // Registers are rounded to 1 litre and 10 Wh on the dial: allow one step each end.
            Assert.True(dropped <= 0.1 * normal + 0.011, $"{meter.Id}: {dropped} vs usual {normal}");
            Assert.True(dropped >= 0.05 * normal, "a drop, not a dead meter");
        }
    }

    [Fact]
    public void Preset_incidents_are_what_was_published()
    {
        var plan = SimulatedRun.Plan(scenario: Scenarios.Preset("all", s_day));
        var messages = SimulatedRun.Messages(plan);
        Incident Label(string kind, string community = "c1") => plan.Truth.Single(t => t.Kind == kind && t.Community == community);

        // Every preset kind in every community, alerts expected only for real incidents.
        foreach (var community in new[] { "c1", "c2" })
        {
            Assert.Equal(4, plan.Truth.Count(t => t.Kind == AlertKinds.LivingAloneDrop && t.Community == community));
            Assert.All(TruthKinds.Injectable, kind => Assert.Contains(plan.Truth, t => t.Kind == kind && t.Community == community));
        }
        Assert.All(plan.Truth, t => Assert.Equal(!t.Kind.StartsWith("confounder:", StringComparison.Ordinal), t.ExpectAlert));
        Assert.True(plan.Truth.Where(t => t.Kind == AlertKinds.LivingAloneDrop).Select(t => t.Onset.Hour).Distinct().Count() >= 4, "onsets at different hours");

        // The leak meter shows continuous flow at night: every quarter-hour between 01:00 and 05:00 uses at least the leak's flow.
        var leak = Label(AlertKinds.WaterLeak);
        var leakReadings = Totals(messages, leak.Device!).Where(r => r.Time > leak.Onset && r.Time <= leak.End).ToList();
        var nightIntervals = leakReadings.Zip(leakReadings.Skip(1)).Where(p => p.First.Time.ToOffset(TimeSpan.FromHours(8)).Hour is >= 1 and < 5).ToList();
        Assert.NotEmpty(nightIntervals);
        Assert.All(nightIntervals, p => Assert.True(p.Second.Total - p.First.Total >= leak.Depth!.Value * (p.Second.Time - p.First.Time).TotalHours - 0.0011));

        // The offline camera publishes nothing in its window, and does before and after.
        var offline = Label(AlertKinds.DeviceSilent);
        var camera = messages.Where(m => m.DeviceId == offline.Device).ToList();
        Assert.DoesNotContain(camera, m => m.Time >= offline.Onset && m.Time < offline.End);
        Assert.Contains(camera, m => m.Time < offline.Onset);
        Assert.Contains(camera, m => m.Time >= offline.End);

        // The forced gate event appears at the onset.
        var forced = Label(AlertKinds.GateForced);
        var forcedMessage = Assert.Single(messages, m => m.DeviceId == forced.Device && Event(m) == "forced");
        Assert.Equal(forced.Onset, forcedMessage.Time);

        // The fire: smoke at the onset, fire detections until the end.
        var fire = Label(AlertKinds.CameraEvent);
        Assert.Contains(messages, m => m.DeviceId == fire.Device && m.Time == fire.Onset && Event(m) == "smoke");
        Assert.All(messages.Where(m => m.DeviceId == fire.Device && Event(m) == "fire"), m => Assert.InRange(m.Time, fire.Onset, fire.End));

        // The lot is full (no free space) through its window, and was not before it started filling.
        var full = Label(AlertKinds.ParkingFull);
        var lot = messages.Where(m => m.DeviceId == full.Device).ToList();
        Assert.All(lot.Where(m => m.Time >= full.Onset && m.Time < full.End), m => Assert.Equal(0, Free(m)));
        Assert.Contains(lot, m => m.Time < full.Onset.AddMinutes(-30) && Free(m) > 0);

        // A guest raises use above usual.
        var guest = Label(TruthKinds.Guest);
        var usual = SimulatedRun.Messages(SimulatedRun.Plan());
        var guestWater = plan.World.Devices.Single(d => d.Household >= 0 && plan.World.Households[d.Household].Id == guest.Household && d.Meter == MeterType.Water).Id;
        Assert.True(UseWithin(messages, guestWater, guest.Onset, guest.End) > 1.5 * UseWithin(usual, guestWater, guest.Onset, guest.End));
    }

    [Fact]
    public void Exported_registry_loads_and_suppresses_the_holiday_confounder()
    {
        var plan = SimulatedRun.Plan(scenario: Scenarios.Preset("welfare-mix", s_day));
        var path = Path.Combine(Path.GetTempPath(), $"sensing-registry-{Guid.NewGuid():N}.json");
        try
        {
            TruthFile.WriteRegistry(path, plan.World, plan.Away);
            var registry = new DeviceRegistry();
            registry.Load(DeviceRegistry.ReadFile(path));

            Assert.Equal(plan.World.Devices.Count, registry.Devices.Count);
            Assert.Equal(plan.World.Households.Count(h => h.Kind == HouseholdKind.ElderlyAlone), registry.Households.Count(h => h.ElderlyLivingAlone));
            Assert.Equal(DeviceKind.Meter, registry.FindDevice("c2-wm-0007")!.Kind);
            var holidays = plan.Truth.Where(t => t.Kind == TruthKinds.HolidayAway).ToList();
            Assert.Equal(2, holidays.Count);
            foreach (var away in holidays)
            {
                Assert.True(registry.FindHousehold(away.Household!)!.ElderlyLivingAlone);
                Assert.True(registry.IsAway(away.Household!, away.Onset.AddMinutes(30)));
                Assert.False(registry.IsAway(away.Household!, away.Onset.AddMinutes(-30)));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Truth_file_has_one_object_per_incident_with_every_field()
    {
        var plan = SimulatedRun.Plan(scenario: Scenarios.Preset("all", s_day), faults: new FaultRates { Silent = 0.05 });
        using var stream = new MemoryStream();
        TruthFile.Write(stream, plan.Truth);
        var lines = System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(plan.Truth.Count, lines.Length);
        Assert.Contains(plan.Truth, t => t.Kind == AlertKinds.DeviceSilent && t.Device!.Contains("-wm-", StringComparison.Ordinal)); // a fault, not just the scenario's camera
        foreach (var line in lines)
        {
            var row = JsonDocument.Parse(line).RootElement;
            Assert.Equal(["community", "depth", "device", "end", "expect_alert", "grid", "household", "kind", "onset", "subject"], row.EnumerateObject().Select(p => p.Name).Order());
            Assert.EndsWith("Z", row.GetProperty("onset").GetString());
            Assert.True(row.GetProperty("onset").GetDateTimeOffset() <= row.GetProperty("end").GetDateTimeOffset());
        }
    }

    [Fact]
    public void A_scenario_file_names_subjects_and_absolute_onsets()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sensing-scenario-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {"incidents":[
              {"kind":"water_leak","subject":"c2-wm-0010","onset":"2026-11-02T02:00:00+08:00","duration":"3h","depth":0.05},
              {"kind":"gate_forced","community":"c1","onset":"+90m"}
            ]}
            """);
        try
        {
            var plan = SimulatedRun.Plan(scenario: Scenarios.ReadFile(path, SimulatedRun.Start));
            Assert.Collection(plan.Truth,
                forced => Assert.Equal((AlertKinds.GateForced, "c1", SimulatedRun.Start.AddMinutes(90)), (forced.Kind, forced.Community, forced.Onset)),
                leak => Assert.Equal(("c2-wm-0010", SimulatedRun.Start.AddHours(2), SimulatedRun.Start.AddHours(5), 0.05), (leak.Subject, leak.Onset, leak.End, leak.Depth!.Value)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string? Event(KeptMessage message) =>
        JsonDocument.Parse(message.Payload).RootElement.TryGetProperty("event", out var e) ? e.GetString() : null;

    private static int Free(KeptMessage message) => JsonDocument.Parse(message.Payload).RootElement.GetProperty("free").GetInt32();

    private static List<(DateTimeOffset Time, double Total)> Totals(List<KeptMessage> messages, string device) =>
        [.. messages.Where(m => m.DeviceId == device).Select(m => (m.Time, JsonDocument.Parse(m.Payload).RootElement.GetProperty("total").GetDouble()))];

    /// <summary>Use between the readings inside [from, end]: the register's rise over whole reading intervals within the window.</summary>
    private static double UseWithin(List<KeptMessage> messages, string device, DateTimeOffset from, DateTimeOffset end)
    {
        var inside = Totals(messages, device).Where(r => r.Time >= from && r.Time <= end).ToList();
        return inside[^1].Total - inside[0].Total;
    }
}
