using Sensing.Analytics.Norms;

namespace Sensing.Analytics.Tests;

public sealed class RecentMedianTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(4)]
    public void The_median_follows_every_value_added_though_it_is_kept_between_adds(int capacity)
    {
        var median = new RecentMedian<int>();
        var random = new Random(20261124);
        var held = new List<double>();
        for (var i = 0; i < 300; i++)
        {
            var value = random.Next(0, 1000);
            median.Add(value, capacity);
            held.Add(value);
            if (held.Count > capacity) held.RemoveRange(0, held.Count - capacity);

            // Asked several times between adds, as the silence check does for every batch.
            for (var ask = 0; ask < 3; ask++)
            {
                Assert.Equal(Expected(held), median.Median());
            }
        }
    }

    private static double Expected(List<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
