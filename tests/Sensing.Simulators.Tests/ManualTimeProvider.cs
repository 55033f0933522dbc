namespace Sensing.Simulators.Tests;

/// <summary>
/// A clock that only moves when told to. Timers fire synchronously inside <see cref="AdvanceToNextTimer"/>,
/// so a test can step a feed from one scheduled wake-up to the next without real waiting.
/// </summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
            return _now;
    }

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>When the earliest armed timer is due, or null when none is armed.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate)
                return _timers.Count == 0 ? null : _timers.Min(t => t.Due);
        }
    }

    /// <summary>Moves the clock to the earliest armed timer (never backwards) and fires it.</summary>
    public void AdvanceToNextTimer()
    {
        ManualTimer? timer;
        lock (_gate)
        {
            timer = _timers.Count == 0 ? null : _timers.MinBy(t => t.Due);
            if (timer is null)
                return;
            if (timer.Due > _now)
                _now = timer.Due;
            _timers.Remove(timer);
            if (timer.Period > TimeSpan.Zero && timer.Period != Timeout.InfiniteTimeSpan)
            {
                timer.Due += timer.Period;
                _timers.Add(timer);
            }
        }
        timer.Fire();
    }

    private void Arm(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
            if (dueTime == Timeout.InfiniteTimeSpan)
                return;
            timer.Due = _now + dueTime;
            timer.Period = period;
            _timers.Add(timer);
        }
    }

    private void Disarm(ManualTimer timer)
    {
        lock (_gate)
            _timers.Remove(timer);
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset Due { get; set; }
        public TimeSpan Period { get; set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            owner.Arm(this, dueTime, period);
            return true;
        }

        public void Dispose() => owner.Disarm(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
