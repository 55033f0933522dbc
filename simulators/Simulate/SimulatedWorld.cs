using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>
/// Sizes of each simulated community. The defaults are a real community of about 5,000 residents: 11 grids,
/// ~2,000 households each with a water and an electricity meter, several hundred cameras, a few gates and
/// two or three parking lots, i.e. ~4,400 devices.
/// </summary>
internal sealed record WorldOptions
{
    public int Communities { get; init; } = 1;
    public int Grids { get; init; } = 11;
    public int Households { get; init; } = 2000;
    public int Cameras { get; init; } = 400;
    public int Gates { get; init; } = 4;
    public int Lots { get; init; } = 3;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Communities, 1, nameof(Communities));
        ArgumentOutOfRangeException.ThrowIfLessThan(Grids, 1, nameof(Grids));
        ArgumentOutOfRangeException.ThrowIfNegative(Households, nameof(Households));
        ArgumentOutOfRangeException.ThrowIfNegative(Cameras, nameof(Cameras));
        ArgumentOutOfRangeException.ThrowIfNegative(Gates, nameof(Gates));
        ArgumentOutOfRangeException.ThrowIfNegative(Lots, nameof(Lots));
        // Ids carry four-digit household and three-digit camera numbers; the source index packs into 22 bits.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Households, 9999, nameof(Households));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Cameras, 999, nameof(Cameras));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)Communities * (2 * Households + 2 * Cameras + Gates + Lots), 1 << 21, "devices");
    }
}

/// <summary>Who lives in a flat decides its rhythm (see <see cref="HouseholdProfiles"/>).</summary>
internal enum HouseholdKind { WorkingFamily, ElderlyAlone, RetiredCouple, EmptyFlat }

internal sealed record SimulatedHousehold(string Id, int Community, string Grid, HouseholdKind Kind);

/// <summary>A device and what the generator needs of it. Its topic is the wire format's business (<see cref="IFeedFormat"/>).</summary>
internal sealed record SimulatedDevice(
    string Id,
    DeviceKind Kind,
    int Community,
    string Grid,
    int Household = -1,
    MeterType Meter = MeterType.Water,
    string Label = "",
    int Capacity = 0);

/// <summary>
/// N communities <c>c1</c>…<c>cN</c> with one id convention (the demo's, widened): <c>h-c3-0042</c> household,
/// <c>c3-wm-0042</c>/<c>c3-em-0042</c> its meters, <c>c3-gate-2</c>, <c>c3-lot-P1</c>, <c>c3-cam-117</c>.
/// The seed decides each household's kind and the lots' sizes, never the ids.
/// </summary>
internal sealed class SimulatedWorld
{
    private static readonly string[] s_communityNames =
        ["阳光社区", "和谐社区", "幸福社区", "翠湖社区", "锦绣社区", "春晖社区", "明珠社区", "枫林社区", "新华社区", "东风社区",
         "长安社区", "绿园社区", "滨江社区", "金桥社区", "丽景社区", "朝阳社区", "平安社区", "兴隆社区", "云杉社区", "花园社区"];

    private static readonly string[] s_zones =
        ["east-gate", "west-gate", "north-lot", "south-lot", "lobby", "playground", "bike-shed", "garage-entry", "square", "path", "fire-lane", "corridor"];

    private SimulatedWorld(WorldOptions options, int seed, Community[] communities, Grid[] grids, SimulatedHousehold[] households, SimulatedDevice[] devices)
    {
        Options = options;
        Seed = seed;
        Communities = communities;
        Grids = grids;
        Households = households;
        Devices = devices;
    }

    public WorldOptions Options { get; }
    public int Seed { get; }
    public IReadOnlyList<Community> Communities { get; }
    public IReadOnlyList<Grid> Grids { get; }
    public IReadOnlyList<SimulatedHousehold> Households { get; }
    public IReadOnlyList<SimulatedDevice> Devices { get; }

