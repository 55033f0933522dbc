using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;
using Sensing.Testing;
using static Sensing.Ingest.Tests.Formats.SparkplugWriter;

namespace Sensing.Ingest.Tests.Formats;

/// <summary>
/// The whole service (embedded broker, ingest, DuckDB, HTTP API) on free ports: vendor devices publish through a real
/// MQTT client as they would in a compound, and what they said is read back over the HTTP API. Times are relative to
/// now so the store's retention horizon never refuses them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VendorFormatsIntegrationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Vendor_devices_publish_through_the_broker_and_their_readings_quarantine_and_release_show_in_the_api()
    {
        await using var host = await SensingTestHost.StartAsync(new Dictionary<string, string?> { ["Ingest:BatchDelayMilliseconds"] = "10" });
        using var admin = host.Http(await host.TokenAsync("admin"));
        var hour = DateTimeOffset.UtcNow.AddHours(-3);
        var t0 = new DateTimeOffset(hour.Year, hour.Month, hour.Day, hour.Hour, 0, 0, TimeSpan.Zero);
        (await admin.PostAsJsonAsync("/api/households", new { id = "h-0042", community = "c1", grid = "g1" })).EnsureSuccessStatusCode();
        foreach (var device in new object[]
        {
            new { id = "c1-cam-front", kind = "camera", community = "c1", grid = "g2", source = "frigate:front_door" },
            new { id = "c1-em-0042", kind = "meter", community = "c1", grid = "g1", household = "h-0042", source = "tasmota:meter-17" },
            new { id = "c1-gate-north", kind = "gate", community = "c1", grid = "g2", source = "sparkplug:c1/plant1/gate2" },
        })
        {
            (await admin.PostAsJsonAsync("/api/devices", device)).EnsureSuccessStatusCode();
        }

        using var mqtt = await host.ConnectDeviceAsync("vendor-devices");
        var shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        string Local(DateTimeOffset t) => TimeZoneInfo.ConvertTime(t, shanghai).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        string Seconds(DateTimeOffset t) => (t.ToUnixTimeMilliseconds() / 1000d).ToString("R", CultureInfo.InvariantCulture);
        const string water = "application/a1/device/70b3d5e75e00beef/event/up";
        string Uplink(DateTimeOffset t, int litres) =>
            $$$"""{"time":"{{{t:yyyy-MM-ddTHH:mm:ssZ}}}","deviceInfo":{"devEui":"70b3d5e75e00beef"},"fCnt":3,"data":"AQ==","object":{"volume_l":{{{litres}}}}}""";
        (string Topic, byte[] Payload)[] messages =
        [
            ("frigate/events", Json($$$"""{"type":"new","after":{"id":"e1","camera":"front_door","label":"person","top_score":0.91,"false_positive":false,"start_time":{{{Seconds(t0.AddMinutes(5))}}},"current_zones":["driveway"]}}""")),
            ("tele/meter-17/SENSOR", Json($$$"""{"Time":"{{{Local(t0)}}}","ENERGY":{"Total":100.0}}""")),
            ("tele/meter-17/SENSOR", Json($$$"""{"Time":"{{{Local(t0.AddHours(1))}}}","ENERGY":{"Total":100.75}}""")),
            ("spBv1.0/c1/DDATA/plant1/gate2", Payload(Ms(t0.AddMinutes(7)), 0, new Metric("gate.pass/in", DataType: SpType.UInt32, Value: 1u))),
            (water, Json(Uplink(t0, 10_000))),
            (water, Json(Uplink(t0.AddHours(1), 10_250))),
            ("hikvision/ds-k1t671-e1/event", Json("""{"eventType":"AccessControllerEvent","AccessControllerEvent":{"majorEventType":"5"}}""")),
            ("zigbee2mqtt/front_door_contact", Json("""{"contact":false,"battery":90}""")),   // no canonical meaning: skipped, counted
            // A runaway gateway: 300 KB on a vendor topic is dead-lettered unread, whatever its format.
            ("frigate/events", Json("{\"type\":\"new\",\"pad\":\"" + new string('x', 300_000) + "\"}")),
        ];
        foreach (var (topic, payload) in messages)
        {
            var result = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(Timeout);
            Assert.True(result.IsSuccess, result.ReasonString);
        }

        var from = Uri.EscapeDataString(t0.AddHours(-1).ToString("O", CultureInfo.InvariantCulture));
        async Task<JsonElement[]> Points(string device, string metric)
        {
            using var json = JsonDocument.Parse(await admin.GetStringAsync($"/api/readings?device={device}&metric={metric}&from={from}"));
            return [.. json.RootElement.EnumerateArray().Select(e => e.Clone())];
        }
        await Until(async () => (await Points("c1-em-0042", "electricity.consumption")).Length == 1, "the Tasmota meter's consumption");
        await Until(async () => (await Points("c1-gate-north", "gate.pass")).Length == 1, "the Sparkplug gate pass");

        var person = Assert.Single(await Points("c1-cam-front", "camera.person"));
        Assert.Equal(t0.AddMinutes(5), person.GetProperty("t").GetDateTimeOffset());
        Assert.Equal(0.75, Assert.Single(await Points("c1-em-0042", "electricity.consumption")).GetProperty("value").GetDouble(), 9);

        // The LoRaWAN water meter nobody registered is waiting in quarantine, and /metrics says so.
        using (var quarantined = JsonDocument.Parse(await admin.GetStringAsync("/api/devices/quarantined")))
        {
            var waiting = Assert.Single(quarantined.RootElement.EnumerateArray());
            Assert.Equal("chirpstack:70b3d5e75e00beef", waiting.GetProperty("source").GetString());
            Assert.Equal(2, waiting.GetProperty("messages").GetInt64());
        }
        var metrics = await host.Http().GetStringAsync("/metrics");
        Assert.Contains("sensing_quarantined_messages_total{format=\"chirpstack\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("sensing_messages_skipped_total{format=\"zigbee2mqtt\"} 1", metrics, StringComparison.Ordinal);
        using (var letters = JsonDocument.Parse(await admin.GetStringAsync("/api/deadletters")))
        {
            var reasons = letters.RootElement.EnumerateArray().Select(l => (l.GetProperty("format").GetString(), l.GetProperty("reason").GetString())).ToList();
            Assert.Contains(("hikvision", "hikvision: AccessControllerEvent.majorEventType must be a non-negative whole number"), reasons);
            Assert.Contains(reasons, r => r.Item2!.StartsWith("payload of 300023 bytes exceeds Ingest:MaxPayloadBytes", StringComparison.Ordinal));
            Assert.Equal(2, reasons.Count(r => r.Item2!.StartsWith("quarantined: unknown device chirpstack:70b3d5e75e00beef ", StringComparison.Ordinal)));
        }

        // A source already mapped to another device is refused; registering the meter lets its quarantined uplinks in.
        var taken = await admin.PostAsJsonAsync("/api/devices", new { id = "c1-wm-other", kind = "meter", community = "c1", source = "tasmota:meter-17" });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, taken.StatusCode);
        Assert.Contains("already mapped to device c1-em-0042", await taken.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        (await admin.PostAsJsonAsync("/api/devices", new { id = "c1-wm-0042", kind = "meter", community = "c1", grid = "g1", household = "h-0042", source = "chirpstack:70b3d5e75e00beef" }))
            .EnsureSuccessStatusCode();
        await Until(async () => (await Points("c1-wm-0042", "water.consumption")).Length == 1, "the released water meter's consumption");
        Assert.Equal([10.0, 10.25], (await Points("c1-wm-0042", "water.total")).Select(p => p.GetProperty("value").GetDouble()));
        Assert.Equal(0.25, Assert.Single(await Points("c1-wm-0042", "water.consumption")).GetProperty("value").GetDouble(), 9);
        Assert.Equal("[]", await admin.GetStringAsync("/api/devices/quarantined"));
        Assert.Contains("sensing_quarantine_replayed_total 2", await host.Http().GetStringAsync("/metrics"), StringComparison.Ordinal);
        host.AssertNoLoggedErrors();
    }

    private static byte[] Json(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for {what}");
            await Task.Delay(100);
        }
    }
}
