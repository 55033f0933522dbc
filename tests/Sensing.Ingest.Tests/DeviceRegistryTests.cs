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
        registry.Resolve("d1", DeviceKind.Meter, "c1");
        Assert.Null(registry.LastSeen("d1"));

        registry.Seen("d1", T0.AddHours(2));
        registry.Seen("d1", T0);
        Assert.Equal(T0.AddHours(2), registry.LastSeen("d1"));

        registry.Seen("d1", new DateTimeOffset(2026, 11, 20, 11, 0, 0, TimeSpan.FromHours(8))); // 03:00Z
        Assert.Equal(T0.AddHours(3), registry.LastSeen("d1"));
    }

    [Fact]
    public void Last_seen_stays_with_a_device_an_admin_edits_moves_or_reloads_and_an_unregistered_id_has_none()
    {
        var registry = new DeviceRegistry();
        registry.Upsert(new Household("h-1", "c1", "g1"));
        registry.Upsert(new Device("m-1", DeviceKind.Meter, "c1", "g1", "h-1"));
        registry.Seen("m-1", T0);

        registry.Upsert(new Device("m-1", DeviceKind.Meter, "c2", "g4", "h-1"));
        Assert.Equal(T0, registry.LastSeen("m-1"));
        registry.EraseHousehold("h-1");
        Assert.Equal(T0, registry.LastSeen("m-1"));
        registry.Load(new RegistrySnapshot { Devices = [new Device("m-1", DeviceKind.Meter, "c2", "g5")] });
        Assert.Equal(T0, registry.LastSeen("m-1"));
        Assert.Equal("g5", registry.FindDevice("m-1")!.Grid);

        // Readings always resolve their device first; an id nobody registered is not remembered.
        registry.Seen("nobody", T0);
        Assert.Null(registry.LastSeen("nobody"));
        Assert.Null(registry.FindDevice("nobody"));
    }

    [Fact]
    public async Task Seen_from_many_threads_keeps_the_newest_time()
    {
        var registry = new DeviceRegistry();
        registry.Resolve("d1", DeviceKind.Camera, "c1");
        var seen = Enumerable.Range(0, 4).Select(t => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < 20_000; i++) registry.Seen("d1", T0.AddSeconds(i * 4 + t));
        }, TaskCreationOptions.LongRunning));
        await Task.WhenAll(seen).Within();
        Assert.Equal(T0.AddSeconds(19_999 * 4 + 3), registry.LastSeen("d1"));
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

    [Fact]
    public void Devices_of_a_community_read_between_changes_show_each_change_at_the_next_read()
    {
        var registry = new DeviceRegistry();
        registry.Load(new RegistrySnapshot
        {
            Households = [new Household("h-1", "c1", "g1")],
            Devices = [new Device("m-1", DeviceKind.Meter, "c1", "g1", "h-1"), new Device("cam-1", DeviceKind.Camera, "c2", "g1")],
        });
        Assert.Equal(["m-1"], Ids(registry.DevicesIn("c1")));

        // Each kind of change, read right after it (the index was built by the read before).
        registry.Resolve("gate-9", DeviceKind.Gate, "c1");
        Assert.Equal(["gate-9", "m-1"], Ids(registry.DevicesIn("c1")));
        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c1", "g3"));
        Assert.Equal(["cam-1", "gate-9", "m-1"], Ids(registry.DevicesIn("c1")));
        Assert.Empty(registry.DevicesIn("c2"));
        registry.EraseHousehold("h-1");
        Assert.Null(registry.DevicesIn("c1").Single(d => d.Id == "m-1").Household);
        registry.Load(new RegistrySnapshot { Devices = [new Device("lot-1", DeviceKind.Parking, "c2", null)] });
        Assert.Equal(["lot-1"], Ids(registry.DevicesIn("c2")));
        // What is read cannot be changed by the reader.
        Assert.Throws<NotSupportedException>(() => ((IList<Device>)registry.DevicesIn("c2")).Add(new Device("x", DeviceKind.Gate, "c2", null)));
    }

    [Fact]
    public async Task Devices_of_a_community_read_while_devices_register_agree_with_the_registry_once_registration_ends()
    {
        var registry = new DeviceRegistry();
        using var done = new CancellationTokenSource();
        var wrong = 0;
        // Wall screens reading while devices are first seen: a read may miss the newest devices, never show one elsewhere.
        // Threads of their own: busy loops on a 2-core thread pool would wait for it to add threads.
        var readers = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(() =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (var community in new[] { "c0", "c1", "c2" })
                {
                    if (registry.DevicesIn(community).Any(d => d.Community != community)) Interlocked.Increment(ref wrong);
                }
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        var writers = Enumerable.Range(0, 2).Select(w => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < 3_000; i++)
            {
                registry.Resolve($"w{w}-{i}", DeviceKind.Camera, $"c{i % 3}");
                if (i % 100 == 0) registry.Upsert(new Device($"w{w}-{i}", DeviceKind.Camera, $"c{(i + 1) % 3}", "g1"));
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(writers).Within();
        done.Cancel();
        await Task.WhenAll(readers).Within();

        Assert.Equal(0, wrong);
        Assert.Equal(6_000, registry.Devices.Count);
        foreach (var community in new[] { "c0", "c1", "c2" })
        {
            Assert.Equal(Ids(registry.Devices.Where(d => d.Community == community)), Ids(registry.DevicesIn(community)));
        }
    }

    private static string[] Ids(IEnumerable<Device> devices) => [.. devices.Select(d => d.Id).Order(StringComparer.Ordinal)];
}
