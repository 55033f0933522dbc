using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;

namespace Sensing.Cockpit.Apis;

public sealed record ResolveRequest(string? Note);

/// <summary>The alert feed and the closed loop: acknowledge, resolve.</summary>
public static class AlertsApi
{
    public static RouteGroupBuilder MapAlertsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/alerts", Results<Ok<IReadOnlyList<Alert>>, ValidationProblem> (
            ClaimsPrincipal user, string? status, string? community, string? grid, DateTimeOffset? since, AlertBook alerts) =>
        {
            AlertStatus? wanted = null;
            if (!string.IsNullOrEmpty(status))
            {
                if (!TryParseStatus(status, out var parsed))
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = ["must be open, acknowledged, resolved or escalated"] });
                }
                wanted = parsed;
            }
            return TypedResults.Ok(alerts.Query(CallerScope.Of(user), wanted, community, grid, since));
        }).WithName("ListAlerts").WithSummary("Alerts the caller may see, newest first.");

        api.MapPost("/alerts/{id}/ack", async (string id, ClaimsPrincipal user, AlertBook alerts, CancellationToken ct) =>
                ToResult(await alerts.AcknowledgeAsync(id, CallerScope.Of(user), ct)))
            .RequireAuthorization(CockpitPolicies.Responder).WithName("AcknowledgeAlert").WithSummary("Acknowledges an alert.");

        api.MapPost("/alerts/{id}/resolve", async (string id, ResolveRequest? request, ClaimsPrincipal user, AlertBook alerts, CancellationToken ct) =>
                ToResult(await alerts.ResolveAsync(id, CallerScope.Of(user), request?.Note, ct)))
            .RequireAuthorization(CockpitPolicies.Responder).WithName("ResolveAlert").WithSummary("Resolves an alert with a note.");
        return api;
    }

    private static IResult ToResult(AlertChange change) => change.Alert is { } alert
        ? TypedResults.Ok(alert)
        : TypedResults.Problem(change.Error, statusCode: change.StatusCode);

    private static bool TryParseStatus(string text, out AlertStatus status)
    {
        switch (text)
        {
            case "open": status = AlertStatus.Open; return true;
            case "acknowledged": status = AlertStatus.Acknowledged; return true;
            case "resolved": status = AlertStatus.Resolved; return true;
            case "escalated": status = AlertStatus.Escalated; return true;
            default: status = default; return false;
        }
    }
}
