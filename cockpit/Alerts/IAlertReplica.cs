namespace Sensing.Cockpit.Alerts;

/// <summary>
/// Where the alert book sends each change it has persisted, for other cockpit instances' books to learn
/// (<see cref="AlertBook.LearnAsync"/>). None is registered for a single instance; with the Redis backplane,
/// <c>ScaleOut/AlertReplication</c> is one.
/// </summary>
public interface IAlertReplica
{
    /// <summary>Hands the change on; never throws (a lost change costs a late view elsewhere, not this instance's work).</summary>
    ValueTask ShareAsync(Alert alert);

    /// <summary>
    /// Whether <paramref name="candidate"/> is a newer version of the same alert than <paramref name="known"/>: a higher
    /// sequence number; on a tie (two instances changed it at once, each from the same last version) resolved wins, then
    /// the later status and actor in a fixed order, so every instance settles on the same version.
    /// </summary>
    static bool Supersedes(Alert candidate, Alert known)
    {
        if (candidate.Sequence != known.Sequence) return candidate.Sequence > known.Sequence;
        if ((candidate.Status == AlertStatus.Resolved) != (known.Status == AlertStatus.Resolved)) return candidate.Status == AlertStatus.Resolved;
        var byStatus = candidate.Status.CompareTo(known.Status);
        return byStatus != 0 ? byStatus > 0 : string.CompareOrdinal(candidate.UpdatedBy, known.UpdatedBy) > 0;
    }
}
