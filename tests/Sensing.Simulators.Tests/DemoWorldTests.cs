using System.Text.Json;
using Sensing.Telemetry;

namespace Sensing.Simulators.Tests;

public sealed class DemoWorldTests
{
    private readonly RegistrySnapshot _world = DemoWorld.Create(DemoWorld.DefaultSeed);

    [Fact]
    public void Has_two_communities_with_three_grids_each()
    {
        Assert.Equal(["c1", "c2"], _world.Communities.Select(c => c.Id));
        Assert.Equal("阳光社区", _world.Communities[0].Name);
        Assert.Equal("和谐社区", _world.Communities[1].Name);
        foreach (var community in _world.Communities)
            Assert.Equal(["g1", "g2", "g3"], _world.Grids.Where(g => g.Community == community.Id).Select(g => g.Id));
    }

    [Theory]
    [InlineData("c1")]
    [InlineData("c2")]
    public void Each_community_has_households_meters_gates_lots_and_cameras_spread_over_its_grids(string community)
    {
        var households = _world.Households.Where(h => h.Community == community).ToList();
        var devices = _world.Devices.Where(d => d.Community == community).ToList();

        Assert.Equal(30, households.Count);
        Assert.All(households, h => Assert.Matches($"^h-{community}-\\d{{3}}$", h.Id));
        Assert.InRange(households.Count(h => h.ElderlyLivingAlone), 3, 6);
        Assert.All(["g1", "g2", "g3"], g => Assert.Contains(households, h => h.Grid == g && h.ElderlyLivingAlone));

        foreach (var household in households)
        {
            var meters = devices.Where(d => d.Household == household.Id).ToList();
            Assert.Equal(2, meters.Count);
            Assert.All(meters, m => Assert.Equal((DeviceKind.Meter, household.Grid), (m.Kind, m.Grid)));
            var number = household.Id[^3..];
            Assert.Equal([$"{community}-em-{number}", $"{community}-wm-{number}"], meters.Select(m => m.Id).Order(StringComparer.Ordinal));
        }

        Assert.Equal(2, devices.Count(d => d.Kind == DeviceKind.Gate));
        Assert.Equal([$"{community}-lot-P1", $"{community}-lot-P2"], devices.Where(d => d.Kind == DeviceKind.Parking).Select(d => d.Id));
        var cameras = devices.Where(d => d.Kind == DeviceKind.Camera).ToList();
        Assert.Equal(12, cameras.Count);
        Assert.Equal(["g1", "g2", "g3"], cameras.Select(c => c.Grid!).Distinct().Order());
        Assert.All(devices, d => Assert.NotNull(d.Grid));
    }

    [Fact]
    public void Device_and_household_ids_are_unique()
    {
        Assert.Equal(_world.Devices.Count, _world.Devices.Select(d => d.Id).Distinct().Count());
        Assert.Equal(_world.Households.Count, _world.Households.Select(h => h.Id).Distinct().Count());
    }

    [Fact]
    public void Same_seed_gives_the_same_world_and_another_seed_moves_details_only()
    {
        static string Json(RegistrySnapshot world) => JsonSerializer.Serialize(world, RegistrySnapshot.JsonOptions);

        Assert.Equal(Json(DemoWorld.Create(7)), Json(DemoWorld.Create(7)));
        var other = DemoWorld.Create(8);
        Assert.Equal(_world.Devices.Select(d => d.Id), other.Devices.Select(d => d.Id));
        Assert.True(Enumerable.Range(1, 20).Select(s => Json(DemoWorld.Create(s))).Distinct().Count() > 1);
    }
}
