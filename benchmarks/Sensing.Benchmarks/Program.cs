using BenchmarkDotNet.Running;
using Sensing.Benchmarks;

// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- --filter '*' [--job short]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- --check-allocations
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- store-load --seconds 30 --batch 5000 [--Store:Kind=influxdb ...]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- signalr-load --clients 1000 --alerts 20 [--instances 2] [--url … --mqtt …]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- broker-load --qos 1 --messages 300000 [--rate 0] [--receive-maximum 10000]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- e2e [--quick] [--runs 3] [--out DIR]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- registry-memory [--communities 40]
// dotnet run -c Release --project benchmarks/Sensing.Benchmarks -- soak [--quick] [--communities 40] [--days 7] [--speed 300] [--out DIR]
if (args is ["--check-allocations"])
{
    return AllocationCheck.Run();
}
if (args is ["store-load", ..])
{
    return await StoreLoadCommand.RunAsync(args[1..]);
}
if (args is ["registry-memory", ..])
{
    return RegistryMemoryCommand.Run(args[1..]);
}
if (args is ["broker-load", ..])
{
    return await BrokerLoadCommand.RunAsync(args[1..]);
}
if (args is ["signalr-load", ..])
{
    return await SignalRLoadCommand.RunAsync(args[1..]);
}
if (args is ["cockpit-host", ..])
{
    return await CockpitHostCommand.RunAsync(args[1..]);
}
if (args is ["ingest-host", ..])
{
    return await IngestHostCommand.RunAsync(args[1..]);
}
if (args is ["soak", ..])
{
    return await SoakCommand.RunAsync(args[1..]);
}
if (args is ["e2e", ..])
{
    return await E2eCommand.RunAsync(args[1..]);
}
// The e2e command's children: the whole service, and the embedded broker alone.
if (args is ["service-host", ..])
{
    return await ServiceHostCommand.RunAsync(args[1..]);
}
if (args is ["broker-host", ..])
{
    return await BrokerHostCommand.RunAsync(args[1..]);
}

// Not typeof(Program): the cockpit, referenced through Sensing.Testing for broker-load, has a Program too.
BenchmarkSwitcher.FromAssembly(typeof(StoreLoadCommand).Assembly).Run(args);
return 0;
