using Sensing.Ingest.Registry;

namespace Sensing.Cockpit.Tiles;

/// <summary>The devices of one community whose messages were dead-lettered recently, and when the store was read for them.</summary>
public sealed record DeadLetteringScan(DateTimeOffset? ScannedAt, IReadOnlyList<string> Devices);

/// <summary>
/// Which devices sent messages ingest could not use in the last hour (the wall screen's device health): a device
/// sending garbage needs a visit as much as a silent one. The dead letters are read back from the store at most every
/// <see cref="ScanEvery"/> for all communities at once, not at every tile refresh, so a flood of bad messages does not
/// make each refresh read thousands of payloads; while the store cannot answer (<see cref="TileStoreReads"/>: within a
/// few seconds), the last scan is kept and its <see cref="DeadLetteringScan.ScannedAt"/> ages, which marks the tile stale.
/// </summary>
public sealed class DeadLetteringDevices(IReadingStore store, DeviceRegistry registry, TileStoreReads storeReads, TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);
    public static readonly TimeSpan ScanEvery = TimeSpan.FromSeconds(10);

    /// <summary>The most dead letters one scan reads (newest first); beyond, the oldest of the hour are not attributed.</summary>
    public const int MaxLetters = 2000;

    private readonly SemaphoreSlim _scanning = new(1, 1);
    private (DateTimeOffset At, IReadOnlyDictionary<string, SortedSet<string>> ByCommunity)? _last;

    public async Task<DeadLetteringScan> InCommunityAsync(string community, CancellationToken cancellationToken)
    {
        var scan = await CurrentAsync(cancellationToken);
        return scan is { } s
            ? new(s.At, s.ByCommunity.TryGetValue(community, out var devices) ? [.. devices] : [])
            : new(null, []);
    }

    private async Task<(DateTimeOffset At, IReadOnlyDictionary<string, SortedSet<string>> ByCommunity)?> CurrentAsync(CancellationToken cancellationToken)
    {
        if (_last is { } last && time.GetUtcNow() - last.At < ScanEvery) return last;
        await _scanning.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            if (_last is { } again && now - again.At < ScanEvery) return again;
            var (answered, letters) = await storeReads.TryAsync(
                token => store.DeadLettersAsync(now - Window, MaxLetters, token), "the dead letters for the device health tile", cancellationToken);
            if (answered)
            {
                var byCommunity = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
                foreach (var letter in letters!)
                {
                    if (Attribute(letter, registry) is not var (community, device)) continue;
                    if (!byCommunity.TryGetValue(community, out var devices)) byCommunity[community] = devices = new(StringComparer.Ordinal);
                    devices.Add(device);
                }
                _last = (now, byCommunity);
            }
            return _last;
        }
        finally
        {
            _scanning.Release();
        }
    }

    /// <summary>
    /// The community and device a dead letter came from, when its topic tells: native topics
    /// (<c>sensing/{community}/{kind}/{device}</c>, the device known or not), the store's refusals
    /// (<c>store/{community}/{device}</c>), and vendor topics with a level that is a registered source
    /// (<c>tele/meter-17/SENSOR</c> → <c>tasmota:meter-17</c>) or a registered device id.
    /// </summary>
    public static (string Community, string Device)? Attribute(DeadLetter letter, DeviceRegistry registry)
    {
        var levels = letter.Topic.Split('/');
        if (levels is ["sensing", var community, _, var id] && community.Length > 0 && id.Length > 0)
        {
            return (registry.FindDevice(id)?.Community ?? community, id);
        }
        if (levels is ["store", var storeCommunity, var storeDevice] && storeDevice.Length > 0)
        {
            return (storeCommunity, storeDevice);
        }
        foreach (var level in levels)
        {
            if (level.Length == 0) continue;
            if ((registry.FindBySource($"{letter.Format}:{level}") ?? registry.FindDevice(level)) is { } device)
            {
                return (device.Community, device.Id);
            }
        }
        return null;
    }
}
