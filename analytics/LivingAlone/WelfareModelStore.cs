using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// Keeps welfare models on disk under <c>{ModelDirectory}/living_alone/</c>:
/// <code>
/// manifest.json        the current model: version, trained_at, data window, households, metrics, its two files
/// v7/model.zip         the ML.NET model (transformer chain and input schema)
/// v7/profiles.bin      every household's usual day and the population's
/// </code>
/// A save writes the version's folder first and then replaces the manifest atomically, so a crash mid-save leaves the
/// previous model in place; the two newest versions before the current one are kept for comparison, older ones removed.
/// </summary>
public sealed class WelfareModelStore
{
    private const string ProfilesMagic = "SWP1";
    private const int KeptVersions = 3;

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        // A model measured on no held-out rows has NaN metrics; say so rather than fail the save.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly string _folder;
    private readonly ILogger _logger;

    public WelfareModelStore(string modelDirectory, ILogger logger)
    {
        _folder = Path.Combine(Path.GetFullPath(modelDirectory), "living_alone");
        _logger = logger;
    }

    public string Folder => _folder;

    private string ManifestPath => Path.Combine(_folder, "manifest.json");

    /// <summary>The current model, or null when there is none or it cannot be read (logged: the detector then trains afresh).</summary>
    public WelfareModel? TryLoad()
    {
        if (!File.Exists(ManifestPath)) return null;
        try
        {
            var manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllBytes(ManifestPath), s_json)
                ?? throw new InvalidDataException("the manifest is JSON null");
            if (manifest.Format != ModelManifest.CurrentFormat)
                throw new InvalidDataException($"format {manifest.Format}, this build reads {ModelManifest.CurrentFormat}");
            ExpectedConsumptionModel expected;
            using (var stream = File.OpenRead(Path.Combine(_folder, manifest.ModelFile)))
                expected = ExpectedConsumptionModel.Load(stream);
            using var profiles = File.OpenRead(Path.Combine(_folder, manifest.ProfilesFile));
            var (prior, households) = ReadProfiles(profiles);
            _logger.LogInformation("Loaded welfare model v{Version} trained at {TrainedAt:O} on {Households} households ({From:O} to {To:O})",
                manifest.Version, manifest.TrainedAt, manifest.Households, manifest.DataFrom, manifest.DataTo);
            return new WelfareModel(expected, prior, households, manifest);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or JsonException or UnauthorizedAccessException or EndOfStreamException)
        {
            _logger.LogWarning(ex, "Could not load the welfare model in {Folder}; it will be trained again from the store", _folder);
            return null;
        }
    }

    /// <summary>Saves the model as the next version and makes it current; returns the version.</summary>
    public int Save(WelfareModel model)
    {
        Directory.CreateDirectory(_folder);
        var version = CurrentVersion() + 1;
        var versionFolder = $"v{version}";
        var target = Path.Combine(_folder, versionFolder);
        // A folder of that name can only be the leftover of a save that crashed before its manifest.
        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        Directory.CreateDirectory(target);
        using (var stream = File.Create(Path.Combine(target, "model.zip")))
            model.Expected.Save(stream);
        using (var stream = File.Create(Path.Combine(target, "profiles.bin")))
            WriteProfiles(stream, model.Prior, model.Profiles);

        var manifest = model.Manifest with
        {
            Version = version,
            ModelFile = $"{versionFolder}/model.zip",
            ProfilesFile = $"{versionFolder}/profiles.bin",
        };
        var temporary = ManifestPath + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(manifest, s_json));
        File.Move(temporary, ManifestPath, overwrite: true);
        model.Manifest = manifest;
        RemoveOldVersions(version);
        return version;
    }

    private int CurrentVersion()
    {
        var latest = 0;
        if (File.Exists(ManifestPath))
        {
            try
            {
                latest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllBytes(ManifestPath), s_json)?.Version ?? 0;
            }
            catch (JsonException)
            {
                // A damaged manifest: the folders below still say which numbers are taken.
            }
        }
        foreach (var folder in Directory.EnumerateDirectories(_folder, "v*"))
        {
            if (int.TryParse(Path.GetFileName(folder).AsSpan(1), out var number) && number > latest) latest = number;
        }
        return latest;
    }

    private void RemoveOldVersions(int current)
    {
        foreach (var folder in Directory.EnumerateDirectories(_folder, "v*"))
        {
            if (int.TryParse(Path.GetFileName(folder).AsSpan(1), out var number) && number <= current - KeptVersions)
            {
                try { Directory.Delete(folder, recursive: true); }
                catch (IOException ex) { _logger.LogWarning(ex, "Could not remove the old welfare model {Folder}", folder); }
            }
        }
    }

    // profiles.bin: "SWP1", the prior (2 × 2 × 3 × 24 floats), the household count, then per household its id, days,
    // and per meter a presence byte, level, recent level and 3 × 24 shares. Little-endian, floats as IEEE 754.
    private static void WriteProfiles(Stream stream, PopulationPrior prior, IReadOnlyCollection<HouseholdProfile> households)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Encoding.ASCII.GetBytes(ProfilesMagic));
        foreach (var share in prior.Raw) writer.Write(share);
        writer.Write(households.Count);
        foreach (var household in households.OrderBy(h => h.Household, StringComparer.Ordinal))
        {
            writer.Write(household.Household);
            writer.Write(household.Days);
            foreach (var usual in new[] { household.Water, household.Electricity })
            {
                writer.Write(usual is not null);
                if (usual is null) continue;
                writer.Write(usual.Level);
                writer.Write(usual.Recent);
                foreach (var share in usual.Shares) writer.Write(share);
            }
        }
    }

    private static (PopulationPrior Prior, Dictionary<string, HouseholdProfile> Households) ReadProfiles(Stream stream)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        if (Encoding.ASCII.GetString(reader.ReadBytes(4)) != ProfilesMagic) throw new InvalidDataException("not a welfare profiles file");
        var prior = new float[2 * 2 * 3 * 24];
        for (var i = 0; i < prior.Length; i++) prior[i] = reader.ReadSingle();
        var count = reader.ReadInt32();
        if (count < 0) throw new InvalidDataException($"a negative household count ({count})");
        var households = new Dictionary<string, HouseholdProfile>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var id = reader.ReadString();
            var days = reader.ReadSingle();
            var meters = new MeterProfile?[2];
            for (var m = 0; m < 2; m++)
            {
                if (!reader.ReadBoolean()) continue;
                var level = reader.ReadSingle();
                var recent = reader.ReadSingle();
                var shares = new float[3 * 24];
                for (var k = 0; k < shares.Length; k++) shares[k] = reader.ReadSingle();
                meters[m] = new MeterProfile(level, recent, shares);
            }
            households[id] = new HouseholdProfile(id, days, meters[0], meters[1]);
        }
        return (new PopulationPrior(prior), households);
    }
}
