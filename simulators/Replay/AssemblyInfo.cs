using System.Runtime.CompilerServices;

// The replay engine and the timestamp shifter are internal; their tests drive them directly.
[assembly: InternalsVisibleTo("Sensing.Simulators.Tests")]
