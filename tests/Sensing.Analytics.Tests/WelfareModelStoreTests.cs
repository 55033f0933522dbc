using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Analytics.LivingAlone;

namespace Sensing.Analytics.Tests;

public sealed class WelfareModelStoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-model-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void A_saved_model_reloads_with_its_manifest_and_the_same_expectations()
    {
        var community = new SyntheticCommunity(20);
        var until = SyntheticCommunity.At(12, 0);
        var model = Welfare.Train(community, until);
        var store = new WelfareModelStore(_folder, NullLogger.Instance);

        Assert.Null(store.TryLoad());
        Assert.Equal(1, store.Save(model));

        // The manifest says what the model is and which data it saw.
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(store.Folder, "manifest.json"))).RootElement;
        Assert.Equal("living_alone_drop", manifest.GetProperty("detector").GetString());
        Assert.Equal(1, manifest.GetProperty("version").GetInt32());
        Assert.Equal(until, manifest.GetProperty("trained_at").GetDateTimeOffset());
        Assert.Equal(SyntheticCommunity.Start, manifest.GetProperty("data_from").GetDateTimeOffset());
        Assert.Equal(until, manifest.GetProperty("data_to").GetDateTimeOffset());
        Assert.Equal(20, manifest.GetProperty("households").GetInt32());
        Assert.True(manifest.GetProperty("training_rows").GetInt32() > 1000);
        Assert.True(manifest.GetProperty("metrics").GetProperty("holdout_rows").GetInt32() > 0);
        Assert.InRange(manifest.GetProperty("metrics").GetProperty("r_squared").GetDouble(), 0.5, 1.0);
        Assert.True(File.Exists(Path.Combine(store.Folder, manifest.GetProperty("model_file").GetString()!)));
        Assert.True(File.Exists(Path.Combine(store.Folder, manifest.GetProperty("profiles_file").GetString()!)));

        // Reloaded (as at the next start): every household, the same expected use to the last bit.
        var loaded = new WelfareModelStore(_folder, NullLogger.Instance).TryLoad();
        Assert.NotNull(loaded);
        Assert.Equal(JsonSerializer.Serialize(model.Manifest), JsonSerializer.Serialize(loaded.Manifest));
        Assert.Equal(model.Profiles.Select(p => p.Household).Order(), loaded.Profiles.Select(p => p.Household).Order());
        foreach (var household in new[] { "h-00", "h-07", "h-19" })
        {
            for (var hour = until; hour < until.AddDays(2); hour = hour.AddHours(1))
            {
                foreach (var meter in new[] { Meter.Water, Meter.Electricity })
                {
                    var before = model.Expect(model.Profile(household)!, meter, false, hour, SyntheticCommunity.Shanghai);
                    var after = loaded.Expect(loaded.Profile(household)!, meter, false, hour, SyntheticCommunity.Shanghai);
                    Assert.Equal(before, after);
                }
            }
        }
    }

    [Fact]
    public void Versions_count_up_the_newest_few_are_kept_and_a_damaged_manifest_means_training_again()
    {
        var model = Welfare.Train(new SyntheticCommunity(20), SyntheticCommunity.At(6, 0));
        var store = new WelfareModelStore(_folder, NullLogger.Instance);

        Assert.Equal([1, 2, 3, 4], Enumerable.Range(0, 4).Select(_ => store.Save(model)));
        Assert.Equal(["v2", "v3", "v4"], Directory.GetDirectories(store.Folder).Select(Path.GetFileName).Order());
        Assert.Equal(4, store.TryLoad()!.Manifest.Version);

        File.WriteAllText(Path.Combine(store.Folder, "manifest.json"), "{ not json");
        Assert.Null(store.TryLoad());
        // The folders still tell which versions are taken.
        Assert.Equal(5, store.Save(model));
        Assert.Equal(5, store.TryLoad()!.Manifest.Version);
    }
}
