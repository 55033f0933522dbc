namespace Sensing.Storage.Tests;

public sealed class NewestPerSeriesTests
{
    [Fact]
    public void Every_series_keeps_its_own_newest_bound_through_collisions_and_growth()
    {
        var bounds = new NewestPerSeries();
        var model = new Dictionary<int, long>();
        var random = new Random(20261126);
        // Keys as the store makes them (32-bit hashes, negative too), keys that fall on the same slot at every table
        // size (multiples of a large power of two apart), and 0, the table's empty mark.
        var keys = Enumerable.Range(0, 120_000).Select(_ => random.Next(int.MinValue, int.MaxValue))
            .Concat(Enumerable.Range(-8, 16).Select(i => i << 24))
            .Append(0).Append(int.MinValue).Append(int.MaxValue)
            .ToArray();
        for (var step = 0; step < 400_000; step++)
        {
            var key = keys[random.Next(keys.Length)];
            var micros = random.NextInt64(0, 1_000_000);
            var expected = !model.TryGetValue(key, out var known) || micros > known;
            if (expected) model[key] = micros;
            Assert.Equal(expected, bounds.Raise(key, micros));
        }

        Assert.Equal(model.Count, bounds.Series);
        foreach (var key in keys)
        {
            Assert.Equal(model.TryGetValue(key, out var expected), bounds.TryGetBound(key, out var bound));
            Assert.Equal(expected, bound);
        }
        // Keys never raised have no bound, whether their slot is empty or taken by others.
        foreach (var absent in new[] { 1 << 30, 3, -3 }.Where(key => !model.ContainsKey(key)))
        {
            Assert.False(bounds.TryGetBound(absent, out _));
        }
    }
}
