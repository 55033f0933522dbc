namespace Sensing.Telemetry;

/// <summary>
/// One canonical observation from a device, in event time. Every device payload, native or vendor,
/// becomes one or more readings. A device event (a gate pass, a camera detection) is a reading too:
/// its <see cref="Metric"/> names the event (<c>gate.pass</c>) and its <see cref="Value"/> counts it
/// (1, or a crowd's head count), so events and measurements share one store and one query API.
/// </summary>
/// <param name="Device">Registry device id.</param>
/// <param name="Community">Community the device belongs to.</param>
/// <param name="Grid">Grid of buildings, or null for a device not yet assigned.</param>
/// <param name="Household">Pseudonymous household id (never a name) for meters and credentialled gate passes.</param>
/// <param name="Metric">What was observed; see <see cref="Metrics"/>.</param>
/// <param name="Time">Event time (UTC): when the device says it happened, or broker receive time when it did not say.</param>
/// <param name="Value">The figure: m³, kWh, a count, 0/1.</param>
/// <param name="Label">One dimension that distinguishes series of one device: a parking lot or space, a camera zone, a gate direction.</param>
/// <param name="Attributes">Unknown extra payload fields and secondary details, as a compact JSON object, or null.</param>
public readonly record struct Reading(
    string Device,
    string Community,
    string? Grid,
    string? Household,
    string Metric,
    DateTimeOffset Time,
    double Value,
    string? Label = null,
    string? Attributes = null);

/// <summary>Metric names of the canonical schema: <c>{device kind}.{quantity or event}</c>.</summary>
public static class Metrics
{
    // Meters publish a cumulative register; ingest derives consumption per interval from it.
    public const string WaterTotal = "water.total";
    public const string WaterConsumption = "water.consumption";
    public const string ElectricityTotal = "electricity.total";
    public const string ElectricityConsumption = "electricity.consumption";

    // A household's leak sensor (Zigbee2MQTT water_leak): 1 while it reports water, 0 when dry. Kept on a meter-kind
    // device of the household, beside its water meter; analytics' water_leak alert still comes from consumption.
    public const string WaterLeak = "water.leak";

    // Gate events; Label is the direction (in/out), Attributes carry the credential.
    public const string GatePass = "gate.pass";
    public const string GateDenied = "gate.denied";
    public const string GateForced = "gate.forced";
    public const string GateHeldOpen = "gate.held_open";

    // Parking: a space sensor reports occupied 0/1 (Label = space); a lot counter reports free and capacity (Label = lot).
    public const string ParkingOccupied = "parking.occupied";
    public const string ParkingFree = "parking.free";
    public const string ParkingCapacity = "parking.capacity";

    // Camera events; Value is the count when the camera gives one, else 1; Label is the zone.
    public const string CameraPrefix = "camera.";
    public const string CameraOnline = "camera.online";
    public const string CameraOffline = "camera.offline";

    /// <summary>The register metric of a meter type (<c>water</c> → <c>water.total</c>), or null for an unknown type.</summary>
    public static string? RegisterOf(string meterType) => meterType switch
    {
        "water" => WaterTotal,
        "electricity" => ElectricityTotal,
        _ => null,
    };

    /// <summary>The consumption metric derived from a register metric (<c>water.total</c> → <c>water.consumption</c>).</summary>
    public static string? ConsumptionOf(string registerMetric) => registerMetric switch
    {
        WaterTotal => WaterConsumption,
        ElectricityTotal => ElectricityConsumption,
        _ => null,
    };
}
