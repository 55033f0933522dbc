using Sensing.Analytics.Norms;

namespace Sensing.Analytics.Tests;

public sealed class RecentMediansTests
{
    [Theory]
    [InlineData(15)]
    [InlineData(4)]
    [InlineData(1)]
    public void Each_subjects_median_follows_its_own_values_across_pages(int capacity)
    {
        // Subjects on either side of the 1,024-subject page boundaries, and one far out, added to in random order.
        int[] subjects = [0, 1, 1023, 1024, 1025, 2047, 5000, 176_279];
        var medians = new RecentMedians<int>(capacity);
        medians.EnsureCapacity(2000);
        var held = subjects.ToDictionary(subject => subject, _ => new List<double>());
        var random = new Random(20261126);
        for (var i = 0; i < 2000; i++)
        {
            var subject = subjects[random.Next(subjects.Length)];
            var value = random.Next(0, 100_000);
            medians.Add(subject, value);
            var values = held[subject];
            values.Add(value);
            if (values.Count > capacity) values.RemoveAt(0);

            foreach (var (other, otherValues) in held)
            {
                Assert.Equal(otherValues.Count, medians.Count(other));
                if (otherValues.Count > 0) Assert.Equal(Expected(otherValues), medians.Median(other));
            }
        }
        Assert.Equal(0, medians.Count(3));
        Assert.Equal(0, medians.Count(1_000_000));
    }

    private static double Expected(List<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
