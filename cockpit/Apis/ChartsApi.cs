using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Charts;
using Sensing.Cockpit.Tiles;

namespace Sensing.Cockpit.Apis;

/// <summary>
/// <c>GET /api/charts?community=&amp;hours=24</c>: the wall screen's gate flow and parking occupancy per hour. For the
/// control room only: the series are community-wide (every grid's gates and lots), so a grid worker is refused, as
/// with a community-wide <c>/api/readings</c> query.
/// </summary>
public static class ChartsApi
{
    public const int MaxHours = 168;

    public static RouteGroupBuilder MapChartsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/charts", async Task<Results<Ok<CommunityCharts>, ValidationProblem, NotFound<string>, ProblemHttpResult>> (
            string? community, int? hours, IDeviceRegistry registry, ChartBoard charts, TileStoreReads storeReads, HttpContext http, CancellationToken ct) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrEmpty(community)) errors["community"] = ["required"];
            if (hours is < 1 or > MaxHours) errors["hours"] = [$"between 1 and {MaxHours}"];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
            if (!registry.Communities.Any(c => c.Id == community)) return TypedResults.NotFound($"no community '{community}'");
            if (await charts.ComputeAsync(community!, hours ?? 24, ct) is { } computed) return TypedResults.Ok(computed);
            // Said at once rather than after the store's own half-minute timeout: the screen keeps the charts it has.
            http.Response.Headers.RetryAfter = StoreUnavailableHandler.RetryAfter;
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: StoreUnavailableHandler.Title,
                detail: storeReads.FailingSince is { } since ? $"No answer from the store since {since:u}; try again later." : "No answer from the store; try again later.");
        }).RequireAuthorization(CockpitPolicies.ControlRoom).WithName("Charts")
          .WithSummary("Gate passes and parking occupancy per hour over the last hours, from the store's hourly rollups.");
        return api;
    }
}
