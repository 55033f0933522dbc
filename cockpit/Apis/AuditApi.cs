using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Audit;

namespace Sensing.Cockpit.Apis;

/// <summary><c>GET /api/audit?since=&amp;kind=&amp;limit=</c>: the audit log, newest first, for admins only.</summary>
public static class AuditApi
{
    public const int DefaultLimit = 200;
    public const int MaxLimit = 10_000;

    public static RouteGroupBuilder MapAuditApi(this RouteGroupBuilder api)
    {
        api.MapGet("/audit", Results<Ok<IReadOnlyList<AuditEntry>>, ValidationProblem> (DateTimeOffset? since, string? kind, int? limit, AuditLog audit) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (!string.IsNullOrEmpty(kind) && !AuditKinds.IsKnown(kind)) errors["kind"] = ["sign_in, alert, registry or privacy"];
            if (limit is < 1 or > MaxLimit) errors["limit"] = [$"between 1 and {MaxLimit}"];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
            return TypedResults.Ok(audit.Read(since, string.IsNullOrEmpty(kind) ? null : kind, limit ?? DefaultLimit));
        }).RequireAuthorization(CockpitPolicies.Admin).WithName("AuditLog")
          .WithSummary("Sign-in attempts, alert actions and registry changes, newest first (admin).");
        return api;
    }
}
