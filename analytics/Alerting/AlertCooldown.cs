using System.Runtime.InteropServices;

namespace Sensing.Analytics.Alerting;

/// <summary>
/// De-duplication and cool-down of alerts per (kind, subject), in event time. A detector asks before it raises:
/// the first trigger of a subject is admitted, and every later trigger within <see cref="Cooldown"/> of the
/// previous one (admitted or not) is held back. The window slides with each trigger, so a door sensor flapping
/// for an hour, or a camera reporting fire every 30 seconds, raises once, and the next alert about that subject
/// needs it to have been quiet for the whole cool-down first.
/// </summary>
/// <remarks>
/// Only event times enter, and a subject's readings reach a detector in the device's own order, so the same
/// feed gives the same admissions at any replay speed and any batch size. A trigger older than the subject's
/// last one (a late reading) belongs to an episode already known and is held back. Not thread-safe.
/// </remarks>
public sealed class AlertCooldown
{
    private readonly Dictionary<(string Kind, string Subject), Entry> _subjects = new();

    public AlertCooldown(TimeSpan cooldown)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cooldown, TimeSpan.Zero);
        Cooldown = cooldown;
    }

    public TimeSpan Cooldown { get; }

    /// <summary>Subjects currently remembered (for tests and memory checks).</summary>
    public int Count => _subjects.Count;

    /// <summary>
    /// Notes a trigger of <paramref name="kind"/> about <paramref name="subject"/> at <paramref name="at"/> (event time)
    /// and says whether to raise it: true unless the subject triggered within the cool-down before.
    /// </summary>
    public bool Admit(string kind, string subject, DateTimeOffset at)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_subjects, (kind, subject), out var known);
        if (!known)
        {
            entry = new Entry(at, 0);
            return true;
        }
        if (at < entry.LastTrigger)
        {
            entry.Held++;
            return false;
        }
        var quiet = at - entry.LastTrigger >= Cooldown;
        entry.LastTrigger = at;
        if (quiet)
        {
            entry.Held = 0;
            return true;
        }
        entry.Held++;
        return false;
    }

    /// <summary>Triggers held back since the subject's last admitted one (what a flapping sensor would have cost).</summary>
    public int Held(string kind, string subject) => _subjects.TryGetValue((kind, subject), out var entry) ? entry.Held : 0;

    /// <summary>
    /// Forgets subjects quiet for longer than the cool-down by <paramref name="watermark"/>: their next trigger is
    /// admitted anyway, so remembering them only costs memory.
    /// </summary>
    public void Forget(DateTimeOffset watermark)
    {
        if (_subjects.Count == 0) return;
        List<(string, string)>? stale = null;
        foreach (var (key, entry) in _subjects)
        {
            if (watermark - entry.LastTrigger >= Cooldown) (stale ??= []).Add(key);
        }
        if (stale is null) return;
        foreach (var key in stale) _subjects.Remove(key);
    }

    private struct Entry(DateTimeOffset lastTrigger, int held)
    {
        public DateTimeOffset LastTrigger = lastTrigger;
        public int Held = held;
    }
}
