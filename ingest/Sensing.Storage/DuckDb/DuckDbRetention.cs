using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// The rollup-off query path is the reference the tests and benchmarks compare the rollups with.
[assembly: InternalsVisibleTo("Sensing.Storage.Tests")]
[assembly: InternalsVisibleTo("Sensing.Benchmarks")]

namespace Sensing.Storage;

/// <summary>
/// How long each resolution of the DuckDB store is kept: the <c>Store:Retention</c> section (TimeSpan text).
/// <code>
/// "Store": {
///   "Retention": {
///     "Raw": "30.00:00:00",       // raw readings
///     "Minute": "90.00:00:00",    // readings_1m
///     "Hour": "730.00:00:00",     // readings_1h
///     "Interval": "01:00:00"      // how often the retention job runs
///   },
///   "ExportDirectory": "data/exports"
/// }
/// </code>
/// Coarser resolutions must be kept at least as long as finer ones: a query the hour table cannot answer any more
/// must not be answerable from minutes, or answers would change with the interval asked for.
/// </summary>
public sealed class DuckDbRetentionOptions
{
    public const string SectionName = "Store:Retention";

    public TimeSpan Raw { get; set; } = TimeSpan.FromDays(30);
    public TimeSpan Minute { get; set; } = TimeSpan.FromDays(90);
    public TimeSpan Hour { get; set; } = TimeSpan.FromDays(730);
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>What is wrong with these options, or an empty list.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        foreach (var (name, value) in new[] { ("Raw", Raw), ("Minute", Minute), ("Hour", Hour), ("Interval", Interval) })
        {
            if (value <= TimeSpan.Zero)
            {
                problems.Add($"Store:Retention:{name} must be positive, not {value}.");
            }
        }

        if (Raw > Minute || Minute > Hour)
        {
            problems.Add($"Store:Retention must keep Raw ≤ Minute ≤ Hour, not {Raw} / {Minute} / {Hour}.");
        }

        return problems;
    }

    internal void ThrowIfInvalid()
    {
        var problems = Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }
    }
}

internal sealed class DuckDbRetentionOptionsValidator : IValidateOptions<DuckDbRetentionOptions>
{
    public ValidateOptionsResult Validate(string? name, DuckDbRetentionOptions options)
    {
        var problems = options.Problems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

public static class DuckDbServiceCollectionExtensions
{
    /// <summary>
    /// The DuckDB store's own settings beyond its file: <c>Store:Retention</c> (validated at start) with its hourly
    /// job, and <c>Store:ExportDirectory</c> (default <c>data/exports</c>, relative to the current directory).
    /// Call after the DuckDB store is registered: it re-registers <see cref="DuckDbReadingStore"/> with the export folder.
    /// </summary>
    public static IServiceCollection AddDuckDbRetention(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<DuckDbRetentionOptions>()
            .Bind(configuration.GetSection(DuckDbRetentionOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DuckDbRetentionOptions>, DuckDbRetentionOptionsValidator>());

        // The store writes exports only into one folder, fixed at construction; the Store section's registration
        // does not know that key, so the DuckDB store is registered again here with it (Replace keeps one descriptor).
        services.Replace(ServiceDescriptor.Singleton(sp =>
        {
            var store = sp.GetRequiredService<IOptions<StoreOptions>>().Value;
            var exports = configuration.GetValue<string?>("Store:ExportDirectory") is { Length: > 0 } configured ? configured : "data/exports";
            return new DuckDbReadingStore(
                new DuckDbStoreOptions(Path.GetFullPath(store.Path), Path.GetFullPath(exports),
                    string.IsNullOrWhiteSpace(store.MemoryLimit) ? null : store.MemoryLimit.Trim()),
                sp.GetService<ILogger<DuckDbReadingStore>>());
        }));
        services.AddHostedService(sp => new DuckDbRetentionJob(
            sp,
            sp.GetRequiredService<IOptions<DuckDbRetentionOptions>>().Value,
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<DuckDbRetentionJob>>()));
        return services;
    }
}

/// <summary>
/// Runs <see cref="DuckDbReadingStore.ApplyRetentionAsync"/> at start and then every <see cref="DuckDbRetentionOptions.Interval"/>.
/// With <c>Store:Kind=influxdb</c> it does nothing (InfluxDB keeps its own retention) and never resolves the DuckDB
/// store, which would create its file.
/// </summary>
internal sealed class DuckDbRetentionJob(IServiceProvider services, DuckDbRetentionOptions options, TimeProvider time, ILogger<DuckDbRetentionJob>? logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var kind = services.GetRequiredService<IOptions<StoreOptions>>().Value.Kind?.Trim();
        if (!string.Equals(kind, StoreOptions.DuckDbKind, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var store = services.GetRequiredService<DuckDbReadingStore>();
        using var timer = new PeriodicTimer(options.Interval, time);
        do
        {
            try
            {
                await store.ApplyRetentionAsync(options, time.GetUtcNow(), stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Retention failing must not stop the host; the next tick tries again and the error is visible.
                logger?.LogError(ex, "DuckDB retention failed; retrying in {Interval}", options.Interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
