using Sensing.Ingest.Normalization.Vendor;
using static Sensing.Ingest.Tests.Formats.VendorWorld;

namespace Sensing.Ingest.Tests.Formats;

public sealed class FrigateFormatTests
{
    private readonly VendorContext _context = VendorContext.For(NewRegistry());
    private readonly FrigateNormalizer _normalizer;

    public FrigateFormatTests() => _normalizer = new FrigateNormalizer(_context);

    /// <summary>Sample → canonical readings (or the reason it is refused; no lines and no reason: skipped on purpose).</summary>
    public static TheoryData<string, string, string[], string?> Table => new()
    {
        { "events-new-person.json", "frigate/events", ["c1-cam-front camera.person 2026-11-19T23:15:00.475377Z 1 driveway - {\"score\":0.958984375,\"frigate_id\":\"1795130100.475377-mxklsc\"}"], null },
        // The same object again (a better snapshot, a zone change) and its end: counted once, at "new".
        { "events-update-person.json", "frigate/events", [], null },
        { "events-end-person.json", "frigate/events", [], null },
        { "events-new-car.json", "frigate/events", ["c1-cam-front camera.vehicle 2026-11-19T23:16:40.500000Z 1 - - {\"score\":0.958984375,\"frigate_id\":\"1795130200.5-abc123\",\"label\":\"car\"}"], null },
        { "events-new-dog.json", "frigate/events", [], null },
        { "events-false-positive.json", "frigate/events", [], null },
        { "events-unknown-camera.json", "frigate/events", [], "quarantined: unknown device frigate:garage " },
        { "events-start-time-string.json", "frigate/events", [], "frigate: after.start_time must be Unix seconds (a number)" },
        { "events-no-after.json", "frigate/events", [], "frigate: event has no 'after' object" },
        { "events-bad-type.json", "frigate/events", [], "frigate: 'type' must be new, update or end" },
        { "events-truncated.json", "frigate/events", [], "frigate: malformed JSON: " },
        // A heartbeat for every camera: the live one online, the dark one offline, the unregistered one only listed.
        { "stats.json", "frigate/stats", ["c1-cam-front camera.online 2026-11-19T23:16:00.000000Z 1 - - -", "c1-cam-back camera.offline 2026-11-19T23:16:00.000000Z 1 - - -"], null },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Sample_gives_its_canonical_readings(string sample, string topic, string[] expected, string? reason) =>
        Expect(Run(_normalizer, topic, Sample("frigate/" + sample)), expected, reason);

    [Fact]
    public void A_redelivered_new_event_gives_the_identical_reading_so_the_store_keeps_one()
    {
        var first = Run(_normalizer, "frigate/events", Sample("frigate/events-new-person.json"));
        var again = Run(_normalizer, "frigate/events", Sample("frigate/events-new-person.json"), ReceivedAt.AddMinutes(5));

        Assert.Equal(first.Readings, again.Readings);
    }

    [Theory]
    [InlineData("frigate/front_door/person", "2", "c1-cam-front camera.person 2026-11-24T02:00:00.000000Z 2 - - -")]
    [InlineData("frigate/front_door/car", "0\n", "c1-cam-front camera.vehicle 2026-11-24T02:00:00.000000Z 0 - - -")]
    public void Object_counts_of_a_registered_camera_are_its_count_now(string topic, string payload, string expected) =>
        Expect(Run(_normalizer, topic, payload), [expected], null);

    [Theory]
    [InlineData("frigate/driveway/person", "1")]           // a zone, not a camera: nobody registered it
    [InlineData("frigate/front_door/all", "3")]
    [InlineData("frigate/front_door/motion", "ON")]
    [InlineData("frigate/front_door/detect/state", "ON")]
    [InlineData("frigate/reviews", "{}")]
    public void Other_topics_under_the_prefix_are_skipped_without_quarantine(string topic, string payload)
    {
        Expect(Run(_normalizer, topic, payload), [], null);
        Assert.Equal(0, _context.Quarantine.Count);
    }

    [Fact]
    public void A_snapshot_jpeg_is_skipped_by_topic_without_reading_its_bytes()
    {
        var jpeg = new byte[120_000];
        jpeg[0] = 0xFF;
        jpeg[1] = 0xD8;

        Expect(Run(_normalizer, "frigate/front_door/person/snapshot", jpeg), [], null);
        Assert.Equal(1, _context.Counters.SkippedOf("frigate"));
    }

    [Theory]
    [InlineData("many", "frigate: an object count must be a non-negative whole number, got 'many'")]
    [InlineData("-1", "frigate: an object count must be a non-negative whole number")]
    public void A_count_that_is_not_a_count_is_refused(string payload, string reason) =>
        Expect(Run(_normalizer, "frigate/front_door/person", payload), [], reason);

    [Fact]
    public void Frigate_going_offline_takes_every_frigate_camera_offline_and_back()
    {
        var offline = Run(_normalizer, "frigate/available", "offline");
        var online = Run(_normalizer, "frigate/available", "online");

        Assert.Equal(["c1-cam-back camera.offline 2026-11-24T02:00:00.000000Z 1 - - -", "c1-cam-front camera.offline 2026-11-24T02:00:00.000000Z 1 - - -"],
            offline.Readings.Select(Line).Order(StringComparer.Ordinal));
        Assert.Equal(2, online.Readings.Count(r => r.Metric == Metrics.CameraOnline));
        Expect(Run(_normalizer, "frigate/available", "maybe"), [], "frigate: availability must be online or offline");
    }

    [Fact]
    public void An_unknown_camera_is_quarantined_once_per_event_and_listed_from_heartbeats_without_counting()
    {
        Run(_normalizer, "frigate/events", Sample("frigate/events-unknown-camera.json"));
        Run(_normalizer, "frigate/stats", Sample("frigate/stats.json"));

        var garage = Assert.Single(_context.Quarantine.Sources);
        Assert.Equal("frigate:garage", garage.Source);
        Assert.Equal(2, garage.Messages);
        Assert.Equal(1, _context.Quarantine.Quarantined("frigate"));
    }

    [Fact]
    public void A_camera_id_registered_as_another_kind_is_refused_with_both_kinds_named()
    {
        var registry = NewRegistry();
        registry.Upsert(new Device("c1-cam-front", DeviceKind.Gate, "c1", "g2", Source: "frigate:front_door"));
        var normalizer = new FrigateNormalizer(VendorContext.For(registry));

        Expect(Run(normalizer, "frigate/events", Sample("frigate/events-new-person.json")), [],
            "frigate: device c1-cam-front (source frigate:front_door) is registered as a gate, but this message carries camera readings");
    }

    [Fact]
    public void Garbage_bytes_are_refused_as_invalid_utf8()
    {
        byte[] garbage = [0x7B, 0xFF, 0xFE, 0x00, 0x80];

        Expect(Run(_normalizer, "frigate/events", garbage), [], "frigate: payload is not valid UTF-8");
    }
}