    public static SimulatedWorld Create(WorldOptions options, int seed)
    {
        options.Validate();
        var communities = new List<Community>();
        var grids = new List<Grid>();
        var households = new List<SimulatedHousehold>();
        var devices = new List<SimulatedDevice>();
        for (var c = 0; c < options.Communities; c++)
        {
            var community = $"c{c + 1}";
            communities.Add(new Community(community, c < s_communityNames.Length ? s_communityNames[c] : $"第{c + 1}社区"));
            for (var g = 1; g <= options.Grids; g++)
                grids.Add(new Grid($"g{g}", community, $"第{g}网格"));
            string GridOf(int index, int count) => $"g{(long)index * options.Grids / Math.Max(1, count) + 1}";

            // Households fill the grids in contiguous blocks (buildings belong to one grid).
            for (var i = 0; i < options.Households; i++)
            {
                var number = i + 1;
                var id = $"h-{community}-{number:0000}";
                var grid = GridOf(i, options.Households);
                var householdIndex = households.Count;
                households.Add(new SimulatedHousehold(id, c, grid, KindOf(seed, id)));
                devices.Add(new SimulatedDevice($"{community}-wm-{number:0000}", DeviceKind.Meter, c, grid, householdIndex, MeterType.Water));
                devices.Add(new SimulatedDevice($"{community}-em-{number:0000}", DeviceKind.Meter, c, grid, householdIndex, MeterType.Electricity));
            }

            // Gates and lots spread over the grids at the estate's edge; cameras round-robin over all grids.
            for (var i = 0; i < options.Gates; i++)
            {
                var id = $"{community}-gate-{i + 1}";
                devices.Add(new SimulatedDevice(id, DeviceKind.Gate, c, GridOf(i, options.Gates)));
            }
            for (var i = 0; i < options.Lots; i++)
            {
                var lot = $"P{i + 1}";
                var id = $"{community}-lot-{lot}";
                // P1, P2…: residents' lots sized to the households (about one space per five flats, as in an
                // older estate); the last of three or more is a small visitors' lot.
                var spread = Noise.Unit(Noise.Hash((ulong)seed, Noise.Key(id), 4));
                var visitors = options.Lots >= 3 && i == options.Lots - 1;
                var capacity = visitors ? 40 + (int)(40 * spread) : Math.Max(20, (int)(options.Households * (0.14 + 0.08 * spread) / Math.Max(1, options.Lots - (options.Lots >= 3 ? 1 : 0))));
                devices.Add(new SimulatedDevice(id, DeviceKind.Parking, c, GridOf(i, options.Lots), Label: lot, Capacity: capacity));
            }
            for (var i = 0; i < options.Cameras; i++)
            {
                var id = $"{community}-cam-{i + 1:000}";
                devices.Add(new SimulatedDevice(id, DeviceKind.Camera, c, $"g{i % options.Grids + 1}",
                    Label: s_zones[(int)(Noise.Key(id) % (ulong)s_zones.Length)]));
            }
        }
        return new SimulatedWorld(options, seed, [.. communities], [.. grids], [.. households], [.. devices]);
    }

    /// <summary>The registry the service loads (<c>Registry:Path</c>), with the away spells of holiday confounders.</summary>
    public RegistrySnapshot ToRegistry(IReadOnlyList<AwaySpell> away)
    {
        var households = new Household[Households.Count];
        for (var i = 0; i < households.Length; i++)
        {
            var h = Households[i];
            households[i] = new Household(h.Id, Communities[h.Community].Id, h.Grid, h.Kind == HouseholdKind.ElderlyAlone);
        }
        var devices = new Device[Devices.Count];
        for (var i = 0; i < devices.Length; i++)
        {
            var d = Devices[i];
            devices[i] = new Device(d.Id, d.Kind, Communities[d.Community].Id, d.Grid, d.Household >= 0 ? Households[d.Household].Id : null);
        }
        return new RegistrySnapshot { Communities = Communities, Grids = Grids, Households = households, Devices = devices, Away = away };
    }

    // About 8 % elderly living alone (the people the welfare detector watches), 17 % retired couples, 7 % empty
    // flats (sold or rented out but unoccupied), the rest working families: roughly an older Chinese estate.
    private static HouseholdKind KindOf(int seed, string household) =>
        Noise.Unit(Noise.Hash((ulong)seed, Noise.Key(household), 5)) switch
        {
            < 0.08 => HouseholdKind.ElderlyAlone,
            < 0.25 => HouseholdKind.RetiredCouple,
            < 0.32 => HouseholdKind.EmptyFlat,
            _ => HouseholdKind.WorkingFamily,
        };
}
