using System.Globalization;
using MQTTnet.Protocol;

namespace Sensing.Simulators.Simulate;

/// <summary>The parsed command line of <c>simulate</c> (see <see cref="SimulateCommand.Help"/>).</summary>
internal sealed record SimulateOptions
{
    public WorldOptions World { get; init; } = new();
    public FaultRates Faults { get; init; } = new();
    public FeedCadence Cadence { get; init; } = FeedCadence.Default;
    public TimeSpan Duration { get; init; } = TimeSpan.FromDays(1);
    public DateTimeOffset? Start { get; init; }
    /// <summary>Event time runs this many times faster than wall time; null: as fast as the sink takes it.</summary>
    public double? Speed { get; init; } = 1;
    public bool SpeedGiven { get; init; }
    /// <summary>Cap on messages per wall-clock second; 0 for none.</summary>
    public double Rate { get; init; }
    public int Seed { get; init; } = 2026;
    public string Format { get; init; } = "native";
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 1883;
    public string? Username { get; init; }
    public string? Password { get; init; }
    public MqttQualityOfServiceLevel Qos { get; init; } = MqttQualityOfServiceLevel.AtLeastOnce;
    public string? ClientId { get; init; }
    public string Scenario { get; init; } = "none";
    public string? TruthOut { get; init; }
    public string? RegistryOut { get; init; }
    public bool DryRun { get; init; }
    public string? Out { get; init; }
    public bool Help { get; init; }

    /// <summary>Parses the arguments after <c>simulate</c>; throws <see cref="FormatException"/> with a message for the user.</summary>
    public static SimulateOptions Parse(IReadOnlyList<string> args)
    {
        var options = new SimulateOptions();
        var world = options.World;
        var faults = options.Faults;
        var cadence = options.Cadence;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value");
            int Int(int min) => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n : throw new FormatException($"{name} must be a whole number ≥ {min}");
            double Fraction() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x is >= 0 and <= 1
                ? x : throw new FormatException($"{name} must be a fraction between 0 and 1");
            switch (name)
            {
                case "-h" or "--help": options = options with { Help = true }; break;
                case "--communities": world = world with { Communities = Int(1) }; break;
                case "--households": world = world with { Households = Int(0) }; break;
                case "--cameras": world = world with { Cameras = Int(0) }; break;
                case "--gates": world = world with { Gates = Int(0) }; break;
                case "--lots": world = world with { Lots = Int(0) }; break;
                case "--grids": world = world with { Grids = Int(1) }; break;
                case "--duration":
                    var duration = Durations.Parse(Value());
                    options = duration > TimeSpan.Zero ? options with { Duration = duration } : throw new FormatException("--duration must be positive");
                    break;
                case "--start":
                    options = options with
                    {
                        Start = DateTimeOffset.TryParse(Value(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var start)
                            ? start : throw new FormatException("--start must be an RFC 3339 time, e.g. 2026-11-01T00:00:00+08:00"),
                    };
                    break;
                case "--speed":
                    var speed = Value();
                    options = options with
                    {
                        SpeedGiven = true,
                        Speed = speed == "max" ? null
                            : double.TryParse(speed, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s
                            : throw new FormatException("--speed must be a positive number or 'max'"),
                    };
                    break;
                case "--rate":
                    options = options with
                    {
                        Rate = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r >= 0
                            ? r : throw new FormatException("--rate must be messages per second (0 for no cap)"),
                    };
                    break;
                case "--seed": options = options with { Seed = int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : throw new FormatException("--seed must be a whole number") }; break;
                case "--format":
                    var format = Value();
                    options = Array.IndexOf(FeedFormats.Names, format) >= 0 ? options with { Format = format }
                        : throw new FormatException($"--format '{format}' is not supported (today: {string.Join(", ", FeedFormats.Names)}; vendor formats come with ingest's vendor normalizers)");
                    break;
                case "--host": options = options with { Host = Value() }; break;
                case "--port": options = options with { Port = Int(1) is var port and <= 65535 ? port : throw new FormatException("--port must be 1–65535") }; break;
                case "--username": options = options with { Username = Value() }; break;
                case "--password": options = options with { Password = Value() }; break;
                case "--qos":
                    options = options with
                    {
                        Qos = Value() switch
                        {
                            "0" => MqttQualityOfServiceLevel.AtMostOnce,
                            "1" => MqttQualityOfServiceLevel.AtLeastOnce,
                            _ => throw new FormatException("--qos must be 0 or 1"),
                        },
                    };
                    break;
                case "--client-id": options = options with { ClientId = Value() }; break;
                case "--scenario": options = options with { Scenario = Value() }; break;
                case "--truth-out": options = options with { TruthOut = Value() }; break;
                case "--registry-out": options = options with { RegistryOut = Value() }; break;
                case "--dry-run": options = options with { DryRun = true }; break;
                case "--out": options = options with { Out = Value() }; break;
                case "--meter-every": cadence = cadence with { MeterEvery = Durations.Parse(Value()) }; break;
                case "--lot-every": cadence = cadence with { LotEvery = Durations.Parse(Value()) }; break;
                case "--heartbeat-every": cadence = cadence with { HeartbeatEvery = Durations.Parse(Value()) }; break;
                case "--detection-factor":
                    cadence = cadence with
                    {
                        DetectionFactor = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var factor)
                            ? factor : throw new FormatException("--detection-factor must be a number (1 = the default rate)"),
                    };
                    break;
                case "--no-faults": faults = FaultRates.None; break;
                case "--silent-rate": faults = faults with { Silent = Fraction() }; break;
                case "--flapping-rate": faults = faults with { Flapping = Fraction() }; break;
                case "--skew-rate": faults = faults with { ClockSkew = Fraction() }; break;
                case "--reset-rate": faults = faults with { CounterReset = Fraction() }; break;
                case "--malformed-rate": faults = faults with { Malformed = Fraction() }; break;
                case "--loss-rate": faults = faults with { Loss = Fraction() }; break;
                default: throw new FormatException($"unknown option '{name}'");
            }
        }
        if (options.Out is not null && !options.DryRun)
            throw new FormatException("--out writes messages to a file instead of a broker: use it with --dry-run");
        try
        {
            world.Validate();
            faults.Validate();
            cadence.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new FormatException(ex.Message);
        }
        return options with { World = world, Faults = faults, Cadence = cadence };
    }
}
