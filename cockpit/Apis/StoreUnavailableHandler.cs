using Microsoft.AspNetCore.Diagnostics;
using Sensing.Cockpit.Tiles;
using Sensing.Storage;

namespace Sensing.Cockpit.Apis;

/// <summary>
/// An API request that needed the store while it is away (InfluxDB down or hung, DuckDB out of memory) is answered 503
/// with <c>Retry-After</c> and a problem saying so, the answer a script or a page can wait on, instead of a 500 that
/// reads as a bug. Any other exception is left to the default handler.
/// </summary>
internal sealed class StoreUnavailableHandler(IProblemDetailsService problems, ILogger<StoreUnavailableHandler> logger) : IExceptionHandler
{
    public const string Title = "The store is not answering";

    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (!StoreFailures.IsUnavailable(exception)) return false;
        logger.LogWarning(exception, "The store did not answer {Method} {Path}; answered 503", http.Request.Method, http.Request.Path);
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = RetryAfter;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = { Status = StatusCodes.Status503ServiceUnavailable, Title = Title, Detail = "The time-series store did not answer; try again later." },
        });
    }

    /// <summary>Seconds to wait before asking again: as long as the wall screen leaves a failing store alone.</summary>
    public static string RetryAfter { get; } = ((int)TileStoreReads.RetryEvery.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
