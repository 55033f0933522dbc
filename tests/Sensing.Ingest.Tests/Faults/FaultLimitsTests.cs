using System.ComponentModel.DataAnnotations;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Tests.Faults;

/// <summary>The fault limits' own rules, fast: who the broker's rate limit applies to, and which settings stop the start.</summary>
public sealed class FaultLimitsTests
{
    private static BrokerAccess Access(BrokerOptions options) => new(options, new DeviceRegistry(), new ServiceCredential("sensing-ingest"));

    private static int Accepted(BrokerAccess access, BrokerIdentity identity, string topic, int attempts) =>
        Enumerable.Range(0, attempts).Count(_ => access.RateRefusal(identity, topic) is null);

    [Fact]
    public void A_device_gets_its_burst_then_is_refused_with_a_reason_and_counted()
    {
        var access = Access(new BrokerOptions { MaxMessagesPerSecondPerDevice = 0.001, MessageBurstPerDevice = 50 });
        var device = new BrokerIdentity("c1-gate-01", BrokerIdentityKind.Device, ["sensing/c1/gate/c1-gate-01"], false);
        Assert.Equal(50, Accepted(access, device, "sensing/c1/gate/c1-gate-01", 500));
        Assert.Equal(450, access.Refusals("rate"));
        Assert.Contains("device c1-gate-01 on sensing/c1/gate/c1-gate-01 publishes faster than Broker:MaxMessagesPerSecondPerDevice", access.RateRefusal(device, "sensing/c1/gate/c1-gate-01"));
        // Another device has its own bucket.
        Assert.Equal(50, Accepted(access, device with { Username = "c1-gate-02" }, "sensing/c1/gate/c1-gate-02", 60));
        // So has each device behind a gateway's credential: one busy sensor does not silence the others.
        var gateway = new BrokerIdentity("z2m-gateway", BrokerIdentityKind.Device, ["zigbee2mqtt/#"], false);
        Assert.Equal(50, Accepted(access, gateway, "zigbee2mqtt/kitchen-plug", 60));
        Assert.Equal(50, Accepted(access, gateway, "zigbee2mqtt/hall-door", 60));
    }

    [Fact]
    public void The_service_users_and_by_default_anonymous_clients_are_not_limited_and_zero_turns_it_off()
    {
        var access = Access(new BrokerOptions { MaxMessagesPerSecondPerDevice = 0.001, MessageBurstPerDevice = 10 });
        Assert.Equal(100, Accepted(access, new BrokerIdentity("sensing-service", BrokerIdentityKind.Service, null, true), "sensing/c1/gate/x", 100));
        Assert.Equal(100, Accepted(access, new BrokerIdentity("simulator", BrokerIdentityKind.User, ["sensing/#"], false), "sensing/c1/gate/x", 100));
        Assert.Equal(100, Accepted(access, new BrokerIdentity("", BrokerIdentityKind.Anonymous, null, true), "sensing/c1/gate/x", 100));

        var anonymousLimited = Access(new BrokerOptions { MaxMessagesPerSecondPerDevice = 0.001, MessageBurstPerDevice = 10, RateLimitAnonymous = true });
        var anonymous = new BrokerIdentity("", BrokerIdentityKind.Anonymous, null, true);
        Assert.Equal(10, Accepted(anonymousLimited, anonymous, "sensing/c1/gate/a", 100));
        Assert.Equal(10, Accepted(anonymousLimited, anonymous, "sensing/c1/gate/b", 100));

        var off = Access(new BrokerOptions { MaxMessagesPerSecondPerDevice = 0, MessageBurstPerDevice = 1 });
        Assert.Equal(100, Accepted(off, new BrokerIdentity("c1-gate-01", BrokerIdentityKind.Device, null, false), "sensing/c1/gate/c1-gate-01", 100));
    }

    [Theory]
    [InlineData(nameof(IngestOptions.MaxClockAheadSeconds), -1)]
    [InlineData(nameof(IngestOptions.MaxClockBehindSeconds), -60)]
    public void A_negative_clock_bound_stops_the_start(string key, int value)
    {
        var options = new IngestOptions();
        typeof(IngestOptions).GetProperty(key)!.SetValue(options, value);
        var problems = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true));
        Assert.Contains(problems, p => p.MemberNames.Contains(key));
    }

    [Fact]
    public void Broker_limits_out_of_range_stop_the_start()
    {
        var options = new BrokerOptions { MaxMessagesPerSecondPerDevice = -1, MessageBurstPerDevice = 0, MaxPendingMessagesPerClient = 10 };
        var problems = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true));
        Assert.Equal(
            [nameof(BrokerOptions.MaxMessagesPerSecondPerDevice), nameof(BrokerOptions.MaxPendingMessagesPerClient), nameof(BrokerOptions.MessageBurstPerDevice)],
            problems.SelectMany(p => p.MemberNames).Order(StringComparer.Ordinal));
    }
}
