using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class RetentionTests : IAsyncLifetime
{
    // Sixty days of one meter, one reading every 30 minutes, ending on Sample.Day.
    private static readonly DateTimeOffset Start = Sample.Day.AddDays(-60);
    private static readonly DuckDbRetentionOptions Policy = new() { Raw = TimeSpan.FromDays(30), Minute = TimeSpan.FromDays(40), Hour = TimeSpan.FromDays(730) };
    private TempStore _db = null!;

    public async Task InitializeAsync()
    {
        _db = await TempStore.CreateAsync();
        var batch = new List<Reading>();
        for (var t = Start; t < Sample.Day; t = t.AddMinutes(30))
        {
            batch.Add(Sample.Point("m1", Metrics.WaterConsumption, t, (t - Start).TotalMinutes % 7));
        }

        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private static ReadingQuery Hourly(DateTimeOffset from, DateTimeOffset to, Aggregation agg = Aggregation.Sum) =>
        new(Metrics.WaterConsumption, from, to, "m1", Every: TimeSpan.FromHours(1), Aggregation: agg);

    [Fact]
    public async Task Old_raw_rows_go_but_hourly_queries_over_their_range_still_answer_from_the_hour_rollup()
    {
        var oldRange = Hourly(Start, Start.AddDays(10));
        var before = await _db.Store.QueryAsync(oldRange, CancellationToken.None).Within();
        Assert.Equal(240, before.Count);

        var pass = await _db.Store.ApplyRetentionAsync(Policy, wallClock: Sample.Day.AddYears(1), CancellationToken.None).Within();

        // Event time: the newest reading (23:30 the day before Sample.Day), not the far later wall clock.
        Assert.NotNull(pass);
        var newest = Sample.Day.AddMinutes(-30);
        Assert.Equal(newest, pass.Reference);
        Assert.Equal(0L, (await _db.SqlAsync($"SELECT count(*) FROM readings WHERE ts < TIMESTAMP '{newest.AddDays(-30).UtcDateTime:yyyy-MM-dd HH:mm:ss}'"))[0][0]);
        // Every half hour from Start up to (not including) newest - 30 days.
        Assert.Equal(30 * 48 - 1, pass.RawDeleted);
        Assert.Equal(0L, (await _db.SqlAsync($"SELECT count(*) FROM readings_1m WHERE bucket <= TIMESTAMP '{newest.AddDays(-40).AddMinutes(-1).UtcDateTime:yyyy-MM-dd HH:mm:ss}'"))[0][0]);
        Assert.Equal(0L, pass.HourDeleted);

        foreach (var agg in Enum.GetValues<Aggregation>())
        {
            var fromRaw = await _db.Store.QueryAsync(Hourly(Start, Start.AddDays(10), agg), useRollups: false, CancellationToken.None).Within();
            Assert.Empty(fromRaw);
        }

        Assert.Equal(before, await _db.Store.QueryAsync(oldRange, CancellationToken.None).Within());
    }

    [Fact]
    public async Task A_redelivery_older_than_the_raw_horizon_is_refused_not_counted_again()
    {
        await _db.Store.ApplyRetentionAsync(Policy, Sample.Day.AddYears(1), CancellationToken.None).Within();
        var hourBefore = await _db.SqlAsync("SELECT * FROM readings_1h ORDER BY ALL");

        // Its raw twin is gone, so only the horizon can tell it might be a redelivery: refused out loud (ingest
        // dead-letters it with this reason), never stored and never silently dropped.
        var refused = await Assert.ThrowsAsync<ArgumentException>(() =>
            _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Start, 0)], CancellationToken.None).Within());
        Assert.Contains("older than the raw retention horizon", refused.Message, StringComparison.Ordinal);

        Assert.Equal(hourBefore, await _db.SqlAsync("SELECT * FROM readings_1h ORDER BY ALL"));
        Assert.Equal(0L, (await _db.SqlAsync("SELECT count(*) FROM readings WHERE ts = TIMESTAMP '2026-09-21 00:00:00'"))[0][0]);
    }

    [Fact]
    public async Task A_wall_clock_earlier_than_the_newest_reading_caps_the_reference()
    {
        // One bad clock in the far future must not make everything "old".
        await _db.Store.WriteAsync([Sample.Point("m2", Metrics.WaterConsumption, Sample.Day.AddYears(50), 1)], CancellationToken.None).Within();

        var pass = await _db.Store.ApplyRetentionAsync(Policy, wallClock: Sample.Day, CancellationToken.None).Within();

        Assert.Equal(Sample.Day, pass!.Reference);
        Assert.Equal(30 * 48, pass.RawDeleted);
    }

    [Fact]
    public async Task An_empty_store_has_nothing_to_retain()
    {
        await using var empty = await TempStore.CreateAsync();
        Assert.Null(await empty.Store.ApplyRetentionAsync(Policy, Sample.Day, CancellationToken.None).Within());
    }

    [Theory]
    [InlineData("-1.00:00:00", "90.00:00:00", "730.00:00:00")]
    [InlineData("00:00:00", "90.00:00:00", "730.00:00:00")]
    [InlineData("100.00:00:00", "90.00:00:00", "730.00:00:00")]   // raw kept longer than minutes
    [InlineData("30.00:00:00", "90.00:00:00", "60.00:00:00")]     // minutes kept longer than hours
    public async Task Invalid_retention_fails_the_host_at_start(string raw, string minute, string hour)
    {
        var folder = Path.Combine(Path.GetTempPath(), "sensing-storage-tests", Guid.NewGuid().ToString("N"));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Store:Path"] = Path.Combine(folder, "sensing.duckdb"),
            ["Store:Retention:Raw"] = raw,
            ["Store:Retention:Minute"] = minute,
            ["Store:Retention:Hour"] = hour,
        });
        builder.Services.AddSensingStore(builder.Configuration);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());
        Assert.Contains("Store:Retention", error.Message, StringComparison.Ordinal);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var options = new DuckDbRetentionOptions { Raw = TimeSpan.Parse(raw, invariant), Minute = TimeSpan.Parse(minute, invariant), Hour = TimeSpan.Parse(hour, invariant) };
        await Assert.ThrowsAsync<ArgumentException>(() => _db.Store.ApplyRetentionAsync(options, Sample.Day, CancellationToken.None).Within());
    }

    [Fact]
    public void Defaults_are_30_90_and_730_days_and_bind_from_timespan_text()
    {
        var defaults = new DuckDbRetentionOptions();
        Assert.Equal((TimeSpan.FromDays(30), TimeSpan.FromDays(90), TimeSpan.FromDays(730), TimeSpan.FromHours(1)),
            (defaults.Raw, defaults.Minute, defaults.Hour, defaults.Interval));
        Assert.Empty(defaults.Problems());

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Store:Retention:Raw"] = "7.00:00:00", ["Store:ExportDirectory"] = "somewhere/exports" });
        builder.Services.AddSensingStore(builder.Configuration);
        using var host = builder.Build();
        Assert.Equal(TimeSpan.FromDays(7), host.Services.GetRequiredService<IOptions<DuckDbRetentionOptions>>().Value.Raw);
        Assert.Equal(Path.GetFullPath("somewhere/exports"), host.Services.GetRequiredService<DuckDbReadingStore>().ExportDirectory);
    }
}
