using System.Text.Json.Serialization;

namespace Sensing.Telemetry;

/// <summary>The four kinds of device of the native wire format (the topic's <c>{kind}</c> segment).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeviceKind>))]
public enum DeviceKind
{
    [JsonStringEnumMemberName("meter")] Meter,
    [JsonStringEnumMemberName("gate")] Gate,
    [JsonStringEnumMemberName("parking")] Parking,
    [JsonStringEnumMemberName("camera")] Camera,
}

public static class DeviceKinds
{
    /// <summary>Parses the topic segment without allocating; false for anything but the four kinds.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DeviceKind kind)
    {
        switch (text)
        {
            case "meter": kind = DeviceKind.Meter; return true;
            case "gate": kind = DeviceKind.Gate; return true;
            case "parking": kind = DeviceKind.Parking; return true;
            case "camera": kind = DeviceKind.Camera; return true;
            default: kind = default; return false;
        }
    }

    public static string Name(this DeviceKind kind) => kind switch
    {
        DeviceKind.Meter => "meter",
        DeviceKind.Gate => "gate",
        DeviceKind.Parking => "parking",
        DeviceKind.Camera => "camera",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>A community (社区): the unit a control room watches.</summary>
public sealed record Community(string Id, string Name);

/// <summary>A grid (网格) of buildings within a community, answered by one team of grid workers.</summary>
public sealed record Grid(string Id, string Community, string Name);

/// <summary>
/// A household, known only by a pseudonymous id in the time series. Names and phone numbers are not
/// part of the canonical model: they live with the roles that need them.
/// </summary>
public sealed record Household(string Id, string Community, string? Grid, bool ElderlyLivingAlone = false);

/// <summary>A registered device. <see cref="Grid"/> is null for a device seen but not yet assigned.</summary>
/// <param name="Source">Vendor source id (e.g. <c>frigate:front_door</c>) for devices that do not speak the native format.</param>
public sealed record Device(string Id, DeviceKind Kind, string Community, string? Grid, string? Household = null, string? Source = null);

/// <summary>
/// What lets a device (or a gateway that publishes for many) into the embedded broker: its MQTT username, a password
/// hash (<see cref="PasswordHash"/>, never the password) and the topic filters it may publish to. Kept beside the
/// devices in the registry, not on <see cref="Device"/>, so nothing that lists devices can show a hash.
/// </summary>
/// <param name="Username">The MQTT username: a device's id for a device credential, any name for a gateway.</param>
/// <param name="PasswordHash">A <c>pbkdf2-sha256$…</c> hash from <see cref="Telemetry.PasswordHash.Create"/>.</param>
/// <param name="Topics">
/// Topic filters it may publish to. When empty and <paramref name="Username"/> is a registered device, that device's
/// own native topic <c>sensing/{community}/{kind}/{id}</c>; gateways (Zigbee2MQTT, ChirpStack, Sparkplug edge nodes,
/// Frigate) list theirs, e.g. <c>tele/meter-17/#</c> or <c>spBv1.0/c1/+/plant1/#</c>.
/// </param>
public sealed record DeviceCredential(string Username, string PasswordHash, IReadOnlyList<string>? Topics = null);

/// <summary>A spell during which a household is away (holiday, hospital): welfare alerts are suppressed.</summary>
public sealed record AwaySpell(string Household, DateTimeOffset From, DateTimeOffset? Until);

/// <summary>
/// How to reach a household's residents: names, phone, emergency contact. Personal data, so it is kept beside the
/// household in the registry, never on <see cref="Household"/>, a reading, an alert, a dead letter or a log line:
/// the time series knows households only by their pseudonymous id. Only the roles that must call the resident read
/// it (the cockpit's <c>GET /api/households/{id}/contact</c>).
/// </summary>
/// <param name="Household">The pseudonymous household id this contact belongs to.</param>
/// <param name="Residents">Residents' names, e.g. <c>["张桂兰"]</c>.</param>
/// <param name="Phone">The residents' phone number.</param>
/// <param name="EmergencyName">Who to call when the residents do not answer (a child, a neighbour).</param>
/// <param name="EmergencyPhone">That person's phone number.</param>
public sealed record HouseholdContact(
    string Household,
    IReadOnlyList<string> Residents,
    string? Phone = null,
    string? EmergencyName = null,
    string? EmergencyPhone = null)
{
    /// <summary>Never the names or numbers: a record's generated ToString would put them into any log that formats it.</summary>
    public override string ToString() => $"HouseholdContact {{ Household = {Household} }}";
}
