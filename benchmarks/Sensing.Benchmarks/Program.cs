using BenchmarkDotNet.Running;
using Sensing.Benchmarks;

// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- --filter '*' [--job short]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- --check-allocations
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- store-load --seconds 30 --batch 5000 [--Store:Kind=influxdb ...]
if (args is ["--check-allocations"])
{
    return AllocationCheck.Run();
}
if (args is ["store-load", ..])
{
    return await StoreLoadCommand.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
