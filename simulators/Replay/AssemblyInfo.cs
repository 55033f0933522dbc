using System.Runtime.CompilerServices;

// The replay engine and the timestamp shifter are internal; their tests drive them directly.
[assembly: InternalsVisibleTo("Sensing.Simulators.Tests")]
// The facility detectors are evaluated on a simulated run generated in process.
[assembly: InternalsVisibleTo("Sensing.Analytics.Tests")]
