using Sensing.Cockpit.Alerts;

namespace Sensing.Cockpit.Audit;

/// <summary>
/// Puts the alert book's actions into the audit log. The book hands every change it made itself (raised,
/// acknowledged, on the way, resolved, escalated), once persisted, to its <see cref="IAlertReplica"/>s, never a change
/// learned from another instance; so each action is audited once, by the instance where it was made. The action is
/// the last of the alert's trail (<see cref="Alert.Actions"/>), the same record the alert keeps.
/// </summary>
public sealed class AlertAudit(AuditLog audit) : IAlertReplica
{
    public ValueTask ShareAsync(Alert alert)
    {
        if (alert.Actions is { Count: > 0 } actions)
        {
            var action = actions[^1];
            var detail = action.To is null ? action.Note : $"to {action.To}: {action.Note}";
            audit.Record(new AuditEntry(action.At, AuditKinds.Alert, action.Action, "done", action.By, action.Role, Remote: null,
                Subject: alert.Id, Detail: detail is null ? $"{alert.Kind} in {alert.Community}/{alert.Grid}" : $"{alert.Kind} in {alert.Community}/{alert.Grid}; {detail}"));
        }
        return ValueTask.CompletedTask;
    }
}
