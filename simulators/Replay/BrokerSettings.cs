using System.Globalization;
using MQTTnet;

namespace Sensing.Simulators.Replay;

/// <summary>Where <c>record</c> and <c>replay</c> connect, from <c>--host --port --client-id --username --password</c>.</summary>
internal sealed record BrokerSettings(string Host, int Port, string ClientId, string? Username, string? Password)
{
    public static readonly IReadOnlySet<string> Options = new HashSet<string> { "--host", "--port", "--client-id", "--username", "--password" };

    public const string Usage = """
          --host H            broker host (default localhost)
          --port P            broker port (default 1883)
          --client-id ID      MQTT client id (default sensing-{command}-{process id})
          --username U        user name, when the broker asks for one
          --password P        password for --username
        """;

    public static bool TryCreate(CommandArguments args, string command, out BrokerSettings settings, out string? error)
    {
        settings = null!;
        if (!args.TryInt("--port", 1883, 1, 65535, out var port, out error))
            return false;
        if (args.Value("--password") is not null && args.Value("--username") is null)
        {
            error = "--password needs --username";
            return false;
        }
        settings = new BrokerSettings(
            args.Value("--host") ?? "localhost",
            port,
            args.Value("--client-id") ?? string.Create(CultureInfo.InvariantCulture, $"sensing-{command}-{Environment.ProcessId}"),
            args.Value("--username"),
            args.Value("--password"));
        return true;
    }

    public MqttClientOptions ToClientOptions()
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(Host, Port)
            .WithClientId(ClientId)
            .WithCleanSession()
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (Username is not null)
            builder.WithCredentials(Username, Password);
        return builder.Build();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
}
