using Sensing.Analytics.Streaming;

namespace Sensing.Analytics.Tests;

public sealed class StreamingDetectorTests
{
    private static readonly DateTime T0 = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>A daily cycle of 5-minute rows with seeded noise, as a meter or a CPU gauge might show.</summary>
    private static double[] DailyCycle(int rows, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, rows).Select(i => 50 + 20 * Math.Sin(2 * Math.PI * i / 288) + 3 * random.NextDouble())];
    }

    private static double[] ScoreAll(IReadOnlyList<double> values, StreamingDetectorOptions? options = null)
    {
        var detector = new StreamingDetector(options ?? new StreamingDetectorOptions());
        return [.. values.Select((value, i) => detector.Score(T0.AddMinutes(5 * i), value))];
    }

    [Fact]
    public void Scores_are_in_0_to_1_and_the_same_rows_give_the_same_scores()
    {
        var values = DailyCycle(3000, seed: 1);
        values[2000] = 400;

        var first = ScoreAll(values);
        var second = ScoreAll(values);

        Assert.All(first, s => Assert.InRange(s, 0.0, 1.0));
        Assert.Equal(first, second);
    }

    [Fact]
    public void A_spike_far_above_anything_seen_is_the_strongest_alarm_and_raised_on_its_row()
    {
        var values = DailyCycle(3000, seed: 2);
        values[2000] = 400;

        var scores = ScoreAll(values);

        Assert.Equal(2000, Array.IndexOf(scores, scores.Max()));
        Assert.True(scores[2000] > 0.9, $"spike scored {scores[2000]}");
    }

    [Fact]
    public void A_jump_to_a_new_level_raises_one_alarm_not_one_per_row()
    {
        var values = DailyCycle(3000, seed: 3);
        for (var i = 2000; i < values.Length; i++)
        {
            values[i] += 150;
        }

        var scores = ScoreAll(values);

        var strongest = Array.IndexOf(scores, scores.Max());
        Assert.InRange(strongest, 2000, 2005);
        // The shifted level stays strange for a while; it is still one event, reported once.
        var threshold = scores.Take(2000).Max();
        Assert.Equal(1, scores.Skip(2000).Take(100).Count(s => s > threshold));
    }

    [Fact]
    public void A_steady_series_raises_no_alarm()
    {
        Assert.All(ScoreAll(Enumerable.Repeat(45.0, 2000).ToArray()), s => Assert.Equal(0.0, s));
        // A noise-free daily cycle repeats shapes it has seen: after the first day nothing is new.
        var cycle = Enumerable.Range(0, 4000).Select(i => 50 + 20 * Math.Sin(2 * Math.PI * i / 288)).ToArray();
        Assert.All(ScoreAll(cycle).Skip(2 * 288), s => Assert.True(s < 0.5, $"score {s}"));
    }

    [Fact]
    public void A_score_depends_only_on_rows_up_to_it()
    {
        var values = DailyCycle(2500, seed: 4);
        values[1500] = -300;
        var full = ScoreAll(values);
        var prefix = ScoreAll(values[..1600]);
        Assert.Equal(prefix, full[..1600]);
    }

    [Fact]
    public void A_long_series_of_plain_noise_raises_fewer_alarms_late_on_with_the_length_penalty()
    {
        // Noise alone keeps producing "one in a few hundred" shapes at a steady rate per block; the penalty asks a
        // long-running series for rarer events, so the late alarms thin out while an early one is untouched.
        var random = new Random(5);
        var values = Enumerable.Range(0, 20_000).Select(_ => 10 + random.NextDouble() + random.NextDouble()).ToArray();

        var without = ScoreAll(values, new StreamingDetectorOptions { LengthPenalty = 0 });
        var with = ScoreAll(values);

        Assert.Equal(without[..600], with[..600]);
        var lateWithout = without.Skip(5000).Count(s => s > 0.5);
        var lateWith = with.Skip(5000).Count(s => s > 0.5);
        Assert.True(lateWith < lateWithout, $"late alarms: {lateWith} with the penalty, {lateWithout} without");
    }

    [Fact]
    public void Options_are_checked_and_a_value_must_be_finite()
    {
        Assert.Throws<ArgumentException>(() => new StreamingDetector(new StreamingDetectorOptions { LengthPenalty = -1 }));
        var bad = Assert.Throws<ArgumentException>(() => new StreamingDetector(new StreamingDetectorOptions { BlockRows = 0 }));
        Assert.Contains("BlockRows", bad.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new StreamingDetector(new StreamingDetectorOptions { Vigilance = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingDetector().Score(T0, double.NaN));
    }
}
