using System.Net;
using DuckDB.NET.Data;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Sensing.Storage.Tests;

/// <summary>Which store errors mean "ask again later" (the API's 503) and which mean the request itself cannot be answered.</summary>
public sealed class StoreFailuresTests : IAsyncLifetime
{
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task DuckDBs_own_troubles_are_unavailability_and_a_bad_statement_is_not()
    {
        var bad = await Assert.ThrowsAsync<DuckDBException>(() => _db.SqlAsync("SELECT no_such_column FROM readings")).Within();
        Assert.False(StoreFailures.IsUnavailable(bad));

        await _db.SqlAsync("SET debug_checkpoint_abort = 'before_header'").Within();
        var fatal = await Assert.ThrowsAsync<DuckDBException>(() => _db.SqlAsync("CHECKPOINT")).Within();
        Assert.True(StoreFailures.IsUnavailable(fatal));
    }

    [Theory]
    [InlineData(null, true)]                                // refused, reset: no answer at all
    [InlineData(HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.BadRequest, false)]          // InfluxDB refusing the query: asking again will not help
    [InlineData(HttpStatusCode.Unauthorized, false)]
    public void An_http_answer_is_unavailability_only_when_the_server_could_not_answer(HttpStatusCode? status, bool unavailable) =>
        Assert.Equal(unavailable, StoreFailures.IsUnavailable(new HttpRequestException("InfluxDB", null, status)));

    [Fact]
    public void The_clients_timeouts_and_open_circuit_are_unavailability_and_so_is_a_wrapped_one()
    {
        Assert.True(StoreFailures.IsUnavailable(new TimeoutRejectedException()));
        Assert.True(StoreFailures.IsUnavailable(new BrokenCircuitException()));
        Assert.True(StoreFailures.IsUnavailable(new TaskCanceledException("HttpClient.Timeout", new TimeoutException())));
        Assert.True(StoreFailures.IsUnavailable(new InvalidOperationException("outer", new HttpRequestException("refused"))));
        Assert.False(StoreFailures.IsUnavailable(new TaskCanceledException("the caller went away")));
        Assert.False(StoreFailures.IsUnavailable(new InvalidDataException("InfluxDB's answer lacks the column 'time'.")));
    }
}
