using System.Net;
using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Sensing.Storage;

/// <summary>
/// Tells a store that is away, hung or out of resources (ask again later) from a request it cannot answer at all (a bug,
/// a query it refuses). Whoever answers people turns the first kind into "not now" — the HTTP API's 503 with
/// <c>Retry-After</c> — instead of a server error.
/// </summary>
public static class StoreFailures
{
    public static bool IsUnavailable(Exception error) => error switch
    {
        // The file's own troubles, not the statement's: a fatal error (the store reopens), memory, disk, an interrupt.
        DuckDBException duck => duck.ErrorType is DuckDBErrorType.Fatal or DuckDBErrorType.OutOfMemory or DuckDBErrorType.Io
            or DuckDBErrorType.Connection or DuckDBErrorType.Interrupt,
        // No answer (refused, reset) or the server's own trouble; a 4xx is a request it will never take.
        HttpRequestException http => http.StatusCode is null or HttpStatusCode.TooManyRequests || (int)http.StatusCode >= 500,
        // The InfluxDB client's resilience: an attempt or the whole request out of time, the circuit open after failures.
        TimeoutRejectedException or BrokenCircuitException => true,
        TaskCanceledException { InnerException: TimeoutException } => true,
        _ => error.InnerException is { } inner && IsUnavailable(inner),
    };
}
