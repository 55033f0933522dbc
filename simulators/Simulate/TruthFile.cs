using System.Text.Json;
using Sensing.Telemetry;

namespace Sensing.Simulators.Simulate;

/// <summary>
/// The ground truth the analytics evaluation reads: one JSON object per line, every field present (null when
/// not applicable), times RFC 3339 in UTC like every time the service stores:
/// <code>{"subject":"h-c1-0042","kind":"living_alone_drop","community":"c1","grid":"g1","household":"h-c1-0042","device":null,"onset":"2026-10-31T18:00:00Z","end":"2026-11-01T06:00:00Z","depth":0.05,"expect_alert":true}</code>
/// </summary>
internal static class TruthFile
{
    public static void Write(string path, IReadOnlyList<Incident> truth)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        Write(stream, truth);
    }

    public static void Write(Stream stream, IReadOnlyList<Incident> truth)
    {
        using var json = new Utf8JsonWriter(stream);
        foreach (var incident in truth)
        {
            json.WriteStartObject();
            json.WriteString("subject", incident.Subject);
            json.WriteString("kind", incident.Kind);
            json.WriteString("community", incident.Community);
            WriteNullable(json, "grid", incident.Grid);
            WriteNullable(json, "household", incident.Household);
            WriteNullable(json, "device", incident.Device);
            json.WriteString("onset", incident.Onset.UtcDateTime);
            json.WriteString("end", incident.End.UtcDateTime);
            if (incident.Depth is { } depth)
                json.WriteNumber("depth", depth);
            else
                json.WriteNull("depth");
            json.WriteBoolean("expect_alert", incident.ExpectAlert);
            json.WriteEndObject();
            json.Flush();
            json.Reset();
            stream.WriteByte((byte)'\n');
        }
    }

    /// <summary>The registry the service loads from <c>Registry:Path</c>, with the holiday confounders' away spells.</summary>
    public static void WriteRegistry(string path, SimulatedWorld world, IReadOnlyList<AwaySpell> away, IFeedFormat? format = null)
    {
        var registry = world.ToRegistry(away);
        // Vendor devices are found by their source id, never created on sight: the registry must carry it.
        if (format is not null)
            registry = registry with { Devices = [.. registry.Devices.Select(d => format.Source(d.Kind, d.Id) is { } source ? d with { Source = source } : d)] };
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        JsonSerializer.Serialize(stream, registry, RegistrySnapshot.JsonOptions);
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
            json.WriteNull(name);
        else
            json.WriteString(name, value);
    }
}
