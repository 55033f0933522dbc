using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using Sensing.Testing;

namespace Sensing.Ingest.Tests.Brokers;

/// <summary>What the broker tests publish and how they read back what the service stored.</summary>
internal static class BrokerFeed
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Gate passes of community <paramref name="community"/>, one per millisecond from <paramref name="start"/> over ten
    /// gates: every message is one reading with its own timestamp, so a set of stored times is a set of messages.
    /// </summary>
    public static List<(string Topic, byte[] Payload)> GatePasses(string community, DateTimeOffset start, int first, int count)
    {
        var messages = new List<(string, byte[])>(count);
        for (var i = first; i < first + count; i++)
        {
            var ts = start.AddMilliseconds(i).ToUnixTimeMilliseconds();
            messages.Add(($"sensing/{community}/gate/{community}-gate-{i % 10:D2}",
                Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"ts":{{ts}},"event":"pass","direction":"in"}"""))));
        }
        return messages;
    }

    /// <summary>A recent start, whole milliseconds, well inside the store's raw retention.</summary>
    public static DateTimeOffset RecentStart() => DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeMilliseconds());

    /// <summary>The times of every gate pass the host stored for <paramref name="community"/>.</summary>
    public static async Task<HashSet<DateTimeOffset>> StoredPassesAsync(SensingTestHost host, string community, DateTimeOffset start)
    {
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var points = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, start.AddDays(-1), start.AddDays(1), Community: community, Limit: 1_000_000), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(60));
        return [.. points.Select(p => p.Time)];
    }

    /// <summary>How many gate passes the host stored for <paramref name="community"/> (a count query, cheap to poll).</summary>
    public static async Task<long> StoredPassCountAsync(SensingTestHost host, string community, DateTimeOffset start)
    {
        var store = host.App.Services.GetRequiredService<IReadingStore>();
        var buckets = await store.QueryAsync(new ReadingQuery(Metrics.GatePass, start.AddDays(-1), start.AddDays(1), Community: community,
            Every: TimeSpan.FromDays(3650), Aggregation: Aggregation.Count), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return (long)buckets.Sum(b => b.Value);
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Long);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out after {(timeout ?? Long).TotalSeconds:0} s waiting for {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>Polls /healthz until its <c>mqtt</c> object satisfies <paramref name="condition"/>; returns that answer.</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body)> HealthUntilAsync(SensingTestHost host, Func<HttpStatusCode, JsonElement, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Long);
        while (true)
        {
            var (status, body) = await host.HealthAsync().WaitAsync(TimeSpan.FromSeconds(30));
            if (condition(status, body.GetProperty("mqtt"))) return (status, body);
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for {what}; last /healthz ({(int)status}): {body}");
            await Task.Delay(100);
        }
    }

    public static async Task<IMqttClient[]> PublishersAsync(MosquittoServer broker, string name, int count, bool tls = false, string? user = null, string? password = null)
    {
        var clients = new IMqttClient[count];
        for (var i = 0; i < count; i++) clients[i] = await broker.ConnectClientAsync($"{name}-{i}", tls, user, password);
        return clients;
    }

    public static void Dispose(IEnumerable<IMqttClient> clients)
    {
        foreach (var client in clients) client.Dispose();
    }
}
