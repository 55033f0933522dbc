using System.Security.Cryptography;
using Sensing.Simulators.Simulate;

namespace Sensing.Simulators.Tests.Simulate;

/// <summary>A generated message kept for inspection (payload copied out of the generator's buffer).</summary>
internal sealed record KeptMessage(int Device, string Topic, byte[] Payload, DateTimeOffset Time, MessageFault Fault)
{
    public string DeviceId => Topic[(Topic.LastIndexOf('/') + 1)..];
}

/// <summary>Small worlds and whole runs for the tests: big enough for every kind of device, fast enough for a unit test.</summary>
internal static class SimulatedRun
{
    public static readonly DateTimeOffset Start = new(2026, 11, 2, 0, 0, 0, TimeSpan.FromHours(8)); // a Monday

    public static readonly WorldOptions SmallWorld = new() { Communities = 2, Households = 120, Cameras = 16, Gates = 2, Lots = 3 };

    public static FeedPlan Plan(int seed = 7, TimeSpan? duration = null, IReadOnlyList<IncidentSpec>? scenario = null, FaultRates? faults = null, WorldOptions? world = null) =>
        FeedPlan.Create(SimulatedWorld.Create(world ?? SmallWorld, seed), Start, duration ?? TimeSpan.FromDays(1), scenario ?? [], faults ?? FaultRates.None);

    public static List<KeptMessage> Messages(FeedPlan plan)
    {
        var generator = new FeedGenerator(plan);
        var messages = new List<KeptMessage>();
        while (generator.TryNext(out var m))
            messages.Add(new KeptMessage(m.Device, m.Topic, m.Payload.ToArray(), m.Time, m.Fault));
        return messages;
    }

    /// <summary>SHA-256 over topic, payload and event time of the first <paramref name="limit"/> messages.</summary>
    public static string Hash(FeedPlan plan, long limit = long.MaxValue)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var generator = new FeedGenerator(plan);
        Span<byte> time = stackalloc byte[8];
        for (var i = 0L; i < limit && generator.TryNext(out var m); i++)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(m.Topic));
            hash.AppendData(m.Payload.Span);
            BitConverter.TryWriteBytes(time, m.Time.UtcTicks);
            hash.AppendData(time);
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
