using System.Text.Json;

namespace Sensing.Analytics.Nab;

/// <summary>
/// One NAB application profile: the weights of a true positive (the earliest detection in a window), a false
/// positive (a detection outside every window) and a false negative (a window with no detection at all).
/// NAB's true-negative weight is part of its file format but never used in the score.
/// </summary>
public sealed record NabProfile(string Name, double TpWeight, double FpWeight, double FnWeight)
{
    public static NabProfile Standard { get; } = new("standard", 1.0, 0.11, 1.0);
    public static NabProfile RewardLowFp { get; } = new("reward_low_FP_rate", 1.0, 0.22, 1.0);
    public static NabProfile RewardLowFn { get; } = new("reward_low_FN_rate", 1.0, 0.11, 2.0);

    /// <summary>NAB's three published profiles, in its own order.</summary>
    public static IReadOnlyList<NabProfile> Published { get; } = [Standard, RewardLowFp, RewardLowFn];

    /// <summary>
    /// Reads NAB's <c>config/profiles.json</c>:
    /// <c>{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}, …}</c>.
    /// </summary>
    public static IReadOnlyList<NabProfile> Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var profiles = new List<NabProfile>();
        foreach (var profile in document.RootElement.EnumerateObject())
        {
            if (!profile.Value.TryGetProperty("CostMatrix", out var costs))
            {
                throw new InvalidDataException($"{path}: profile '{profile.Name}' has no CostMatrix");
            }
            profiles.Add(new NabProfile(profile.Name, Weight(costs, "tpWeight"), Weight(costs, "fpWeight"), Weight(costs, "fnWeight")));

            double Weight(JsonElement matrix, string name) =>
                matrix.TryGetProperty(name, out var weight) && weight.ValueKind == JsonValueKind.Number
                    ? weight.GetDouble()
                    : throw new InvalidDataException($"{path}: profile '{profile.Name}' has no number '{name}'");
        }
        return profiles;
    }
}
