using Sensing.Analytics.EventTime;
using Sensing.Analytics.Silence;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

public sealed class SilenceWatchTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    private static readonly Dictionary<string, Device> Registry = new()
    {
        ["wm-1"] = new Device("wm-1", DeviceKind.Meter, "c1", "g1", Household: "h-1"),
        ["gate-1"] = new Device("gate-1", DeviceKind.Gate, "c1", "g2"),
        ["lot-1"] = new Device("lot-1", DeviceKind.Parking, "c2", "g9"),
    };

    private static SilenceWatch NewWatch() => new(new SilenceOptions(), id => Registry.GetValueOrDefault(id));

    /// <summary>A meter reporting every 15 minutes for two hours; returns its last reading time.</summary>
    private static DateTimeOffset ReportEvery15Minutes(SilenceWatch watch, DateTimeOffset from)
    {
        var time = from;
        for (var i = 0; i < 9; i++)
        {
            time = from.AddMinutes(15 * i);
            watch.Observe("wm-1", "c1", "g1", time);
            // The register and its consumption arrive with the same timestamp; that is no gap.
            watch.Observe("wm-1", "c1", "g1", time);
        }
        return time;
    }

    [Fact]
    public void Raised_after_four_usual_intervals_not_before()
    {
        var watch = NewWatch();
        var last = ReportEvery15Minutes(watch, T0);

        Assert.Equal(TimeSpan.FromMinutes(15), watch.UsualInterval("wm-1"));
        Assert.Empty(watch.Check(last.AddMinutes(59)));
        Assert.Empty(watch.Check(last.AddMinutes(60)));
        var alert = Assert.Single(watch.Check(last.AddMinutes(61)));

        Assert.Equal(AlertKinds.DeviceSilent, alert.Kind);
        Assert.Equal("wm-1", alert.Device);
        Assert.Equal("h-1", alert.Household);
        Assert.Equal("c1", alert.Community);
        Assert.Equal("g1", alert.Grid);
        Assert.Equal(last, alert.StartedAt);
        // Raised at the event time the device became overdue, whenever the check happened to run.
        Assert.Equal(last.AddMinutes(60), alert.RaisedAt);
        Assert.Equal(Alert.MakeId(AlertKinds.DeviceSilent, "wm-1", last), alert.Id);
        // Expected a reading every 15 min; observed none for (at least) 60: figures from the readings alone.
        var point = Assert.Single(alert.Evidence.Points);
        Assert.Equal(15, point.Expected);
        Assert.Equal(60, point.Observed);
    }

    [Fact]
    public void A_silence_no_check_caught_is_raised_by_the_reading_that_ends_it_with_the_same_alert()
    {
        var checkedWatch = NewWatch();
        var last = ReportEvery15Minutes(checkedWatch, T0);
        var caught = Assert.Single(checkedWatch.Check(last.AddMinutes(61)));
        Assert.Null(checkedWatch.Observe("wm-1", "c1", "g1", last.AddMinutes(90)));

        // The same readings, but batched so that no check ran inside the gap (a replay at another speed).
        var uncheckedWatch = NewWatch();
        ReportEvery15Minutes(uncheckedWatch, T0);
        var ended = uncheckedWatch.Observe("wm-1", "c1", "g1", last.AddMinutes(90));
        Assert.NotNull(ended);
        Assert.Equal((caught.Id, caught.StartedAt, caught.RaisedAt, caught.Evidence.Summary), (ended.Id, ended.StartedAt, ended.RaisedAt, ended.Evidence.Summary));
        Assert.Equal(caught.Evidence.Points, ended.Evidence.Points);
        Assert.Empty(uncheckedWatch.Check(last.AddMinutes(91)));
    }

    [Fact]
    public void The_alerts_do_not_depend_on_when_checks_run()
    {
        // One meter with two long gaps and one short one; checked after every reading, or only at the very end.
        var times = new List<DateTimeOffset>();
        var t = T0;
        for (var i = 0; i < 40; i++)
        {
            t = t.AddMinutes(i is 10 or 25 ? 95 : i == 30 ? 50 : 15);
            times.Add(t);
        }
        List<Alert> Run(bool checkEveryReading)
        {
            var watch = NewWatch();
            var alerts = new List<Alert>();
            foreach (var time in times)
            {
                if (watch.Observe("wm-1", "c1", "g1", time) is { } ended) alerts.Add(ended);
                if (checkEveryReading) alerts.AddRange(watch.Check(time));
            }
            alerts.AddRange(watch.Check(times[^1]));
            return alerts;
        }
        var often = Run(checkEveryReading: true);
        var never = Run(checkEveryReading: false);
        Assert.Equal(2, often.Count);
        Assert.Equal(often.Select(a => (a.Id, a.StartedAt, a.RaisedAt)), never.Select(a => (a.Id, a.StartedAt, a.RaisedAt)));
    }

    [Fact]
    public void Raised_once_per_episode_and_again_after_recovery_and_new_silence()
    {
        var watch = NewWatch();
        var last = ReportEvery15Minutes(watch, T0);

        var first = Assert.Single(watch.Check(last.AddMinutes(61)));
        Assert.Empty(watch.Check(last.AddHours(2)));
        Assert.Empty(watch.Check(last.AddHours(5)));

        // Back after five hours: the outage gap is one of ten and does not move the median.
        var back = last.AddHours(5);
        watch.Observe("wm-1", "c1", "g1", back);
        Assert.Equal(TimeSpan.FromMinutes(15), watch.UsualInterval("wm-1"));
        Assert.Empty(watch.Check(back.AddMinutes(30)));

        var second = Assert.Single(watch.Check(back.AddMinutes(61)));
        Assert.Equal(back, second.StartedAt);
        Assert.NotEqual(first.Id, second.Id);
    }

    [Fact]
    public void The_learned_interval_keeps_the_devices_milliseconds_and_caps_gaps_of_weeks()
    {
        var watch = NewWatch();
        // Gaps of 61.237, 61.241 and 61.250 s, as a meter whose clock reports milliseconds sends them: the median
        // is the middle one to the millisecond, and the silence is counted from it.
        var times = new[] { T0, T0.AddMilliseconds(61_237), T0.AddMilliseconds(61_237 + 61_241), T0.AddMilliseconds(61_237 + 61_241 + 61_250) };
        foreach (var time in times) watch.Observe("lot-1", "c2", "g9", time);
        Assert.Equal(TimeSpan.FromMilliseconds(61_241), watch.UsualInterval("lot-1"));
        // Four intervals (4 min 4.964 s) are above the 2-minute minimum, so they decide when it is silent.
        var alert = Assert.Single(watch.Check(times[^1] + TimeSpan.FromMilliseconds(4 * 61_241 + 1)));
        Assert.Equal(times[^1] + TimeSpan.FromMilliseconds(4 * 61_241), alert.RaisedAt);

        // A meter heard from once a month: its gaps are longer than whole milliseconds in an int hold (24.8 days),
        // and count as that long rather than as a wrapped-around negative gap.
        var monthly = NewWatch();
        for (var month = 0; month < 4; month++) monthly.Observe("wm-1", "c1", "g1", T0.AddDays(30 * month));
        Assert.Equal(TimeSpan.FromMilliseconds(int.MaxValue), monthly.UsualInterval("wm-1"));
        Assert.Empty(monthly.Check(T0.AddDays(90 + 99)));
        Assert.Single(monthly.Check(T0.AddDays(90 + 100)));
    }

    [Fact]
    public void A_device_without_enough_gaps_is_judged_by_its_kinds_default()
    {
        var watch = NewWatch();
        watch.Observe("gate-1", "c1", "g2", T0);

        // Gates default to 2 hours: silent after 4 × 2 = 8 hours.
        Assert.Empty(watch.Check(T0.AddMinutes(479)));
        var alert = Assert.Single(watch.Check(T0.AddMinutes(481)));
        Assert.Equal("g2", alert.Grid);
        Assert.Equal(T0.AddHours(8), alert.RaisedAt);
    }

    [Fact]
    public void A_busy_gate_is_not_silent_through_a_quiet_night()
    {
        var watch = NewWatch();
        // The evening peak: a pass every 5 seconds teaches a median gap of 5 s.
        var t = T0;
        for (var i = 0; i < 20; i++, t = t.AddSeconds(5)) watch.Observe("gate-1", "c1", "g2", t);

        // Events have no rhythm: the kind's interval is a floor, so three quiet hours are not a silence...
        Assert.Equal(TimeSpan.FromHours(2), watch.UsualInterval("gate-1"));
        Assert.Empty(watch.Check(t.AddHours(3)));
        // ...while a gate that stays dead for a working day is.
        Assert.Single(watch.Check(t.AddHours(8).AddMinutes(1)));
    }

    [Fact]
    public void A_chatty_device_needs_the_minimum_silence()
    {
        var watch = NewWatch();
        for (var i = 0; i <= 20; i++) watch.Observe("lot-1", "c2", "g9", T0.AddSeconds(5 * i));
        var last = T0.AddSeconds(100);

        // Four 5-second intervals would be 20 s; the two-minute floor keeps it from flapping.
        Assert.Empty(watch.Check(last.AddSeconds(30)));
        Assert.Empty(watch.Check(last.AddSeconds(120)));
        var alert = Assert.Single(watch.Check(last.AddSeconds(120) + new SilenceOptions().CheckEvery));
        Assert.Equal("c2", alert.Community);
        Assert.Equal(last.AddSeconds(120), alert.RaisedAt);
    }

    [Fact]
    public void Every_device_is_walked_at_most_once_per_check_period_of_event_time_and_nothing_is_lost_by_it()
    {
        var watch = NewWatch();
        for (var i = 0; i <= 20; i++)
        {
            watch.Observe("lot-1", "c2", "g9", T0.AddSeconds(5 * i));
            watch.Observe("lot-2", "c2", "g9", T0.AddSeconds(5 * i));
        }
        var last = T0.AddSeconds(100);
        var period = new SilenceOptions().CheckEvery;

        // Walked at +120 s (not yet silent); a second later both are overdue, but the next walk is a period later.
        Assert.Empty(watch.Check(last.AddSeconds(120)));
        Assert.Empty(watch.Check(last.AddSeconds(121)));
        Assert.Empty(watch.Check(last.AddSeconds(120) + period - TimeSpan.FromMilliseconds(1)));
        // One device reports in the meantime: its silence is judged by that reading, with the same times.
        var ended = Assert.Single(watch.Observe(new Reading("lot-2", "c2", "g9", null, Metrics.ParkingFree, last.AddSeconds(122), 1)));
        Assert.Equal(last.AddSeconds(120), ended.RaisedAt);
        // The other is found at the next walk, raised at the event time it became overdue.
        var found = Assert.Single(watch.Check(last.AddSeconds(120) + period));
        Assert.Equal("lot-1", found.Device);
        Assert.Equal(last.AddSeconds(120), found.RaisedAt);
        // A watermark that steps back is walked at once (nothing left to find here).
        Assert.Empty(watch.Check(last.AddSeconds(60)));
    }

    [Fact]
    public void An_unregistered_device_keeps_its_readings_community()
    {
        var watch = NewWatch();
        watch.Observe("cam-x", "c7", null, T0);
        watch.Observe("cam-y", "c8", "g3", T0);

        var alerts = watch.Check(T0.AddHours(2)).OrderBy(alert => alert.Device).ToList();
        Assert.Equal(["cam-x", "cam-y"], alerts.Select(alert => alert.Device));
        Assert.Equal("c7", alerts[0].Community);
        Assert.Null(alerts[0].Grid);
        Assert.Equal("c8", alerts[1].Community);
        Assert.Equal("g3", alerts[1].Grid);
    }

    [Fact]
    public void Thousands_of_devices_each_keep_their_own_interval_and_silence()
    {
        // More devices than one page of gaps (1,024), numbered in the order they first report, each with its own rhythm.
        const int devices = 3000;
        var watch = new SilenceWatch(new SilenceOptions(), id => new Device(id, DeviceKind.Meter, "c1", "g" + id[3..]));
        watch.EnsureCapacity(1000);
        static TimeSpan Every(int device) => TimeSpan.FromMinutes(10 + device % 7);
        var last = new DateTimeOffset[devices];
        // Six readings each, in time order as a live feed brings them; the first readings in reverse order of the ids.
        var feed = Enumerable.Range(0, devices).Reverse()
            .SelectMany(d => Enumerable.Range(0, 6).Select(round => (Device: d, Time: T0 + Every(d) * round)))
            .OrderBy(reading => reading.Time);
        foreach (var (d, time) in feed)
        {
            last[d] = time;
            Assert.Null(watch.Observe($"wm-{d}", "c1", "g" + d, time));
        }
        for (var d = 0; d < devices; d++) Assert.Equal(Every(d), watch.UsualInterval($"wm-{d}"));

        // The devices every 10 minutes fell silent 40 minutes after their last reading; nobody else yet.
        var alerts = watch.Check(last[0] + TimeSpan.FromMinutes(41));
        var expected = Enumerable.Range(0, devices).Where(d => d % 7 == 0).Select(d => (string?)$"wm-{d}").ToHashSet();
        Assert.Equal(expected, alerts.Select(alert => alert.Device).ToHashSet());
        Assert.All(alerts, alert => Assert.Equal("g" + alert.Device![3..], alert.Grid));
        Assert.All(alerts, alert => Assert.Equal(last[int.Parse(alert.Device![3..])], alert.StartedAt));
    }

    [Fact]
    public void A_device_only_the_hosts_clock_has_heard_of_is_not_watched()
    {
        // The host numbers every device it observes; the watch judges only the devices it was told of.
        var hostClock = new EventClock(SilenceWatch.FeedLead);
        var watch = new SilenceWatch(new SilenceOptions(), id => Registry.GetValueOrDefault(id), hostClock);
        hostClock.Observe("gate-1", T0);
        hostClock.Observe("wm-1", T0);
        watch.Observe("wm-1", "c1", "g1", T0);

        var alert = Assert.Single(watch.Check(T0.AddHours(9)));
        Assert.Equal("wm-1", alert.Device);
    }

    [Fact]
    public void Late_readings_neither_end_a_silence_nor_teach_an_interval()
    {
        var watch = NewWatch();
        var last = ReportEvery15Minutes(watch, T0);
        watch.Observe("wm-1", "c1", "g1", last.AddMinutes(-7));

        Assert.Equal(TimeSpan.FromMinutes(15), watch.UsualInterval("wm-1"));
        Assert.Single(watch.Check(last.AddMinutes(61)));
    }

    /// <summary>
    /// Forty meters reporting every 15 minutes for a day, plus <paramref name="odd"/> whose readings carry
    /// <paramref name="skew"/> on their clock; checked after each quarter hour with the plain watermark (the newest
    /// reading time seen, which is what the analytics loop passes).
    /// </summary>
    /// <param name="hostClock">A clock shared with the watch, observed here before each reading is handed on (as the analytics loop does).</param>
    private static List<Alert> DayWithOneSkewedMeter(SilenceWatch watch, string odd, TimeSpan skew, EventClock? hostClock = null)
    {
        var alerts = new List<Alert>();
        var watermark = DateTimeOffset.MinValue;
        for (var t = T0; t < T0.AddDays(1); t = t.AddMinutes(15))
        {
            for (var m = 0; m < 40; m++)
            {
                var time = t.AddSeconds(m * 7);
                hostClock?.Observe($"wm-{m:00}", time);
                if (watch.Observe($"wm-{m:00}", "c1", "g1", time) is { } ended) alerts.Add(ended);
                if (time > watermark) watermark = time;
            }
            var skewed = t.AddSeconds(300) + skew;
            hostClock?.Observe(odd, skewed);
            if (watch.Observe(odd, "c1", "g1", skewed) is { } late) alerts.Add(late);
            if (skewed > watermark) watermark = skewed;
            alerts.AddRange(watch.Check(watermark));
        }
        return alerts;
    }

    [Theory]
    [InlineData(-8 * 60)]
    [InlineData(-60)]   // exactly the meter's allowed silence
    [InlineData(-45)]
    [InlineData(-30)]   // exactly half of it
    [InlineData(-10)]
    public void A_meter_whose_clock_runs_behind_is_not_silent_while_its_readings_keep_coming(int minutes)
    {
        var watch = NewWatch();
        Assert.Empty(DayWithOneSkewedMeter(watch, "wm-late", TimeSpan.FromMinutes(minutes)));

        // When it does stop, it is found within a silence of when it was last heard from.
        var lastHeard = T0.AddDays(1).AddMinutes(-15).AddSeconds(273);
        Assert.DoesNotContain(watch.Check(lastHeard.AddMinutes(30)), a => a.Device == "wm-late");
        var alert = Assert.Single(watch.Check(lastHeard.AddMinutes(61)), a => a.Device == "wm-late");
        Assert.True(alert.RaisedAt <= lastHeard.AddMinutes(60), $"raised at {alert.RaisedAt:O}");
    }

    [Fact]
    public void A_meter_whose_clock_runs_hours_ahead_does_not_make_the_others_silent()
    {
        var watch = NewWatch();
        Assert.Empty(DayWithOneSkewedMeter(watch, "wm-fast", TimeSpan.FromHours(8)));
        // A real silence is still found: the whole feed goes quiet, and the loop moves its plain watermark (the fast
        // meter's last time) on by the wall time that passed, 65 minutes.
        var newest = T0.AddDays(1).AddMinutes(-15).AddSeconds(300).AddHours(8);
        Assert.Empty(watch.Check(newest.AddMinutes(50)));
        var alerts = watch.Check(newest.AddMinutes(65));
        Assert.Equal(40, alerts.Count);
        Assert.DoesNotContain(alerts, a => a.Device == "wm-fast");
    }

    [Theory]
    [InlineData(8 * 60)]
    [InlineData(-45)]
    [InlineData(-8 * 60)]
    public void A_watch_judging_by_its_hosts_clock_raises_what_it_raises_with_its_own(int minutes)
    {
        var own = NewWatch();
        var hostClock = new EventClock(SilenceWatch.FeedLead);
        var shared = new SilenceWatch(new SilenceOptions(), id => Registry.GetValueOrDefault(id), hostClock);
        var skew = TimeSpan.FromMinutes(minutes);

        Assert.Equal(Keys(DayWithOneSkewedMeter(own, "wm-odd", skew)), Keys(DayWithOneSkewedMeter(shared, "wm-odd", skew, hostClock)));
        Assert.Equal(41, hostClock.Devices);
        // Then the whole feed goes quiet for two hours: the same 40 or 41 silences, the same ids.
        var quiet = T0.AddDays(1).AddHours(2 + Math.Max(0, minutes / 60.0));
        var ownAlerts = Keys(own.Check(quiet));
        Assert.InRange(ownAlerts.Count, 40, 41);
        Assert.Equal(ownAlerts, Keys(shared.Check(quiet)));

        static List<(string, string?, DateTimeOffset, DateTimeOffset)> Keys(IEnumerable<Alert> alerts) =>
            [.. alerts.Select(a => (a.Id, a.Device, a.StartedAt, a.RaisedAt))];
    }

    [Fact]
    public void A_shared_clock_must_have_the_watchs_lead()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new SilenceWatch(new SilenceOptions(), id => Registry.GetValueOrDefault(id), new EventClock(TimeSpan.FromMinutes(5))));
        Assert.Contains("lead", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_backlog_uploaded_after_a_silence_ends_the_episode_without_a_second_alert()
    {
        var watch = NewWatch();
        var last = ReportEvery15Minutes(watch, T0);
        watch.Observe("gate-1", "c1", "g2", last.AddHours(3));
        var silent = Assert.Single(watch.Check(last.AddHours(3)), a => a.Device == "wm-1");
        Assert.Equal(last, silent.StartedAt);

        // The gateway comes back and uploads the three hours it kept, oldest first, then carries on.
        var alerts = new List<Alert>();
        for (var t = last.AddMinutes(15); t <= last.AddHours(3); t = t.AddMinutes(15))
        {
            if (watch.Observe("wm-1", "c1", "g1", t) is { } ended) alerts.Add(ended);
            alerts.AddRange(watch.Check(last.AddHours(3)));
        }
        Assert.Empty(alerts);
        Assert.Empty(watch.Check(last.AddHours(3).AddMinutes(30)));

        // The next silence is a new episode.
        var again = Assert.Single(watch.Check(last.AddHours(4).AddMinutes(1)));
        Assert.Equal(last.AddHours(3), again.StartedAt);
        Assert.NotEqual(silent.Id, again.Id);
    }

    [Fact]
    public void A_device_seeded_from_before_a_restart_is_judged_from_when_it_was_last_seen()
    {
        var watch = NewWatch();
        var restart = T0.AddDays(3);
        watch.Seed("wm-1", "c1", "g1", T0);           // dead for three days before the restart
        watch.Seed("gate-1", "c1", "g2", restart);
        watch.Observe("gate-1", "c1", "g2", restart.AddMinutes(1));

        var alert = Assert.Single(watch.Check(restart.AddMinutes(1)));
        Assert.Equal(("wm-1", T0, T0.AddMinutes(60)), (alert.Device, alert.StartedAt, alert.RaisedAt));
    }
}
