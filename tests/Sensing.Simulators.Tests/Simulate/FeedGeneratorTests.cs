using System.Text.Json;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;

namespace Sensing.Simulators.Tests.Simulate;

public sealed class FeedGeneratorTests
{
    // Faults far above the defaults so a small world-day shows every kind several times.
    private static readonly FaultRates s_manyFaults = new() { Silent = 0.02, Flapping = 0.1, ClockSkew = 0.02, CounterReset = 0.03, Malformed = 0.01 };

    [Fact]
    public void Same_seed_gives_a_byte_identical_stream()
    {
        IReadOnlyList<IncidentSpec> scenario = Scenarios.Preset("all", TimeSpan.FromDays(1));
        var first = SimulatedRun.Plan(seed: 11, scenario: scenario, faults: s_manyFaults);
        var second = SimulatedRun.Plan(seed: 11, scenario: scenario, faults: s_manyFaults);

        Assert.Equal(SimulatedRun.Hash(first, limit: 5_000), SimulatedRun.Hash(second, limit: 5_000));
        Assert.Equal(SimulatedRun.Hash(first), SimulatedRun.Hash(second));
    }

    [Fact]
    public void Different_seed_gives_a_different_stream_over_the_same_ids()
    {
        var a = SimulatedRun.Plan(seed: 1, duration: TimeSpan.FromHours(2));
        var b = SimulatedRun.Plan(seed: 2, duration: TimeSpan.FromHours(2));

        Assert.NotEqual(SimulatedRun.Hash(a, limit: 1_000), SimulatedRun.Hash(b, limit: 1_000));
        Assert.Equal(a.World.Devices.Select(d => d.Id), b.World.Devices.Select(d => d.Id));
    }

    [Fact]
    public void Default_world_is_a_real_community()
    {
        var world = SimulatedWorld.Create(new WorldOptions(), seed: 2026);

        Assert.Equal(11, world.Grids.Count);
        Assert.Equal(2000, world.Households.Count);
        Assert.Equal(4000, world.Devices.Count(d => d.Kind == DeviceKind.Meter));
        Assert.InRange(world.Devices.Count(d => d.Kind == DeviceKind.Camera), 200, 900);
        Assert.InRange(world.Devices.Count(d => d.Kind == DeviceKind.Parking), 2, 3);
        Assert.InRange(world.Households.Count(h => h.Kind == HouseholdKind.ElderlyAlone), 120, 200); // ~8 %
        Assert.All(Enum.GetValues<HouseholdKind>(), kind => Assert.Contains(world.Households, h => h.Kind == kind));
        Assert.Equal(11, world.Households.Select(h => h.Grid).Distinct().Count());
    }

    [Fact]
    public void Every_message_is_in_event_time_order_and_valid_per_contract_unless_labelled_malformed()
    {
        var plan = SimulatedRun.Plan(scenario: Scenarios.Preset("all", TimeSpan.FromDays(1)), faults: s_manyFaults);
        var messages = SimulatedRun.Messages(plan);
        var normalizer = new NativeNormalizer(new DeviceRegistry());
        var readings = new List<Reading>();

        Assert.All(messages.Zip(messages.Skip(1)), pair => Assert.True(pair.First.Time <= pair.Second.Time));
        var malformed = 0;
        foreach (var message in messages)
        {
            readings.Clear();
            var error = normalizer.Normalize(new IncomingMessage(message.Topic, message.Payload, message.Time), readings);
            if (message.Fault == MessageFault.Malformed)
            {
                Assert.True(error is not null, $"malformed payload accepted: {message.Topic} {System.Text.Encoding.UTF8.GetString(message.Payload)}");
                malformed++;
                continue;
            }
            Assert.True(error is null, $"{message.Topic} {System.Text.Encoding.UTF8.GetString(message.Payload)}: {error}");
            var parsed = NativeMessage.Parse(new FeedMessage(message.Topic, message.Payload, message.Time + Skew(plan, message)));
            Assert.Equal(plan.World.Devices[message.Device].Id, parsed.Device);
        }
        Assert.InRange(malformed, 50, messages.Count / 50);
        Assert.Contains(messages, m => m.Fault == MessageFault.ClockSkew);
        Assert.Contains(messages, m => m.Fault == MessageFault.CounterReset);
    }

