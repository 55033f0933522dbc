using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.Access;
using Sensing.Storage;

namespace Sensing.Cockpit.Apis;

/// <summary>Raw readings of a time range as a Parquet file, for engineers' offline analysis.</summary>
public static class ExportApi
{
    public const string ParquetContentType = "application/vnd.apache.parquet";

    /// <summary>A year: bigger ranges are an engineer's job on a copy of the database file, not a web request's.</summary>
    private static readonly TimeSpan s_maxRange = TimeSpan.FromDays(366);

    public static RouteGroupBuilder MapExportApi(this RouteGroupBuilder api)
    {
        api.MapGet("/export", async Task<Results<FileStreamHttpResult, ValidationProblem, ProblemHttpResult>> (
            DateTimeOffset? from, DateTimeOffset? to, string? community, IOptions<StoreOptions> storeOptions, IServiceProvider services,
            CancellationToken ct) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (from is null) errors["from"] = ["required, RFC 3339"];
            if (to is null) errors["to"] = ["required, RFC 3339"];
            if (from >= to) errors["from"] = ["must be before to"];
            else if (to - from > s_maxRange) errors["to"] = ["at most 366 days after from"];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

            // By the configured kind, not by the IReadingStore instance: that one may be wrapped (spool, metrics).
            if (!string.Equals(storeOptions.Value.Kind?.Trim(), StoreOptions.DuckDbKind, StringComparison.OrdinalIgnoreCase))
            {
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status501NotImplemented,
                    title: "Export needs the embedded DuckDB store",
                    detail: "This service stores readings in InfluxDB (Store:Kind=influxdb); export them with InfluxDB's own tools.");
            }

            var duckDb = services.GetRequiredService<DuckDbReadingStore>();
            // The store writes only into its export folder and wants a plain file name; a fresh name per request means
            // two downloads never share (or overwrite) a file.
            var path = Path.Combine(duckDb.ExportDirectory, $"export-{Guid.NewGuid():N}.parquet");
            try
            {
                await duckDb.ExportAsync(from!.Value, to!.Value, path, NullIfEmpty(community), ct);
            }
            catch
            {
                File.Delete(path);
                throw;
            }

            // DeleteOnClose: the temporary file goes when the response has been streamed, or the client went away.
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete,
                bufferSize: 64 * 1024, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
            return TypedResults.File(stream, ParquetContentType, DownloadName(from.Value, to.Value, community));
        })
        // Engineers and admins only: an export is every reading of a range, households included, outside the
        // cockpit's grid scoping.
        .RequireAuthorization(policy => policy.RequireRole(Roles.Admin, Roles.Engineer))
        .WithName("ExportReadings")
        .WithSummary("Raw readings of [from, to), optionally of one community, as a Parquet file.");
        return api;
    }

    /// <summary>e.g. <c>sensing-c1-20261101T0000Z-20261124T0000Z.parquet</c>; only safe characters reach the header.</summary>
    private static string DownloadName(DateTimeOffset from, DateTimeOffset to, string? community)
    {
        var scope = string.IsNullOrEmpty(community)
            ? "all"
            : string.Concat(community.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
        static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture);
        return $"sensing-{scope}-{Stamp(from)}-{Stamp(to)}.parquet";
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
