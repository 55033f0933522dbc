using Microsoft.Extensions.Options;
using Sensing.Ingest.Mqtt;

namespace Sensing.Ingest.Tests;

/// <summary>
/// The spells without the broker that <c>/healthz</c> and the wall screen show (issue 9): since when ingest is away, and the
/// last gap once it is back. The end-to-end proof with a real mosquitto restart is <c>Faults/BrokerRestartTests</c>.
/// </summary>
public sealed class BrokerConnectionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 3, 0, 0, TimeSpan.Zero);

    private static BrokerConnection Connection() => new(Options.Create(new MqttOptions()), TimeProvider.System);

    [Fact]
    public void A_drop_shows_since_when_and_the_reconnection_records_the_gap()
    {
        var connection = Connection();
        connection.Connected(T0, sessionPresent: false, ["sensing/#"]);
        Assert.Null(connection.Status.DisconnectedSince);
        Assert.Null(connection.Status.LastGap);

        connection.Disconnected(T0.AddMinutes(1), "connection lost: broker restart");
        connection.AttemptFailed(T0.AddMinutes(1).AddSeconds(1), "connection refused");
        Assert.Equal(T0.AddMinutes(1), connection.Status.DisconnectedSince);
        Assert.Null(connection.Status.LastGap);
        Assert.Equal(1, connection.Status.Gaps);

        connection.Connected(T0.AddMinutes(1).AddSeconds(8), sessionPresent: true, ["sensing/#"]);
        var status = connection.Status;
        Assert.Null(status.DisconnectedSince);
        Assert.Equal(new BrokerGap(T0.AddMinutes(1), T0.AddMinutes(1).AddSeconds(8)), status.LastGap);
        Assert.Equal(8, status.LastGap!.Seconds);
        Assert.Equal(1, status.Gaps);
        var samples = new List<MetricSample>();
        connection.Collect(samples);
        Assert.Equal(8, samples.Single(s => s.Name == "sensing_broker_last_gap_seconds").Value);
        Assert.Equal(0, samples.Single(s => s.Name == "sensing_broker_disconnected_seconds").Value);
    }

    [Fact]
    public void Failed_attempts_before_the_first_connection_are_no_gap()
    {
        var connection = Connection();
        connection.AttemptFailed(T0, "connection refused");
        connection.Connected(T0.AddSeconds(3), sessionPresent: false, ["sensing/#"]);
        Assert.Null(connection.Status.LastGap);
        Assert.Equal(0, connection.Status.Gaps);
    }

    [Fact]
    public void The_last_gap_is_kept_through_later_connections_and_replaced_by_the_next()
    {
        var connection = Connection();
        connection.Connected(T0, false, []);
        connection.Disconnected(T0.AddSeconds(10), "lost");
        connection.Connected(T0.AddSeconds(12), true, []);
        connection.Disconnected(T0.AddSeconds(30), "lost");
        Assert.Equal(new BrokerGap(T0.AddSeconds(10), T0.AddSeconds(12)), connection.Status.LastGap);
        Assert.Equal(T0.AddSeconds(30), connection.Status.DisconnectedSince);
        connection.Connected(T0.AddSeconds(35), true, []);
        Assert.Equal(new BrokerGap(T0.AddSeconds(30), T0.AddSeconds(35)), connection.Status.LastGap);
        Assert.Equal(2, connection.Status.Gaps);
    }
}