    [Fact]
    public void Malformed_payloads_come_in_several_kinds()
    {
        var plan = SimulatedRun.Plan(duration: TimeSpan.FromHours(6), faults: FaultRates.None with { Malformed = 0.05 });
        var reasons = new HashSet<string>();
        var normalizer = new NativeNormalizer(new DeviceRegistry());
        foreach (var message in SimulatedRun.Messages(plan).Where(m => m.Fault == MessageFault.Malformed))
        {
            var reason = normalizer.Normalize(new IncomingMessage(message.Topic, message.Payload, message.Time), [])!;
            reasons.Add(reason.Contains("JSON", StringComparison.OrdinalIgnoreCase) || reason.Contains("truncated", StringComparison.Ordinal) ? "bad json"
                : reason.Contains("must be", StringComparison.Ordinal) ? "wrong type"
                : reason.Contains("missing", StringComparison.Ordinal) || reason.Contains("needs", StringComparison.Ordinal) ? "missing field"
                : reason);
        }
        Assert.Equal(["bad json", "missing field", "wrong type"], reasons.Order());
    }

    [Fact]
    public void Registers_never_decrease_except_at_an_injected_counter_reset()
    {
        var plan = SimulatedRun.Plan(faults: FaultRates.None with { CounterReset = 0.05, Malformed = 0.005 });
        var last = new Dictionary<string, double>();
        var resets = 0;
        foreach (var message in SimulatedRun.Messages(plan))
        {
            if (!message.Topic.Contains("/meter/", StringComparison.Ordinal) || message.Fault == MessageFault.Malformed)
                continue;
            var total = JsonDocument.Parse(message.Payload).RootElement.GetProperty("total").GetDouble();
            if (last.TryGetValue(message.DeviceId, out var previous) && total < previous)
            {
                Assert.Equal(MessageFault.CounterReset, message.Fault);
                resets++;
            }
            last[message.DeviceId] = total;
        }
        Assert.Equal(plan.Truth.Count(t => t.Kind == TruthKinds.CounterReset), resets);
        Assert.True(resets > 0);
    }

    [Fact]
    public void Gates_peak_in_the_morning_and_evening_and_lots_fill_overnight()
    {
        var messages = SimulatedRun.Messages(SimulatedRun.Plan(world: SimulatedRun.SmallWorld with { Households = 600 }));
        int GatesBetween(int from, int to) => messages.Count(m => m.Topic.Contains("/gate/", StringComparison.Ordinal) && LocalHour(m) >= from && LocalHour(m) < to);
        Assert.True(GatesBetween(7, 9) > 4 * GatesBetween(1, 3), $"{GatesBetween(7, 9)} vs {GatesBetween(1, 3)}");
        Assert.True(GatesBetween(17, 20) > 3 * GatesBetween(13, 16) / 2);

        double Free(int hour) => messages.Where(m => m.Topic.EndsWith("-lot-P1", StringComparison.Ordinal) && LocalHour(m) == hour)
            .Average(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("free").GetInt32());
        Assert.True(Free(3) < Free(12) / 3, $"free at 3: {Free(3)}, at 12: {Free(12)}");
    }

    [Fact]
    public void Households_differ_by_kind_and_rest_days_follow_the_2026_holiday_calendar()
    {
        Assert.True(ChinaCalendar.IsRestDay(new DateOnly(2026, 10, 6)));   // National Day week, a Tuesday
        Assert.False(ChinaCalendar.IsRestDay(new DateOnly(2026, 10, 10))); // make-up work day, a Saturday
        Assert.True(ChinaCalendar.IsRestDay(new DateOnly(2026, 11, 28)));  // an ordinary Saturday
        Assert.False(ChinaCalendar.IsRestDay(new DateOnly(2026, 11, 24)));

        var plan = SimulatedRun.Plan(world: SimulatedRun.SmallWorld with { Households = 400 });
        var use = DailyWater(SimulatedRun.Messages(plan));
        double Mean(HouseholdKind kind) => plan.World.Households.Where(h => h.Kind == kind).Average(h => use.GetValueOrDefault(h.Id));
        Assert.True(Mean(HouseholdKind.EmptyFlat) < Mean(HouseholdKind.ElderlyAlone) / 5);
        Assert.True(Mean(HouseholdKind.ElderlyAlone) < Mean(HouseholdKind.WorkingFamily) / 2);
    }

    private static Dictionary<string, double> DailyWater(List<KeptMessage> messages)
    {
        var first = new Dictionary<string, double>();
        var use = new Dictionary<string, double>();
        foreach (var m in messages.Where(m => m.Topic.Contains("-wm-", StringComparison.Ordinal)))
        {
            var payload = JsonDocument.Parse(m.Payload).RootElement;
            var household = payload.GetProperty("household").GetString()!;
            var total = payload.GetProperty("total").GetDouble();
            first.TryAdd(household, total);
            use[household] = total - first[household];
        }
        return use;
    }

    private static int LocalHour(KeptMessage message) => message.Time.ToOffset(TimeSpan.FromHours(8)).Hour;

    private static TimeSpan Skew(FeedPlan plan, KeptMessage message) => TimeSpan.FromMilliseconds(plan.SkewMs[message.Device]);
}
