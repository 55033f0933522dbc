using Sensing.Analytics.LivingAlone;

namespace Sensing.Analytics.Tests;

public sealed class ExpectedConsumptionModelTests
{
    /// <summary>Rows whose label follows the share, with noise; enough for a real ensemble.</summary>
    internal static List<UsageRow> Rows(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new List<UsageRow>(count);
        for (var i = 0; i < count; i++)
        {
            var row = new UsageRow();
            var f = row.Features;
            f[UsageFeatures.HourOfDay] = random.Next(24);
            f[UsageFeatures.IsWeekend] = random.Next(7) >= 5 ? 1 : 0;
            f[UsageFeatures.IsElectricity] = random.Next(2);
            f[UsageFeatures.IsElderly] = random.Next(10) == 0 ? 1 : 0;
            f[UsageFeatures.Share] = (float)(0.1 + 2.5 * random.NextDouble());
            f[UsageFeatures.ShareAll] = f[UsageFeatures.Share] * (float)(0.8 + 0.4 * random.NextDouble());
            f[UsageFeatures.PriorShare] = (float)(0.1 + 2.5 * random.NextDouble());
            f[UsageFeatures.Recent] = (float)(0.7 + 0.6 * random.NextDouble());
            f[UsageFeatures.OwnWeight] = random.Next(3) == 0 ? (float)random.NextDouble() : 1;
            row.Label = f[UsageFeatures.Share] * f[UsageFeatures.Recent] * (float)(0.7 + 0.6 * random.NextDouble());
            rows.Add(row);
        }
        return rows;
    }

    [Fact]
    public void The_compiled_trees_give_what_ml_net_gives()
    {
        var model = ExpectedConsumptionModel.Train(Rows(5000, 1));
        Assert.True(model.TreeCount > 10);
        foreach (var row in Rows(500, 2))
            Assert.Equal(model.PredictThroughMlNet(row.Features), model.Predict(row.Features), 4);
    }
}
