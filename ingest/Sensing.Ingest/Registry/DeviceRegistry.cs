using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Sensing.Ingest.Registry;

/// <summary>
/// The device registry: communities, grids, households and devices, plus each device's last-seen time.
/// Loaded from and saved to a JSON file (<see cref="RegistrySnapshot"/>), edited through the API, and
/// extended by ingest itself when a native-format device appears that nobody registered (it is kept as
/// unassigned: community from its topic, no grid). Lookups by span let the hot path avoid allocating.
/// A vendor-format device is found by its <see cref="Device.Source"/> id (<c>tasmota:meter-17</c>) instead: vendor
/// payloads name the device the way its own ecosystem does, and an admin maps that name to a registry device.
/// </summary>
public sealed class DeviceRegistry : IDeviceRegistry
{
    private readonly ConcurrentDictionary<string, Community> _communities = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Grid> _grids = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Household> _households = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RegisteredDevice> _devices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<AwaySpell>> _away = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DeviceCredential> _credentials = new(StringComparer.Ordinal);
    // Residents' names and phones, by household: apart from _households so nothing that lists households shows them.
    private readonly ConcurrentDictionary<string, HouseholdContact> _contacts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RegisteredDevice>.AlternateLookup<ReadOnlySpan<char>> _devicesBySpan;
    private readonly ConcurrentDictionary<string, Household>.AlternateLookup<ReadOnlySpan<char>> _householdsBySpan;
    private readonly ConcurrentDictionary<string, Device> _devicesBySource = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Device>.AlternateLookup<ReadOnlySpan<char>> _sourcesBySpan;
    // Each community's devices, so a wall screen's tiles read its own few thousand devices rather than filtering every
    // device of a street office (176,000 for 40 communities) every refresh. Built in one pass over the device map by the
    // first read after a device changed, and kept until the next change: the devices change only when one is
    // registered, edited or unassigned, and a second map of every device by community held a 60-byte node per device
    // (10 MB for a street office, the registry's largest part after the devices themselves).
    private volatile CommunityIndex _communityIndex = new(-1, new Dictionary<string, IReadOnlyList<Device>>());
    private readonly Lock _communityIndexBuild = new();
    // Grows with every change of a device (under _deviceWrites): the community index built at another count is stale.
    private long _deviceChanges;
    // Devices and their source index change together, so a reader never finds a source pointing at a replaced device.
    private readonly Lock _deviceWrites = new();

    // One instance per community and grid id (and each household id shared with its Household): a street office's
    // 176,000 devices name 40 communities and a few hundred grids, and a registry file read from JSON gives every
    // device its own copies of those strings.
    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _namesBySpan;
    private readonly ILogger? _logger;
    private int _version;

