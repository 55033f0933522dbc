using Sensing.Telemetry;

namespace Sensing.Simulators;

/// <summary>
/// The demo registry: two communities a newcomer sees on the wall screen. Ids follow one convention so a
/// reader can tell a device's role from its id alone:
/// <c>h-c1-007</c> household, <c>c1-wm-007</c>/<c>c1-em-007</c> its water/electricity meter,
/// <c>c1-gate-1</c>, <c>c1-lot-P1</c> (parking lot counter), <c>c1-cam-05</c>.
/// The same seed always gives the same world; the seed only moves details (elderly flags, lot sizes),
/// never the ids, so a data file written under one seed stays readable under another.
/// </summary>
public static class DemoWorld
{
    public const int DefaultSeed = 2026;
    public const int HouseholdsPerCommunity = 30;
    public const int CamerasPerCommunity = 12;

    private static readonly (string Id, string Name)[] s_communities = [("c1", "阳光社区"), ("c2", "和谐社区")];
    private static readonly (string Id, string Name)[] s_grids = [("g1", "一网格"), ("g2", "二网格"), ("g3", "三网格")];

    /// <summary>Builds the demo registry for <paramref name="seed"/>; the host seeds its registry with it.</summary>
    public static RegistrySnapshot Create(int seed = DefaultSeed)
    {
        var random = new Random(seed);
        var communities = new List<Community>();
        var grids = new List<Grid>();
        var households = new List<Household>();
        var devices = new List<Device>();
        var contacts = new List<HouseholdContact>();

        foreach (var (communityId, communityName) in s_communities)
        {
            communities.Add(new Community(communityId, communityName));
            foreach (var (gridId, gridName) in s_grids)
                grids.Add(new Grid(gridId, communityId, gridName));

            // Households fill the grids in blocks of ten (buildings are grouped by grid). One or two per
            // grid live alone and elderly, so every grid worker has someone to look after and grid g1 of
            // c1 always has the household the planted incident needs.
            var perGrid = HouseholdsPerCommunity / s_grids.Length;
            for (var g = 0; g < s_grids.Length; g++)
            {
                var elderly = new HashSet<int> { random.Next(perGrid) };
                if (random.NextDouble() < 0.6)
                    elderly.Add(random.Next(perGrid));
                for (var i = 0; i < perGrid; i++)
                {
                    var number = g * perGrid + i + 1;
                    var household = HouseholdId(communityId, number);
                    var gridId = s_grids[g].Id;
                    households.Add(new Household(household, communityId, gridId, elderly.Contains(i)));
                    if (elderly.Contains(i))
                    {
                        // Made-up residents and numbers, so the worker page can show whom to call; not drawn from the
                        // seeded random, which would change every other figure of the demo world.
                        contacts.Add(new HouseholdContact(household, [s_residents[number % s_residents.Length]],
                            $"138{number:0000}{5678 + number % 100:0000}", "李明", $"139{number:0000}1111"));
                    }
                    devices.Add(new Device($"{communityId}-wm-{number:000}", DeviceKind.Meter, communityId, gridId, household));
                    devices.Add(new Device($"{communityId}-em-{number:000}", DeviceKind.Meter, communityId, gridId, household));
                }
            }

            // Gates at the two ends of the estate, lots in the outer grids, cameras round-robin over the grids.
            devices.Add(new Device($"{communityId}-gate-1", DeviceKind.Gate, communityId, "g1"));
            devices.Add(new Device($"{communityId}-gate-2", DeviceKind.Gate, communityId, "g3"));
            devices.Add(new Device(LotDeviceId(communityId, "P1"), DeviceKind.Parking, communityId, "g1"));
            devices.Add(new Device(LotDeviceId(communityId, "P2"), DeviceKind.Parking, communityId, "g3"));
            for (var c = 1; c <= CamerasPerCommunity; c++)
                devices.Add(new Device($"{communityId}-cam-{c:00}", DeviceKind.Camera, communityId, s_grids[(c - 1) % s_grids.Length].Id));
        }

        return new RegistrySnapshot { Communities = communities, Grids = grids, Households = households, Devices = devices, Contacts = contacts };
    }

    private static readonly string[] s_residents = ["张桂兰", "王秀英", "李淑珍", "刘建国", "陈玉兰", "杨德明", "赵凤英", "黄志强"];

    internal static string HouseholdId(string community, int number) => $"h-{community}-{number:000}";

    internal static string LotDeviceId(string community, string lot) => $"{community}-lot-{lot}";

    /// <summary>The meter's quantity, read from the id convention above; null for a meter not made by <see cref="Create"/>.</summary>
    internal static MeterType? MeterTypeOf(Device device) =>
        device.Kind != DeviceKind.Meter || device.Household is null ? null
        : device.Id.Contains("-wm-", StringComparison.Ordinal) ? MeterType.Water
        : device.Id.Contains("-em-", StringComparison.Ordinal) ? MeterType.Electricity
        : null;

    /// <summary>The lot counter's lot name (<c>P1</c>) from its id, e.g. <c>c1-lot-P1</c>.</summary>
    internal static string LotOf(Device device)
    {
        var dash = device.Id.LastIndexOf('-');
        return dash < 0 ? device.Id : device.Id[(dash + 1)..];
    }
}

internal enum MeterType { Water, Electricity }
