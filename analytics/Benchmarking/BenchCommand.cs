using System.Diagnostics;
using System.Globalization;
using Sensing.Analytics.LivingAlone;
using Sensing.Analytics.Windows;
using Sensing.Storage;
using Sensing.Telemetry;

namespace Sensing.Analytics.Benchmarking;

/// <summary>
/// The welfare detector's speed targets, timed end to end on a synthetic population (<see cref="BenchPopulation"/>):
/// <list type="bullet">
/// <item><c>bench-score --households 100000</c>: a day (24 hourly windows) of that many households through the
/// hourly path — each window folded per household and judged by <see cref="LivingAloneDetector"/> with a model
/// trained on the population (setup, not timed). Target: under 5 s.</item>
/// <item><c>bench-train --households 10000 [--store]</c>: a training (usual days, prior, ML.NET fit) on 14 days of
/// that many households; with <c>--store</c> read from a DuckDB file first, as the service does. Target: under 60 s.</item>
/// </list>
/// Each measurement runs <c>--repeat</c> times (3); the median is the figure to report.
/// </summary>
public static class BenchCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var command = args[0];
        var households = command == "bench-score" ? 100_000 : 10_000;
        var days = 14;
        var repeat = 3;
        var fromStore = false;
        for (var i = 1; i < args.Length; i++)
        {
            int Int() => i + 1 < args.Length && int.TryParse(args[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n : throw new FormatException($"{args[i - 1]} needs a positive whole number");
            try
            {
                switch (args[i])
                {
                    case "--households": households = Int(); break;
                    case "--days": days = Math.Max(3, Int()); break;
                    case "--repeat": repeat = Int(); break;
                    case "--store": fromStore = true; break;
                    default: throw new FormatException($"unknown option '{args[i]}'");
                }
            }
            catch (FormatException ex)
            {
                await error.WriteLineAsync($"{command}: {ex.Message}").ConfigureAwait(false);
                return 2;
            }
        }

        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{command}: {households:N0} households, {days} days of history, {Environment.ProcessorCount} cores, .NET {Environment.Version}")).ConfigureAwait(false);
        var options = new AnalyticsOptions { TimeZone = "Asia/Shanghai", HistoryDays = days };
        var population = new BenchPopulation(households);
        var setup = Stopwatch.StartNew();
        var history = population.History(days);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{command}: setup: history generated in {setup.Elapsed.TotalSeconds:0.0} s")).ConfigureAwait(false);
        var elderly = population.Ids.Select((id, i) => (id, population.Elderly[i])).ToDictionary(p => p.id, p => p.Item2);

        var times = new List<double>();
        if (command == "bench-train")
        {
            string? folder = null;
            DuckDbReadingStore? store = null;
            try
            {
                if (fromStore)
                {
                    (folder, store) = await WriteStoreAsync(population, days, output).ConfigureAwait(false);
                }
                for (var r = 0; r < repeat; r++)
                {
                    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    var data = store is null
                        ? history
                        : await HouseholdHistory.LoadAsync(new StoreWindows(store, new EmptyRegistry()), history.From, history.To, BenchPopulation.Zone, Partition.Everything, CancellationToken.None).ConfigureAwait(false);
                    var loaded = watch.Elapsed;
                    var model = WelfareTrainer.Train(data, id => elderly[id], options, TimeProvider.System) ?? throw new InvalidOperationException("no model");
                    times.Add(watch.Elapsed.TotalSeconds);
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{command}: run {r + 1}: {watch.Elapsed.TotalSeconds:0.00} s, {cpu.TotalSeconds:0.00} s of CPU{(store is null ? "" : $" ({loaded.TotalSeconds:0.00} s reading the store)")}; {model.Manifest.Households:N0} households, {model.Manifest.TrainingRows:N0} rows, held out R² {model.Manifest.Metrics.RSquared:0.000}")).ConfigureAwait(false);
                }
            }
            finally
            {
                if (store is not null) await store.DisposeAsync().ConfigureAwait(false);
                if (folder is not null) Directory.Delete(folder, recursive: true);
            }
        }
        else
        {
            setup.Restart();
            var model = WelfareTrainer.Train(history, id => elderly[id], options, TimeProvider.System) ?? throw new InvalidOperationException("no model");
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{command}: setup: model trained in {setup.Elapsed.TotalSeconds:0.0} s")).ConfigureAwait(false);
            var registry = population.Ids.Select((id, i) => new Household(id, "c1", "g1", population.Elderly[i])).ToDictionary(h => h.Id);
            for (var r = 0; r < repeat; r++)
            {
                var detector = new LivingAloneDetector(options.LivingAlone, BenchPopulation.Zone, options.EvaluationDelay);
                var elapsed = TimeSpan.Zero;
                var cpu = TimeSpan.Zero;
                var alerts = 0;
                // The day after the history: the model's first day, every hour of it.
                for (var h = days * 24; h < (days + 1) * 24; h++)
                {
                    var window = population.Window(h);
                    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    var hour = LivingAloneHourlyDetector.Households(window, Partition.Everything);
                    alerts += detector.Judge(BenchPopulation.Start.AddHours(h), hour, model, id => registry.GetValueOrDefault(id), (_, _) => false).Count;
                    elapsed += watch.Elapsed;
                    cpu += Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                }
                times.Add(elapsed.TotalSeconds);
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{command}: run {r + 1}: {elapsed.TotalSeconds:0.00} s for 24 hours × {households:N0} households ({elapsed.TotalMilliseconds * 1000 / (24.0 * households):0.00} µs per household-hour), {cpu.TotalSeconds:0.00} s of CPU, {alerts} alerts")).ConfigureAwait(false);
            }
        }
        times.Sort();
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{command}: median {times[times.Count / 2]:0.00} s of {times.Count} runs")).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The population's hourly use as one consumption reading per meter-hour in a fresh DuckDB file.</summary>
    private static async Task<(string Folder, DuckDbReadingStore Store)> WriteStoreAsync(BenchPopulation population, int days, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        var folder = Path.Combine(OperatingSystem.IsLinux() && Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"sensing-bench-{Guid.NewGuid():N}");
        var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(Path.Combine(folder, "bench.duckdb"))).ConfigureAwait(false);
        var from = BenchPopulation.Start.ToUniversalTime();
        var batch = new List<Reading>(20_000);
        for (var h = 0; h < days * 24; h++)
        {
            var time = from.AddHours(h).AddMinutes(30);
            for (var i = 0; i < population.Count; i++)
            {
                var (water, electricity) = population.Use(i, h);
                batch.Add(new Reading($"wm-{i}", "c1", "g1", population.Ids[i], Metrics.WaterConsumption, time, water));
                batch.Add(new Reading($"em-{i}", "c1", "g1", population.Ids[i], Metrics.ElectricityConsumption, time, electricity));
                if (batch.Count >= 20_000)
                {
                    await store.WriteAsync(batch, CancellationToken.None).ConfigureAwait(false);
                    batch = new List<Reading>(20_000);
                }
            }
        }
        await store.WriteAsync(batch, CancellationToken.None).ConfigureAwait(false);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"bench-train: setup: {2L * population.Count * days * 24:N0} hourly readings written to DuckDB in {watch.Elapsed.TotalSeconds:0} s")).ConfigureAwait(false);
        return (folder, store);
    }

    /// <summary>The DuckDB store has hourly windows of its own; the registry is only the fallback's.</summary>
    private sealed class EmptyRegistry : IDeviceRegistry
    {
        public IReadOnlyCollection<Community> Communities => [];
        public IReadOnlyCollection<Grid> Grids => [];
        public IReadOnlyCollection<Device> Devices => [];
        public IReadOnlyCollection<Household> Households => [];
        public Device? FindDevice(string id) => null;
        public Household? FindHousehold(string id) => null;
        public bool IsAway(string household, DateTimeOffset at) => false;
        public DateTimeOffset? LastSeen(string device) => null;
    }
}