    public DeviceRegistry(ILogger<DeviceRegistry>? logger = null)
    {
        _logger = logger;
        _devicesBySpan = _devices.GetAlternateLookup<ReadOnlySpan<char>>();
        _householdsBySpan = _households.GetAlternateLookup<ReadOnlySpan<char>>();
        _sourcesBySpan = _devicesBySource.GetAlternateLookup<ReadOnlySpan<char>>();
        _namesBySpan = _names.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// Raised (after the change) when a device is upserted with a source id no device had before: messages quarantined
    /// under that source can now be read. Handlers must return quickly; they run on the caller's thread.
    /// </summary>
    public event Action<Device>? SourceRegistered;

    /// <summary>Grows on every change; the registry file is saved when it differs from the saved version.</summary>
    public int Version => Volatile.Read(ref _version);

    public IReadOnlyCollection<Community> Communities => [.. _communities.Values.OrderBy(c => c.Id, StringComparer.Ordinal)];
    public IReadOnlyCollection<Grid> Grids => [.. _grids.Values.OrderBy(g => g.Community, StringComparer.Ordinal).ThenBy(g => g.Id, StringComparer.Ordinal)];
    public IReadOnlyCollection<Device> Devices => [.. _devices.Select(pair => pair.Value.Device)];
    public IReadOnlyCollection<Household> Households => [.. _households.Values];

    /// <summary>
    /// The devices of one community, from the registry's community index (no pass over the whole registry unless a device
    /// changed since the index was built). A device registered while it is read may or may not appear, as with
    /// <see cref="Devices"/>; the next read after a change has it.
    /// </summary>
    public IEnumerable<Device> DevicesIn(string community) =>
        CurrentCommunityIndex().ByCommunity.TryGetValue(community, out var devices) ? devices : [];

    private CommunityIndex CurrentCommunityIndex()
    {
        var index = _communityIndex;
        if (index.Changes == Volatile.Read(ref _deviceChanges)) return index;
        // One reader builds while the others wait for it: the wall screens of forty communities refreshing after a
        // registration would otherwise each make the same pass.
        lock (_communityIndexBuild)
        {
            // Counted before the pass: a change during it leaves the index marked older, so the next read builds again.
            var changes = Volatile.Read(ref _deviceChanges);
            index = _communityIndex;
            if (index.Changes == changes) return index;
            var lists = new Dictionary<string, List<Device>>(StringComparer.Ordinal);
            foreach (var (_, registered) in _devices)
            {
                var device = registered.Device;
                if (!lists.TryGetValue(device.Community, out var list)) lists.Add(device.Community, list = []);
                list.Add(device);
            }
            var byCommunity = new Dictionary<string, IReadOnlyList<Device>>(lists.Count, StringComparer.Ordinal);
            foreach (var (community, list) in lists) byCommunity.Add(community, Array.AsReadOnly(list.ToArray()));
            _communityIndex = index = new CommunityIndex(changes, byCommunity);
            return index;
        }
    }

    private sealed record CommunityIndex(long Changes, Dictionary<string, IReadOnlyList<Device>> ByCommunity);

    public Device? FindDevice(string id) => _devices.GetValueOrDefault(id)?.Device;
    public Device? FindDevice(ReadOnlySpan<char> id) => _devicesBySpan.TryGetValue(id, out var registered) ? registered.Device : null;
    public Household? FindHousehold(string id) => _households.GetValueOrDefault(id);
    public Household? FindHousehold(ReadOnlySpan<char> id) => _householdsBySpan.TryGetValue(id, out var household) ? household : null;

    /// <summary>The device a vendor source id (<c>chirpstack:0004a30b001c0530</c>) is mapped to, or null; allocation-free.</summary>
    public Device? FindBySource(ReadOnlySpan<char> source) => _sourcesBySpan.TryGetValue(source, out var device) ? device : null;
    public Device? FindBySource(string source) => _devicesBySource.GetValueOrDefault(source);

    /// <summary>
    /// The registered device with this id, or a newly registered unassigned one. A native device is trusted
    /// to name its own community in its topic until an admin assigns it; its readings are kept meanwhile.
    /// </summary>
    public Device Resolve(ReadOnlySpan<char> id, DeviceKind kind, ReadOnlySpan<char> community)
    {
        if (_devicesBySpan.TryGetValue(id, out var registered))
        {
            return registered.Device;
        }
        var created = new Device(id.ToString(), kind, Shared(community), Grid: null);
        Device device;
        // First sight is rare; the lock keeps it from racing an admin's upsert of the same id.
        lock (_deviceWrites)
        {
            device = _devices.GetOrAdd(created.Id, static (_, created) => new RegisteredDevice(created), created).Device;
            if (ReferenceEquals(device, created)) DevicesChanged();
        }
        if (ReferenceEquals(device, created))
        {
            _communities.TryAdd(device.Community, new Community(device.Community, device.Community));
            Interlocked.Increment(ref _version);
            _logger?.LogInformation("Registered unassigned {Kind} device {Device} in community {Community} on first sight", kind.Name(), device.Id, device.Community);
        }
        return device;
    }

    public void Upsert(Community community) { _communities[community.Id] = community; Changed(); }

    public void Upsert(Grid grid)
    {
        _communities.TryAdd(grid.Community, new Community(grid.Community, grid.Community));
        _grids[Key(grid.Community, grid.Id)] = grid;
        Changed();
    }

    public void Upsert(Household household)
    {
        household = Compact(household);
        _communities.TryAdd(household.Community, new Community(household.Community, household.Community));
        _households[household.Id] = household;
        Changed();
    }

    public void Upsert(Device device)
    {
        device = Compact(device);
        _communities.TryAdd(device.Community, new Community(device.Community, device.Community));
        bool newSource;
        lock (_deviceWrites)
        {
            var previous = Replace(device);
            newSource = IndexSource(previous, device);
            DevicesChanged();
        }
        Changed();
        if (newSource)
        {
            SourceRegistered?.Invoke(device);
        }
    }

    /// <summary>Keeps the source index in step with one device change; true when its source was mapped to no device before.</summary>
    private bool IndexSource(Device? previous, Device device)
    {
        if (previous?.Source is { } old && old != device.Source
            && _devicesBySource.TryGetValue(old, out var holder) && holder.Id == device.Id)
        {
            _devicesBySource.TryRemove(old, out _);
        }
        if (device.Source is not { } source)
        {
            return false;
        }
        var known = _devicesBySource.TryGetValue(source, out var was);
        if (known && was!.Id != device.Id)
        {
            // Two devices cannot both be one vendor device; the newer mapping wins and the change is logged.
            _logger?.LogWarning("Source {Source} moves from device {Old} to device {New}", source, was.Id, device.Id);
        }
        _devicesBySource[source] = device;
        return !known;
    }

    /// <summary>
    /// Puts the device in the map, in place of the one with its id (whose last-seen time it keeps); returns that one.
    /// Under <see cref="_deviceWrites"/>.
    /// </summary>
    private Device? Replace(Device device)
    {
        if (_devices.TryGetValue(device.Id, out var registered))
        {
            var previous = registered.Device;
            registered.Device = device;
            return previous;
        }
        _devices[device.Id] = new RegisteredDevice(device);
        return null;
    }

    /// <summary>Marks the community index stale. Under <see cref="_deviceWrites"/>, after the device map changed.</summary>
    private void DevicesChanged() => Interlocked.Increment(ref _deviceChanges);

    public void MarkAway(AwaySpell spell)
    {
        var spells = _away.GetOrAdd(spell.Household, _ => []);
        lock (spells)
        {
            spells.Add(spell);
        }
        Changed();
    }

    /// <summary>Ends every open or future-ending away spell of the household at <paramref name="at"/>.</summary>
    public void MarkBack(string household, DateTimeOffset at)
    {
        if (!_away.TryGetValue(household, out var spells)) return;
        lock (spells)
        {
            for (var i = 0; i < spells.Count; i++)
            {
                if (spells[i].From <= at && (spells[i].Until is null || spells[i].Until > at))
                {
                    spells[i] = spells[i] with { Until = at };
                }
            }
        }
        Changed();
    }

    public bool IsAway(string household, DateTimeOffset at)
    {
        if (!_away.TryGetValue(household, out var spells)) return false;
        lock (spells)
        {
            foreach (var spell in spells)
            {
                if (spell.From <= at && (spell.Until is null || at < spell.Until)) return true;
            }
        }
        return false;
    }

    public DateTimeOffset? LastSeen(string device) =>
        _devices.TryGetValue(device, out var registered) && registered.LastSeen is { } ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>
    /// Records a registered device's reading time; keeps the newest, so a late message never moves it back. A device
    /// that is not registered is not recorded: every reading's device is registered (on first sight at the latest)
    /// before ingest records it, and every reader of the time asks about a registered device.
    /// </summary>
    public void Seen(string device, DateTimeOffset time)
    {
        if (_devices.TryGetValue(device, out var registered)) registered.Saw(time.UtcTicks);
    }

    /// <summary>The broker credential of a username (a device id or a gateway name), or null.</summary>
    public DeviceCredential? FindCredential(string username) => _credentials.GetValueOrDefault(username);

    /// <summary>Whether any device has broker credentials (an installation that has begun to lock its broker).</summary>
    public bool HasCredentials => !_credentials.IsEmpty;

    /// <summary>Sets (or replaces) a broker credential; the registry file keeps it, hashed.</summary>
    public void SetCredential(DeviceCredential credential)
    {
        _credentials[credential.Username] = credential;
        Changed();
    }

    /// <summary>Removes a broker credential: its user can no longer connect (connections already open stay until they close).</summary>
    public bool RemoveCredential(string username)
    {
        var removed = _credentials.TryRemove(username, out _);
        if (removed) Changed();
        return removed;
    }

    /// <summary>How to reach the household's residents, or null. Personal data: show it only to those who must call them.</summary>
    public HouseholdContact? FindContact(string household) => _contacts.GetValueOrDefault(household);

    /// <summary>Sets (or replaces) a household's contact; the registry file keeps it.</summary>
    public void SetContact(HouseholdContact contact)
    {
        _contacts[contact.Household] = contact;
        Changed();
    }

    /// <summary>The devices assigned to a household (its meters).</summary>
    public IReadOnlyList<Device> DevicesOf(string household) =>
        [.. _devices.Select(pair => pair.Value.Device).Where(d => d.Household == household).OrderBy(d => d.Id, StringComparer.Ordinal)];

    /// <summary>A household's away spells, oldest first.</summary>
    public IReadOnlyList<AwaySpell> AwaySpellsOf(string household)
    {
        if (!_away.TryGetValue(household, out var spells)) return [];
        lock (spells) return [.. spells.OrderBy(s => s.From)];
    }

    /// <summary>
    /// Forgets a household: the household, its contact and away spells go; its devices stay, unassigned from it (a meter
    /// stays in the flat for the next residents), keeping community and grid. Returns what was removed.
    /// </summary>
    public (bool Household, bool Contact, int AwaySpells, int DevicesUnassigned) EraseHousehold(string household)
    {
        var removed = _households.TryRemove(household, out _);
        var contact = _contacts.TryRemove(household, out _);
        var away = 0;
        if (_away.TryRemove(household, out var spells))
        {
            lock (spells) away = spells.Count;
        }
        var unassigned = 0;
        lock (_deviceWrites)
        {
            foreach (var registered in _devices.Select(pair => pair.Value).Where(r => r.Device.Household == household).ToList())
            {
                var device = registered.Device;
                var updated = device with { Household = null };
                registered.Device = updated;
                IndexSource(device, updated);
                unassigned++;
            }
            DevicesChanged();
        }
        Changed();
        return (removed, contact, away, unassigned);
    }

    public void Load(RegistrySnapshot snapshot)
    {
        foreach (var credential in snapshot.Credentials ?? []) _credentials[credential.Username] = credential;
        foreach (var contact in snapshot.Contacts ?? []) _contacts[contact.Household] = contact;
        foreach (var c in snapshot.Communities) _communities[c.Id] = c;
        foreach (var g in snapshot.Grids) _grids[Key(g.Community, g.Id)] = g;
        foreach (var h in snapshot.Households) _households[h.Id] = Compact(h);
        lock (_deviceWrites)
        {
            foreach (var loaded in snapshot.Devices)
            {
                var d = Compact(loaded);
                var previous = Replace(d);
                IndexSource(previous, d);
            }
            DevicesChanged();
        }
        foreach (var a in snapshot.Away)
        {
            var spells = _away.GetOrAdd(a.Household, _ => []);
            lock (spells)
            {
                // Loading the same file twice (demo seed, then the saved registry) must not double the spells.
                if (!spells.Contains(a)) spells.Add(a);
            }
        }
        Changed();
    }

    private string Shared(string name) => _names.GetOrAdd(name, name);

    private string Shared(ReadOnlySpan<char> name) => _namesBySpan.TryGetValue(name, out var shared) ? shared : Shared(name.ToString());

    private Household Compact(Household household)
    {
        var community = Shared(household.Community);
        var grid = household.Grid is { } g ? Shared(g) : null;
        return ReferenceEquals(community, household.Community) && ReferenceEquals(grid, household.Grid)
            ? household
            : household with { Community = community, Grid = grid };
    }

    /// <summary>The device with its community, grid and household ids shared with the registry's other holders of them.</summary>
    private Device Compact(Device device)
    {
        var community = Shared(device.Community);
        var grid = device.Grid is { } g ? Shared(g) : null;
        var household = device.Household is { } h && _households.TryGetValue(h, out var known) ? known.Id : device.Household;
        return ReferenceEquals(community, device.Community) && ReferenceEquals(grid, device.Grid) && ReferenceEquals(household, device.Household)
            ? device
            : device with { Community = community, Grid = grid, Household = household };
    }

    public RegistrySnapshot Snapshot() => new()
    {
        Communities = [.. Communities],
        Grids = [.. Grids],
        Households = [.. _households.Values.OrderBy(h => h.Id, StringComparer.Ordinal)],
        Devices = [.. Devices.OrderBy(d => d.Id, StringComparer.Ordinal)],
        Away = [.. _away.Values.SelectMany(list => { lock (list) { return list.ToArray(); } })],
        Credentials = [.. _credentials.Values.OrderBy(c => c.Username, StringComparer.Ordinal)],
        Contacts = [.. _contacts.Values.OrderBy(c => c.Household, StringComparer.Ordinal)],
    };

    public static RegistrySnapshot ReadFile(string path)
    {
        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<RegistrySnapshot>(stream, RegistrySnapshot.JsonOptions)
            ?? throw new InvalidDataException($"registry file {path} is empty");
    }

    /// <summary>Writes the registry atomically (temp file + rename) so a crash never leaves half a file.</summary>
    public void SaveFile(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        using (var stream = File.Create(temp))
        {
            JsonSerializer.Serialize(stream, Snapshot(), RegistrySnapshot.JsonOptions);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, full, overwrite: true);
    }

    private void Changed() => Interlocked.Increment(ref _version);

    /// <summary>
    /// A device as the registry holds it: the record (replaced in place when an admin edits it, under
    /// <see cref="_deviceWrites"/>) and the newest reading time heard from it. The time lives beside the device rather than
    /// in a map of its own: a second map keyed by every device id cost a 48-byte node and its bucket per device.
    /// </summary>
    private sealed class RegisteredDevice(Device device)
    {
        private volatile Device _device = device;
        // UTC ticks; long.MinValue until the first reading.
        private long _lastSeen = long.MinValue;

        public Device Device
        {
            get => _device;
            set => _device = value;
        }

        public long? LastSeen => Volatile.Read(ref _lastSeen) is var ticks && ticks != long.MinValue ? ticks : null;

        public void Saw(long ticks)
        {
            var seen = Volatile.Read(ref _lastSeen);
            while (ticks > seen)
            {
                var was = Interlocked.CompareExchange(ref _lastSeen, ticks, seen);
                if (was == seen) return;
                seen = was;
            }
        }
    }

    private static string Key(string community, string grid) => community + "/" + grid;
}
