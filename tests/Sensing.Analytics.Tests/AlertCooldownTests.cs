using Sensing.Analytics.Alerting;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

public sealed class AlertCooldownTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 2, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_first_trigger_is_raised_and_the_rest_of_the_episode_is_held_back()
    {
        var cooldown = new AlertCooldown(TimeSpan.FromMinutes(30));

        Assert.True(cooldown.Admit(AlertKinds.GateForced, "gate-1", T0));
        // The window slides: a trigger every 20 minutes for two hours keeps it one episode.
        for (var i = 1; i <= 6; i++) Assert.False(cooldown.Admit(AlertKinds.GateForced, "gate-1", T0.AddMinutes(20 * i)));
        Assert.Equal(6, cooldown.Held(AlertKinds.GateForced, "gate-1"));

        // Quiet for the whole cool-down: the next trigger is news again.
        Assert.True(cooldown.Admit(AlertKinds.GateForced, "gate-1", T0.AddMinutes(120 + 30)));
        Assert.Equal(0, cooldown.Held(AlertKinds.GateForced, "gate-1"));
    }

    [Fact]
    public void Kinds_and_subjects_cool_down_separately()
    {
        var cooldown = new AlertCooldown(TimeSpan.FromHours(1));
        Assert.True(cooldown.Admit(AlertKinds.GateForced, "gate-1", T0));
        Assert.True(cooldown.Admit(AlertKinds.GateHeldOpen, "gate-1", T0));
        Assert.True(cooldown.Admit(AlertKinds.GateForced, "gate-2", T0));
        Assert.False(cooldown.Admit(AlertKinds.GateForced, "gate-1", T0.AddMinutes(59)));
    }

    [Fact]
    public void A_late_trigger_belongs_to_the_episode_already_known()
    {
        var cooldown = new AlertCooldown(TimeSpan.FromMinutes(10));
        Assert.True(cooldown.Admit(AlertKinds.CameraEvent, "cam-1/lobby/fire", T0));
        Assert.False(cooldown.Admit(AlertKinds.CameraEvent, "cam-1/lobby/fire", T0.AddHours(-1)));
        // …and does not pull the window back: ten minutes after the real one, the subject is quiet.
        Assert.True(cooldown.Admit(AlertKinds.CameraEvent, "cam-1/lobby/fire", T0.AddMinutes(10)));
    }

    [Fact]
    public void Subjects_quiet_for_the_cool_down_are_forgotten_and_admitted_as_before()
    {
        var cooldown = new AlertCooldown(TimeSpan.FromMinutes(10));
        cooldown.Admit(AlertKinds.GateForced, "gate-1", T0);
        cooldown.Admit(AlertKinds.GateForced, "gate-2", T0.AddMinutes(5));

        cooldown.Forget(T0.AddMinutes(12));
        Assert.Equal(1, cooldown.Count);
        Assert.True(cooldown.Admit(AlertKinds.GateForced, "gate-1", T0.AddMinutes(12)));
        Assert.False(cooldown.Admit(AlertKinds.GateForced, "gate-2", T0.AddMinutes(13)));
    }
}
