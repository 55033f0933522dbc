using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;

namespace Sensing.Cockpit.Apis;

public sealed record ResolveRequest(string? Note);

/// <summary>The alert feed and the closed loop: acknowledge, on the way, resolve; the audit trail; closure figures.</summary>
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
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = ["must be open, acknowledged, on_the_way, resolved or escalated"] });
                }
                wanted = parsed;
            }
            return TypedResults.Ok(alerts.Query(CallerScope.Of(user), wanted, community, grid, since));
        }).WithName("ListAlerts").WithSummary("Alerts the caller may see, newest first.");

        api.MapPost("/alerts/{id}/ack", async (string id, ClaimsPrincipal user, AlertBook alerts, CancellationToken ct) =>
                ToResult(await alerts.AcknowledgeAsync(id, CallerScope.Of(user), ct)))
            .RequireAuthorization(CockpitPolicies.Responder).WithName("AcknowledgeAlert").WithSummary("Acknowledges an alert.");

        api.MapPost("/alerts/{id}/on-the-way", async (string id, ClaimsPrincipal user, AlertBook alerts, CancellationToken ct) =>
                ToResult(await alerts.OnTheWayAsync(id, CallerScope.Of(user), ct)))
            .RequireAuthorization(CockpitPolicies.Responder).WithName("OnTheWayToAlert").WithSummary("Marks that someone is on the way (acknowledges too).");

        api.MapGet("/alerts/{id}/actions", IResult (string id, ClaimsPrincipal user, AlertBook alerts) =>
            {
                var (actions, refusal) = alerts.ActionsOf(id, CallerScope.Of(user));
                return actions is not null ? TypedResults.Ok(actions) : TypedResults.Problem(refusal.Error, statusCode: refusal.StatusCode);
            })
            .WithName("AlertActions").WithSummary("The alert's audit trail: who did what, when, oldest first.");

        api.MapGet("/alerts/closure", Results<Ok<ClosureReport>, ValidationProblem, ForbidHttpResult> (
            ClaimsPrincipal user, string? community, string? grid, DateTimeOffset? since, AlertBook alerts, IDeviceRegistry registry) =>
            {
                var caller = CallerScope.Of(user);
                community = string.IsNullOrEmpty(community) ? (caller.IsWorker ? caller.Community : null) : community;
                if (community is null)
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["community"] = ["required"] });
                }
                if (caller.IsWorker && caller.Community != community) return TypedResults.Forbid();
                return TypedResults.Ok(alerts.Closure(caller, community, string.IsNullOrEmpty(grid) ? null : grid, since,
                    registry.Grids.Where(g => g.Community == community).Select(g => g.Id)));
            })
            .WithName("AlertClosure").WithSummary("Closure rate, times to acknowledge and to resolve, open and escalated alerts, per grid.");

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
            case "on_the_way": status = AlertStatus.OnTheWay; return true;
            case "resolved": status = AlertStatus.Resolved; return true;
            case "escalated": status = AlertStatus.Escalated; return true;
            default: status = default; return false;
        }
    }
}
