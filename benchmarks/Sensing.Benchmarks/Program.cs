using BenchmarkDotNet.Running;
using Sensing.Benchmarks;

// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- --filter '*' [--job short]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- --check-allocations
if (args is ["--check-allocations"])
{
    return AllocationCheck.Run();
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
