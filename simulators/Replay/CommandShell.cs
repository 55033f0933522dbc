using System.Globalization;

namespace Sensing.Simulators.Replay;

/// <summary>
/// What <c>record</c> and <c>replay</c> share around their work: the verb stripped, <c>--help</c>, bad options (exit 2
/// with the usage), Ctrl+C (exit 130), and the failures a broker or a file can cause (exit 1 with the message).
/// </summary>
internal static class CommandShell
{
    public delegate bool Parser<TSettings>(string[] args, out TSettings settings, out string? error);

    public static async Task<int> RunAsync<TSettings>(
        string verb, string usage, string[] args, Parser<TSettings> parse,
        Func<TSettings, CancellationToken, Task<int>> run, string stoppedMessage)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0] == verb)
            args = args[1..];
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.Out.WriteLine(usage);
            return 0;
        }
        if (!parse(args, out var settings, out var error))
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{verb}: {error}\n\n{usage}"));
            return 2;
        }

        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await run(settings, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"{verb}: {stoppedMessage}");
            return 130;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"{verb}: {ex.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
