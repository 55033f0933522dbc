using System.Text.Json.Serialization;

namespace Sensing.Cockpit.Alerts;

/// <summary>
/// How well one grid (or, without <see cref="Grid"/>, all of them) closes its alerts. Counted over the alerts raised
/// since the report's <c>since</c> plus every older one still unresolved, so a backlog is never forgotten by waiting:
/// <list type="bullet">
/// <item><see cref="Raised"/>: those alerts; <see cref="Open"/>: of them, not resolved (open, acknowledged, on the way,
/// escalated); <see cref="Acknowledged"/>: acknowledged (directly, or by going on the way), whatever came after;
/// <see cref="Resolved"/>; <see cref="Escalated"/>: ever escalated (to the grid leader or further).</item>
/// <item><see cref="ClosureRate"/> = resolved ÷ raised (null when nothing was raised).</item>
/// <item>Times to acknowledge and to resolve, in seconds from when the alert book took the alert in, mean and median
/// over the alerts that got there (null when none did); the median of an even count is the mean of the middle two.</item>
/// </list>
/// Alerts without a grid count under grid <c>-</c>.
/// </summary>
public sealed record ClosureFigures(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Grid,
    int Raised,
    int Acknowledged,
    int Resolved,
    int Open,
    int Escalated,
    double? ClosureRate,
    double? MeanTimeToAcknowledgeS,
    double? MedianTimeToAcknowledgeS,
    double? MeanTimeToResolveS,
    double? MedianTimeToResolveS)
{
    /// <summary>The figures of these alerts (already chosen: see the type's summary).</summary>
    public static ClosureFigures Of(string? grid, IReadOnlyCollection<Alert> alerts)
    {
        var toAcknowledge = new List<double>();
        var toResolve = new List<double>();
        int acknowledged = 0, resolved = 0, escalated = 0;
        foreach (var alert in alerts)
        {
            if (alert.AcknowledgedAt is { } ackAt)
            {
                acknowledged++;
                if (alert.ReceivedAt is { } received) toAcknowledge.Add((ackAt - received).TotalSeconds);
            }
            if (alert.Status == AlertStatus.Resolved)
            {
                resolved++;
                if (alert.ReceivedAt is { } received && alert.ResolvedAt is { } resolvedAt) toResolve.Add((resolvedAt - received).TotalSeconds);
            }
            if (alert.Escalation is not null) escalated++;
        }
        return new ClosureFigures(
            grid, alerts.Count, acknowledged, resolved, alerts.Count - resolved, escalated,
            alerts.Count == 0 ? null : (double)resolved / alerts.Count,
            Mean(toAcknowledge), Median(toAcknowledge), Mean(toResolve), Median(toResolve));
    }

    private static double? Mean(List<double> values) => values.Count == 0 ? null : values.Average();

    private static double? Median(List<double> values)
    {
        if (values.Count == 0) return null;
        values.Sort();
        var middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}

/// <summary><c>GET /api/alerts/closure</c> and the tiles' <c>closure</c>: per grid, and in total.</summary>
public sealed record ClosureReport(string? Community, DateTimeOffset Since, IReadOnlyList<ClosureFigures> Grids, ClosureFigures Total);
