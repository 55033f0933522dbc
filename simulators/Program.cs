namespace Sensing.Simulators;

public static class SimulatorsCommandLine
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: simulators simulate ...");
        return 2;
    }
}
