using System.Text.Json.Serialization;

namespace Sensing.Telemetry;

/// <summary>
/// The whole device registry as one document: the format of the <c>Registry:Path</c> JSON file,
/// of the demo world's seed, and of exports. Shape:
/// <code>
/// {
///   "communities": [{"id":"c1","name":"阳光社区"}],
///   "grids":       [{"id":"g1","community":"c1","name":"一网格"}],
///   "households":  [{"id":"h-0042","community":"c1","grid":"g1","elderly_living_alone":true}],
///   "devices":     [{"id":"c1-wm-0042","kind":"meter","community":"c1","grid":"g1","household":"h-0042"},
///                   {"id":"c1-cam-007","kind":"camera","community":"c1","grid":"g2","source":"frigate:front_door"}],
///   "away":        [{"household":"h-0042","from":"2026-11-20T00:00:00Z","until":null}],
///   "credentials": [{"username":"c1-wm-0042","password_hash":"pbkdf2-sha256$100000$…$…"},
///                   {"username":"z2m-gateway-1","password_hash":"pbkdf2-sha256$…","topics":["zigbee2mqtt/#"]}],
///   "contacts":    [{"household":"h-0042","residents":["张桂兰"],"phone":"13812345678",
///                    "emergency_name":"李明","emergency_phone":"13900001111"}]
/// }
/// </code>
/// </summary>
public sealed record RegistrySnapshot
{
    [JsonPropertyName("communities")] public IReadOnlyList<Community> Communities { get; init; } = [];
    [JsonPropertyName("grids")] public IReadOnlyList<Grid> Grids { get; init; } = [];
    [JsonPropertyName("households")] public IReadOnlyList<Household> Households { get; init; } = [];
    [JsonPropertyName("devices")] public IReadOnlyList<Device> Devices { get; init; } = [];
    [JsonPropertyName("away")] public IReadOnlyList<AwaySpell> Away { get; init; } = [];

    /// <summary>The embedded broker's device and gateway credentials (hashed); see <see cref="DeviceCredential"/>.</summary>
    [JsonPropertyName("credentials")] public IReadOnlyList<DeviceCredential> Credentials { get; init; } = [];

    /// <summary>
    /// Residents' names and phone numbers (<see cref="HouseholdContact"/>): personal data, in the registry file only,
    /// never listed with households or devices.
    /// </summary>
    [JsonPropertyName("contacts")] public IReadOnlyList<HouseholdContact> Contacts { get; init; } = [];

    /// <summary>JSON options for the registry file: snake_case names, enums as their contract strings.</summary>
    public static System.Text.Json.JsonSerializerOptions JsonOptions { get; } = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };
}
