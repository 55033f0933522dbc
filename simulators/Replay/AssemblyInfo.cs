using System.Runtime.CompilerServices;

// The replay engine and the timestamp shifter are internal; their tests drive them directly.
[assembly: InternalsVisibleTo("Sensing.Simulators.Tests")]
// The facility detectors are evaluated on a simulated run generated in process.
[assembly: InternalsVisibleTo("Sensing.Analytics.Tests")]
// The e2e benchmark builds its street office (world, registry, native payloads) with the simulator's own parts.
[assembly: InternalsVisibleTo("Sensing.Benchmarks")]
