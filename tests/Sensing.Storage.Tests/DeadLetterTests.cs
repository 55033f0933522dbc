using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class DeadLetterTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private static DeadLetter Letter(DateTimeOffset at, string reason, byte[]? payload = null) =>
        new("sensing/c1/meter/m1", payload ?? [0x7b, 0x7d], (payload ?? [0x7b, 0x7d]).Length, at, reason, "native");

    [Fact]
    public async Task A_large_payload_is_capped_but_its_original_size_is_kept()
    {
        var payload = new byte[DeadLetter.MaxPayloadBytes + 5000];
        Random.Shared.NextBytes(payload);

        await _db.Store.WriteDeadLettersAsync([Letter(Day, "too big", payload)], CancellationToken.None).Within();

        var letter = Assert.Single(await _db.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within());
        Assert.Equal(payload.AsSpan(0, DeadLetter.MaxPayloadBytes).ToArray(), letter.Payload);
        Assert.Equal(payload.Length, letter.PayloadBytes);
        Assert.Equal(("sensing/c1/meter/m1", Day, "too big", "native"), (letter.Topic, letter.ReceivedAt, letter.Reason, letter.Format));
        Assert.Equal(TimeSpan.Zero, letter.ReceivedAt.Offset);
    }

    [Fact]
    public async Task Dead_letters_come_newest_first_filtered_by_since_and_limited()
    {
        await _db.Store.WriteDeadLettersAsync(
            [Letter(Day.AddMinutes(2), "b"), Letter(Day, "a"), Letter(Day.AddMinutes(3), "c")], CancellationToken.None).Within();
        // Shanghai local time for 00:04Z: stored and compared as UTC.
        await _db.Store.WriteDeadLettersAsync(
            [Letter(Day.AddMinutes(4).ToOffset(TimeSpan.FromHours(8)), "d")], CancellationToken.None).Within();

        Assert.Equal(["d", "c", "b", "a"], (await _db.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within()).Select(l => l.Reason));
        Assert.Equal(["d", "c", "b"], (await _db.Store.DeadLettersAsync(Day.AddMinutes(2), 10, CancellationToken.None).Within()).Select(l => l.Reason));
        Assert.Equal(["d", "c"], (await _db.Store.DeadLettersAsync(null, 2, CancellationToken.None).Within()).Select(l => l.Reason));
        Assert.Empty(await _db.Store.DeadLettersAsync(Day.AddHours(1), 10, CancellationToken.None).Within());
    }
}
