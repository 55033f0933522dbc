using System.Text;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;

namespace Sensing.Benchmarks;

/// <summary>
/// One native-format message as a device sends it (contract: "Native MQTT wire format"), with the most the
/// normalizer may allocate per message for it. Shared by <see cref="NativeNormalizerBenchmarks"/> and the
/// <c>--check-allocations</c> budget check so both measure the same payloads.
/// </summary>
/// <param name="Name">Short name shown in the results table.</param>
/// <param name="Topic"><c>sensing/{community}/{kind}/{device}</c>.</param>
/// <param name="Json">The payload.</param>
/// <param name="BudgetBytes">
/// Allowed heap bytes per message. The <see cref="Reading"/> is a struct appended to a reused list, so a
/// registered device's reading costs nothing; the only expected allocation is the attributes string when the
/// payload carries something beyond the reading (a gate's credential, a camera's score). On x64 a string of
/// n chars takes 22 + 2n bytes rounded up to 8: <c>{"credential":"face"}</c> (21 chars) is 64 B.
/// </param>
public sealed record NormalizerCase(string Name, string Topic, string Json, int BudgetBytes)
{
    public byte[] Payload { get; } = Encoding.UTF8.GetBytes(Json);

    public static readonly DateTimeOffset ReceivedAt = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    public static IReadOnlyList<NormalizerCase> All { get; } =
    [
        new("meter", "sensing/c1/meter/wm-0042",
            """{"ts":"2026-11-20T07:15:00+08:00","type":"water","total":123.456,"household":"h-0042"}""", 0),
        new("meter-epoch", "sensing/c1/meter/em-0042",
            """{"ts":1763593200000,"type":"electricity","total":8817.25,"household":"h-0042"}""", 0),
        new("gate-credential", "sensing/c1/gate/gate-north",
            """{"ts":1763593200000,"event":"pass","direction":"in","credential":"face","household":"h-0042"}""", 64),
        new("parking-lot", "sensing/c1/parking/lot-p1",
            """{"ts":1763593200000,"lot":"P1","free":12,"capacity":200}""", 0),
        new("camera-crowd", "sensing/c1/camera/cam-east",
            """{"ts":1763593200000,"event":"crowd","count":37,"zone":"east-gate"}""", 0),
        // {"score":0.87} is 14 chars: 22 + 28 = 50, rounded up to 56 B.
        new("camera-score", "sensing/c1/camera/cam-east",
            """{"ts":1763593200000,"event":"person","count":1,"zone":"east-gate","score":0.87}""", 56),
    ];

    public IncomingMessage Message => new(Topic, Payload, ReceivedAt);

    /// <summary>A registry where every case's device and household are already known, as in steady state.</summary>
    public static DeviceRegistry SeededRegistry()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Household("h-0042", "c1", "g1", ElderlyLivingAlone: true));
        registry.Upsert(new Device("wm-0042", DeviceKind.Meter, "c1", "g1", Household: "h-0042"));
        registry.Upsert(new Device("em-0042", DeviceKind.Meter, "c1", "g1", Household: "h-0042"));
        registry.Upsert(new Device("gate-north", DeviceKind.Gate, "c1", "g1"));
        registry.Upsert(new Device("lot-p1", DeviceKind.Parking, "c1", "g1"));
        registry.Upsert(new Device("cam-east", DeviceKind.Camera, "c1", "g1"));
        return registry;
    }

    public override string ToString() => Name;
}
