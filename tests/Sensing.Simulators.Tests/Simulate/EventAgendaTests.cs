using Sensing.Simulators.Simulate;

namespace Sensing.Simulators.Tests.Simulate;

public sealed class EventAgendaTests
{
    [Fact]
    public void Takes_keys_in_the_same_order_as_a_heap_including_same_second_and_far_future_inserts()
    {
        const int bits = 22;
        var agenda = new EventAgenda(bits);
        var heap = new PriorityQueue<long, long>();
        var random = new Random(42);
        var used = new HashSet<long>();
        void Add(long ms, int source)
        {
            var key = (ms << bits) | (uint)source;
            if (!used.Add(key))
                return;
            agenda.Enqueue(key);
            heap.Enqueue(key, key);
        }

        for (var source = 0; source < 2_000; source++)
            Add(random.NextInt64(0, 3_600_000), source);
        var taken = 0;
        while (heap.TryDequeue(out var expected, out _))
        {
            Assert.True(agenda.TryDequeue(out var actual));
            Assert.Equal(expected, actual);
            var ms = actual >> bits;
            // Reschedule like the generator: mostly soon (often within the same second), sometimes hours ahead.
            if (++taken < 20_000)
            {
                var gap = random.Next(10) switch { 0 => random.NextInt64(1, 1_000), 1 => random.NextInt64(2_000_000, 20_000_000), _ => random.NextInt64(1_000, 900_000) };
                Add(ms + gap, (int)(actual & ((1 << bits) - 1)));
            }
        }
        Assert.False(agenda.TryDequeue(out _));
    }
}
