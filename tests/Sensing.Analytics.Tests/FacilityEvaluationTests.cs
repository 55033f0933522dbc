using System.Diagnostics;
using Sensing.Analytics.Facilities;
using Sensing.Ingest.Consumption;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;
using Xunit.Abstractions;

namespace Sensing.Analytics.Tests;

/// <summary>
/// The facility detectors on the simulators' <c>facilities</c> scenario with the default device faults (silences,
/// flapping cameras, skewed clocks, counter resets, malformed payloads): generated in process, normalized by ingest's own
/// normalizer, consumption derived as ingest derives it, and scored against the run's truth file.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FacilityEvaluationTests(ITestOutputHelper output)
{
    /// <summary>
    /// A week of six small communities (100 households, 10 cameras, 2 gates, 3 lots each, about 1.7 million messages):
    /// every community gets one of each facility incident, at onsets spread over the run. With
    /// <c>SENSING_FACILITY_EVAL=full</c> in the environment: two real-sized communities (2,000 households, 400 cameras,
    /// 4 gates, 3 lots) over ten days, for the figures in analytics/README.md. Isolated here so the generator's entry
    /// points can be swapped for the simulators' public labelled feed without touching the scoring.
    /// </summary>
    private static (IEnumerable<(string Topic, ReadOnlyMemory<byte> Payload, DateTimeOffset Time)> Messages, IReadOnlyList<TruthIncident> Truth, RegistrySnapshot Registry, int Households, TimeSpan Run) Simulate()
    {
        var start = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.FromHours(8));
        var full = Environment.GetEnvironmentVariable("SENSING_FACILITY_EVAL") == "full";
        var run = TimeSpan.FromDays(full ? 10 : 7);
        var world = SimulatedWorld.Create(full
            ? new WorldOptions { Communities = 2 }
            : new WorldOptions { Communities = 6, Households = 100, Cameras = 10, Gates = 2, Lots = 3, Grids = 4 }, seed: 7);
        var plan = FeedPlan.Create(world, start, run, Scenarios.Preset("facilities", run), new FaultRates());
        // Through the truth file's own format, so the reader is checked too.
        using var truthFile = new MemoryStream();
        TruthFile.Write(truthFile, plan.Truth);
        truthFile.Position = 0;
        var truth = TruthIncident.ReadLines(new StreamReader(truthFile));
        return (Messages(new FeedGenerator(plan)), truth, world.ToRegistry(plan.Away), world.Households.Count, run);

        static IEnumerable<(string, ReadOnlyMemory<byte>, DateTimeOffset)> Messages(FeedGenerator generator)
        {
            while (generator.TryNext(out var message)) yield return (message.Topic, message.Payload, message.Time);
        }
    }

    [Fact]
    public void The_facilities_scenario_is_found_in_time_without_false_alarms()
    {
        var (messages, truth, snapshot, households, run) = Simulate();
        var registry = new DeviceRegistry();
        registry.Load(snapshot);
        var normalizer = new NativeNormalizer(registry);
        var registers = new RegisterTracker();
        var evaluation = new FacilityEvaluation(new FacilityOptions(), new SilenceOptions(), FacilityFeed.Zone, registry.FindDevice);

        var clock = Stopwatch.StartNew();
        var readings = new List<Reading>();
        long messageCount = 0, deadLetters = 0;
        foreach (var (topic, payload, time) in messages)
        {
            messageCount++;
            readings.Clear();
            if (normalizer.Normalize(new IncomingMessage(topic, payload, time), readings) is not null)
            {
                deadLetters++;
                continue;
            }
            var registerCount = readings.Count;
            for (var i = 0; i < registerCount; i++)
            {
                if (registers.Observe(readings[i]) is { } consumption) readings.Add(consumption);
            }
            foreach (var reading in readings) evaluation.Observe(reading);
        }
        evaluation.Finish();
        clock.Stop();

        var scores = FacilityEvaluation.Score(truth, evaluation.Alerts, households * run.TotalDays, early: TimeSpan.FromHours(1), grace: TimeSpan.FromHours(6));
        output.WriteLine($"{messageCount:N0} messages ({deadLetters:N0} dead letters), {evaluation.Readings:N0} readings, {households * run.TotalDays:N0} household-days in {clock.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine(FacilityEvaluation.Table(scores));
        // Where false alarms came from: the devices with the most alerts of a kind they have no incident of, and what
        // the truth says about them (a fault, a confounder, nothing).
        var falseAlarms = evaluation.Alerts
            .Where(a => !truth.Any(t => t.Kind == a.Kind && (t.Device is { } d ? a.Device == d : a.Household == t.Household)))
            .GroupBy(a => (a.Kind, a.Device))
            .OrderByDescending(g => g.Count())
            .Take(10);
        foreach (var group in falseAlarms)
        {
            var labels = string.Join(", ", truth.Where(t => t.Device == group.Key.Device).Select(t => t.Kind));
            var first = group.First();
            output.WriteLine($"false alarms: {group.Count()} × {group.Key.Kind} {group.Key.Device} [{(labels.Length == 0 ? "unlabelled" : labels)}], first {first.StartedAt:O}→{first.RaisedAt:O}: {first.Evidence.Summary}");
        }

        foreach (var missed in truth.Where(t => t.ExpectAlert && !evaluation.Alerts.Any(a => a.Kind == t.Kind && a.Device == t.Device && a.RaisedAt >= t.Onset.AddHours(-1))))
        {
            output.WriteLine($"missed: {missed.Kind} {missed.Subject} {missed.Onset:O}–{missed.End:O}; its alerts: "
                + string.Join(", ", evaluation.Alerts.Where(a => a.Device == missed.Device).Select(a => $"{a.Kind} {a.StartedAt:O}→{a.RaisedAt:O}")));
        }

        var byKind = scores.ToDictionary(s => s.Kind);
        foreach (var kind in new[] { AlertKinds.WaterLeak, AlertKinds.ParkingFull, AlertKinds.GateForced, AlertKinds.CameraEvent })
        {
            var score = byKind[kind];
            Assert.Equal(snapshot.Communities.Count, score.Expected);
            Assert.True(score.Detected == score.Expected, $"{kind}: {score.Detected} of {score.Expected} found");
            Assert.True(score.FalseAlarms == 0, $"{kind}: {score.FalseAlarms} false alarms");
        }
        // Every labelled silence of an hour or more is found, within minutes of the onset for cameras and meters alike.
        var silent = byKind[AlertKinds.DeviceSilent];
        Assert.True(silent.Detected == silent.Expected, $"device_silent: {silent.Detected} of {silent.Expected} found");
        Assert.True(silent.P90Delay < TimeSpan.FromMinutes(65), $"device_silent p90 delay {silent.P90Delay}");
        // A fire is known at once; a full lot after its ten minutes; a leak by the end of its first night.
        Assert.Equal(TimeSpan.Zero, byKind[AlertKinds.CameraEvent].P90Delay);
        Assert.Equal(TimeSpan.Zero, byKind[AlertKinds.GateForced].P90Delay);
        Assert.True(byKind[AlertKinds.ParkingFull].P90Delay <= TimeSpan.FromMinutes(11), $"parking_full p90 delay {byKind[AlertKinds.ParkingFull].P90Delay}");
        Assert.True(byKind[AlertKinds.WaterLeak].P90Delay < TimeSpan.FromHours(30), $"water_leak p90 delay {byKind[AlertKinds.WaterLeak].P90Delay}");
        // Nothing the scenario did not stage: no held-open doors, busy nights, overstays; and no other alert kind at all.
        Assert.All(scores.Where(s => s.Expected == 0), s => Assert.Equal(0, s.Alerts));
    }
}
