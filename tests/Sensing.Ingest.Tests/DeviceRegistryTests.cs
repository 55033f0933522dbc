using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Tests;

public sealed class DeviceRegistryTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-ingest-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void A_loaded_file_shares_one_copy_of_each_community_grid_and_household_id_and_keeps_every_value()
    {
        // Read from JSON, as at start: every device brings its own copies of "c1", "g1" and its household's id.
        var path = Path.Combine(_folder, "registry.json");
        var source = new DeviceRegistry();
        source.Upsert(new Household("h-0001", "c1", "g1", ElderlyLivingAlone: true));
        source.Upsert(new Device("c1-wm-0001", DeviceKind.Meter, "c1", "g1", "h-0001"));
        source.Upsert(new Device("c1-em-0001", DeviceKind.Meter, "c1", "g1", "h-0001"));
        source.Upsert(new Device("c1-cam-01", DeviceKind.Camera, "c1", "g2"));
        source.SaveFile(path);

        var registry = new DeviceRegistry();
        registry.Load(DeviceRegistry.ReadFile(path));
        var water = registry.FindDevice("c1-wm-0001")!;
        var power = registry.FindDevice("c1-em-0001")!;
        var camera = registry.FindDevice("c1-cam-01")!;

        Assert.Equal(new Device("c1-wm-0001", DeviceKind.Meter, "c1", "g1", "h-0001"), water);
        Assert.Equal(new Device("c1-cam-01", DeviceKind.Camera, "c1", "g2"), camera);
        Assert.Same(water.Community, power.Community);
        Assert.Same(water.Community, camera.Community);
        Assert.Same(water.Grid, power.Grid);
        Assert.Same(water.Household, power.Household);
        Assert.Same(registry.FindHousehold("h-0001")!.Id, water.Household);
        Assert.Same(registry.FindHousehold("h-0001")!.Community, water.Community);
        // A device first seen on its topic shares the community's id too.
        Assert.Same(water.Community, registry.Resolve("c1-gate-9".AsSpan(), DeviceKind.Gate, "xc1".AsSpan(1)).Community);
    }

    [Fact]
    public void Find_by_span_and_by_string_agree()
    {
        var registry = World.Registry();
        var buffer = "xxc1-wm-0042yy".AsSpan(2, 10);

        Assert.Same(registry.FindDevice("c1-wm-0042"), registry.FindDevice(buffer));
        Assert.Equal(new Device("c1-wm-0042", DeviceKind.Meter, "c1", "g1", "h-0042"), registry.FindDevice(buffer));
        Assert.Null(registry.FindDevice("c1-wm-0043".AsSpan()));
        Assert.Same(registry.FindHousehold("h-0042"), registry.FindHousehold("h-0042".AsSpan()));
        Assert.Null(registry.FindHousehold("h-9999".AsSpan()));
    }

    [Fact]
    public void Resolve_returns_a_registered_device_unchanged()
    {
        var registry = World.Registry();
        var version = registry.Version;

        var device = registry.Resolve("c1-gate-01", DeviceKind.Gate, "elsewhere");

        Assert.Same(registry.FindDevice("c1-gate-01"), device);
        Assert.Equal("g2", device.Grid);
        Assert.Equal(version, registry.Version);
    }

    [Fact]
    public void Resolve_registers_an_unknown_device_once_as_unassigned()
    {
        var registry = new DeviceRegistry();
        var version = registry.Version;

        var first = registry.Resolve("c7-cam-1", DeviceKind.Camera, "c7");
        var second = registry.Resolve("c7-cam-1", DeviceKind.Camera, "c7");

        Assert.Equal(new Device("c7-cam-1", DeviceKind.Camera, "c7", null), first);
        Assert.Same(first, second);
        Assert.Equal(version + 1, registry.Version);
        Assert.Equal([new Community("c7", "c7")], registry.Communities);
    }

    [Fact]
    public void Upsert_replaces_and_adds_the_community_when_missing()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Device("d1", DeviceKind.Meter, "c2", null));
        registry.Upsert(new Device("d1", DeviceKind.Meter, "c2", "g5", "h-1"));

        Assert.Equal(new Device("d1", DeviceKind.Meter, "c2", "g5", "h-1"), registry.FindDevice("d1"));
        Assert.Single(registry.Devices);
        Assert.Equal([new Community("c2", "c2")], registry.Communities);

        registry.Upsert(new Community("c2", "幸福社区"));
        Assert.Equal([new Community("c2", "幸福社区")], registry.Communities);
    }

    [Fact]
    public void Upsert_bumps_the_version()
    {
        var registry = new DeviceRegistry();
        var before = registry.Version;
        registry.Upsert(new Household("h-1", "c1", "g1"));
        Assert.True(registry.Version > before);
    }

    [Fact]
    public void Away_spell_covers_from_inclusive_to_until_exclusive()
    {
        var registry = new DeviceRegistry();
        registry.MarkAway(new AwaySpell("h-1", T0, T0.AddDays(3)));

        Assert.False(registry.IsAway("h-1", T0.AddTicks(-1)));
        Assert.True(registry.IsAway("h-1", T0));
        Assert.True(registry.IsAway("h-1", T0.AddDays(2)));
        Assert.False(registry.IsAway("h-1", T0.AddDays(3)));
        Assert.False(registry.IsAway("h-2", T0.AddDays(1)));
    }

    [Fact]
    public void An_open_ended_spell_lasts_until_marked_back()
    {
        var registry = new DeviceRegistry();
        registry.MarkAway(new AwaySpell("h-1", T0, null));

        Assert.True(registry.IsAway("h-1", T0.AddYears(1)));

        registry.MarkBack("h-1", T0.AddDays(5));

        Assert.True(registry.IsAway("h-1", T0.AddDays(4)));
        Assert.False(registry.IsAway("h-1", T0.AddDays(5)));
        Assert.False(registry.IsAway("h-1", T0.AddDays(6)));
        Assert.Equal([new AwaySpell("h-1", T0, T0.AddDays(5))], registry.Snapshot().Away);
    }

    [Fact]
    public void Mark_back_shortens_a_spell_that_would_end_later_and_leaves_ended_ones()
    {
        var registry = new DeviceRegistry();
        registry.MarkAway(new AwaySpell("h-1", T0, T0.AddDays(1)));
        registry.MarkAway(new AwaySpell("h-1", T0.AddDays(10), T0.AddDays(20)));

        registry.MarkBack("h-1", T0.AddDays(12));

        Assert.Equal(
            [new AwaySpell("h-1", T0, T0.AddDays(1)), new AwaySpell("h-1", T0.AddDays(10), T0.AddDays(12))],
            registry.Snapshot().Away);
        Assert.False(registry.IsAway("h-1", T0.AddDays(15)));
        Assert.True(registry.IsAway("h-1", T0.AddHours(12)));
    }

    [Fact]
    public void Seen_keeps_the_newest_time()
    {
        var registry = new DeviceRegistry();
        Assert.Null(registry.LastSeen("d1"));

        registry.Seen("d1", T0.AddHours(2));
        registry.Seen("d1", T0);
        Assert.Equal(T0.AddHours(2), registry.LastSeen("d1"));

        registry.Seen("d1", new DateTimeOffset(2026, 11, 20, 11, 0, 0, TimeSpan.FromHours(8))); // 03:00Z
        Assert.Equal(T0.AddHours(3), registry.LastSeen("d1"));
    }

    [Fact]
    public void Save_and_read_file_round_trip_equals_the_snapshot()
    {
        var registry = World.Registry();
        registry.Upsert(new Device("c1-cam-08", DeviceKind.Camera, "c1", "g3", Source: "frigate:front_door"));
        registry.MarkAway(new AwaySpell("h-0042", T0, null));
        registry.MarkAway(new AwaySpell("h-0042", T0.AddDays(-30), T0.AddDays(-20)));
        var path = Path.Combine(_folder, "sub", "registry.json");

        registry.SaveFile(path);
        var read = DeviceRegistry.ReadFile(path);
        var expected = registry.Snapshot();

        Assert.Equal(expected.Communities, read.Communities);
        Assert.Equal(expected.Grids, read.Grids);
        Assert.Equal(expected.Households, read.Households);
        Assert.Equal(expected.Devices, read.Devices);
        Assert.Equal(expected.Away.OrderBy(a => a.From), read.Away.OrderBy(a => a.From));
        Assert.False(File.Exists(path + ".tmp"));

        // The file uses the documented snake_case shape.
        var text = File.ReadAllText(path);
        Assert.Contains("\"elderly_living_alone\": true", text, StringComparison.Ordinal);
        Assert.Contains("\"kind\": \"meter\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_loaded_snapshot_behaves_like_the_original()
    {
        var original = World.Registry();
        original.MarkAway(new AwaySpell("h-0042", T0, T0.AddDays(2)));
        var path = Path.Combine(_folder, "registry.json");
        original.SaveFile(path);

        var loaded = new DeviceRegistry();
        loaded.Load(DeviceRegistry.ReadFile(path));

        Assert.Equal(original.FindDevice("c1-wm-0042"), loaded.FindDevice("c1-wm-0042".AsSpan()));
        Assert.True(loaded.IsAway("h-0042", T0.AddDays(1)));
        Assert.True(loaded.FindHousehold("h-0042")!.ElderlyLivingAlone);
    }

    [Fact]
    public async Task File_keeper_loads_an_existing_file_at_start_and_saves_changes_on_stop()
    {
        var path = Path.Combine(_folder, "registry.json");
        World.Registry().SaveFile(path);
        var registry = new DeviceRegistry();
        var keeper = new RegistryFileKeeper(registry, Options.Create(new RegistryOptions { Path = path }), NullLogger<RegistryFileKeeper>.Instance);

        await keeper.StartAsync(CancellationToken.None).Within();
        try
        {
            Assert.Equal(4, registry.Devices.Count);
            Assert.Equal("g3", registry.FindDevice("c1-cam-07")!.Grid);

            registry.Resolve("c1-new", DeviceKind.Gate, "c1");
        }
        finally
        {
            await keeper.StopAsync(CancellationToken.None).Within();
        }

        var saved = DeviceRegistry.ReadFile(path);
        Assert.Contains(new Device("c1-new", DeviceKind.Gate, "c1", null), saved.Devices);
    }

    [Fact]
    public async Task File_keeper_starts_empty_without_a_file()
    {
        var path = Path.Combine(_folder, "missing.json");
        var registry = new DeviceRegistry();
        var keeper = new RegistryFileKeeper(registry, Options.Create(new RegistryOptions { Path = path }), NullLogger<RegistryFileKeeper>.Instance);

        await keeper.StartAsync(CancellationToken.None).Within();
        await keeper.StopAsync(CancellationToken.None).Within();

        Assert.Empty(registry.Devices);
    }

    [Fact]
    public void Devices_of_a_community_follow_registration_first_sight_loading_and_moves()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Device("m-1", DeviceKind.Meter, "c1", "g1", "h-1"));
        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c2", "g1"));
        registry.Resolve("gate-9", DeviceKind.Gate, "c1");
        registry.Load(new RegistrySnapshot { Devices = [new Device("lot-1", DeviceKind.Parking, "c2", null)] });

        Assert.Equal(["gate-9", "m-1"], Ids(registry.DevicesIn("c1")));
        Assert.Equal(["cam-1", "lot-1"], Ids(registry.DevicesIn("c2")));
        Assert.Empty(registry.DevicesIn("c3"));

        // An admin moves a device: it leaves its old community's list, and the list holds the new record.
        var moved = new Device("m-1", DeviceKind.Meter, "c3", "g7", "h-1");
        registry.Upsert(moved);
        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c2", "g2")); // same community, new grid
        Assert.Equal(["gate-9"], Ids(registry.DevicesIn("c1")));
        Assert.Same(moved, Assert.Single(registry.DevicesIn("c3")));
        Assert.Equal("g2", registry.DevicesIn("c2").Single(d => d.Id == "cam-1").Grid);

        // The index agrees with the whole registry, community by community.
        foreach (var community in registry.Communities)
        {
            Assert.Equal(Ids(registry.Devices.Where(d => d.Community == community.Id)), Ids(registry.DevicesIn(community.Id)));
        }
    }

    private static string[] Ids(IEnumerable<Device> devices) => [.. devices.Select(d => d.Id).Order(StringComparer.Ordinal)];
}
