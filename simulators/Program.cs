namespace Sensing.Simulators;

/// <summary>
/// <c>dotnet run -c Release --project simulators -- &lt;command&gt; [options]</c>: the simulators' commands.
/// Each command owns its options and its <c>--help</c>.
/// </summary>
public static class SimulatorsCommandLine
{
    private const string Usage = """
        usage: dotnet run -c Release --project simulators -- <command> [options]

        commands:
          simulate   publish a realistic feed of N communities (faults, scenarios with ground truth)
          record     record a broker's feed to a file
          replay     publish a recorded feed again, --speed N× faster

        <command> --help shows a command's options.
        """;

    public static async Task<int> Main(string[] args)
    {
        switch (args.Length == 0 ? null : args[0])
        {
            case "simulate":
                return await Simulate.SimulateCommand.RunAsync(args[1..]);
            case "record":
                return await Replay.RecordCommand.RunAsync(args[1..]);
            case "replay":
                return await Replay.ReplayCommand.RunAsync(args[1..]);
            case "-h" or "--help" or "help":
                Console.WriteLine(Usage);
                return 0;
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }
}
