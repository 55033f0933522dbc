using System.Globalization;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Tiles;

namespace Sensing.Cockpit.Apis;

public sealed record DeadLetterView(string Topic, string? PayloadText, string? PayloadBase64, int PayloadBytes, DateTimeOffset ReceivedAt, string Reason, string Format);

/// <summary>Time series, tiles and dead letters.</summary>
public static class ReadingsApi
{
    public static RouteGroupBuilder MapReadingsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/readings", async Task<Results<Ok<IReadOnlyList<Bucket>>, ValidationProblem, ForbidHttpResult, NotFound>> (
            ClaimsPrincipal user, string? device, string? community, string? metric, DateTimeOffset? from, DateTimeOffset? to,
            string? every, string? agg, int? limit, IDeviceRegistry registry, IReadingStore store, TimeProvider time, CancellationToken ct) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrEmpty(metric)) errors["metric"] = ["required, e.g. water.consumption or gate.pass"];
            if (string.IsNullOrEmpty(device) && string.IsNullOrEmpty(community)) errors["device"] = ["give a device or a community"];
            TimeSpan? bucket = null;
            if (!string.IsNullOrEmpty(every))
            {
                if (TryParseInterval(every, out var parsed)) bucket = parsed;
                else errors["every"] = ["an interval such as 30s, 15m, 1h or 1d"];
            }
            if (!Aggregations.TryParse(agg, out var aggregation)) errors["agg"] = ["mean, sum, min, max, count or last"];
            var end = to ?? time.GetUtcNow();
            var start = from ?? end - TimeSpan.FromDays(1);
            if (start >= end) errors["from"] = ["must be before to"];
            if (limit is < 1 or > 100_000) errors["limit"] = ["between 1 and 100000"];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

            var caller = CallerScope.Of(user);
            if (!string.IsNullOrEmpty(device))
            {
                var known = registry.FindDevice(device);
                if (known is null) return TypedResults.NotFound();
                if (!caller.CanSee(known.Community, known.Grid)) return TypedResults.Forbid();
            }
            else if (caller.IsWorker)
            {
                // A community-wide series mixes every grid: workers query their own devices instead.
                return TypedResults.Forbid();
            }
            var query = new ReadingQuery(metric!, start, end, NullIfEmpty(device), NullIfEmpty(community), bucket, aggregation, limit ?? 10_000);
            return TypedResults.Ok(await store.QueryAsync(query, ct));
        }).WithName("QueryReadings").WithSummary("Raw points, or time buckets when 'every' is given.");

        api.MapGet("/tiles", async Task<Results<Ok<CommunityTiles>, ValidationProblem, ForbidHttpResult>> (
            ClaimsPrincipal user, string? community, TileBoard board, Sensing.Cockpit.Alerts.AlertBook alerts, CancellationToken ct) =>
        {
            if (string.IsNullOrEmpty(community))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["community"] = ["required"] });
            }
            var caller = CallerScope.Of(user);
            if (caller.IsWorker && caller.Community != community) return TypedResults.Forbid();
            var tiles = await board.ComputeAsync(community, ct);
            // A worker's closure figures are their grids' only, as everywhere else.
            return TypedResults.Ok(caller.IsWorker && tiles.Closure is not null
                ? tiles with { Closure = alerts.Closure(caller, community, null, null, tiles.Closure.Grids.Select(g => g.Grid!)) }
                : tiles);
        }).WithName("Tiles").WithSummary("The cockpit's current figures for a community.");

        api.MapGet("/deadletters", async (DateTimeOffset? since, int? limit, IReadingStore store, CancellationToken ct) =>
        {
            var letters = await store.DeadLettersAsync(since, Math.Clamp(limit ?? 200, 1, 10_000), ct);
            return TypedResults.Ok(letters.Select(View).ToList());
        }).RequireAuthorization(CockpitPolicies.ControlRoom).WithName("ListDeadLetters").WithSummary("Messages ingest could not normalize, with reasons, newest first.");
        return api;
    }

    private static DeadLetterView View(DeadLetter letter)
    {
        // Show the payload as text when it is text (it nearly always is), else as base64.
        string? text = null;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(letter.Payload);
        }
        catch (DecoderFallbackException)
        {
        }
        return new DeadLetterView(letter.Topic, text, text is null ? Convert.ToBase64String(letter.Payload) : null,
            letter.PayloadBytes, letter.ReceivedAt, letter.Reason, letter.Format);
    }

    /// <summary>Parses <c>30s</c>, <c>15m</c>, <c>1h</c>, <c>1d</c> or a .NET time span (<c>01:00:00</c>).</summary>
    public static bool TryParseInterval(string text, out TimeSpan interval)
    {
        interval = default;
        if (text.Length >= 2 && double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            interval = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => default,
            };
            if (interval > TimeSpan.Zero) return true;
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out interval) && interval > TimeSpan.Zero;
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
