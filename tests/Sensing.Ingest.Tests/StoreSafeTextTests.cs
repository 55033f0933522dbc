using Sensing.Ingest.Normalization;
using Sensing.Ingest.Registry;

namespace Sensing.Ingest.Tests;

/// <summary>
/// Text that no store can key on (a line break ends an InfluxDB line; a trailing backslash escapes the separator
/// after it) is refused at the door with a reason, so it can never turn a whole batch into one the store refuses.
/// </summary>
public sealed class StoreSafeTextTests
{
    private readonly DeviceRegistry _registry = World.Registry();

    private (string? Reason, List<Reading> Readings) Normalize(string topic, string json)
    {
        var readings = new List<Reading>();
        var reason = new NativeNormalizer(_registry).Normalize(World.Message(topic, json), readings);
        return (reason, readings);
    }

    [Theory]
    [InlineData("sensing/c1/camera/cam\n7")]
    [InlineData("sensing/c1/camera/cam\u00017")]
    [InlineData("sensing/c1/camera/cam-7\\")]
    [InlineData("sensing/c\r1/camera/cam-7")]
    public void Ids_in_the_topic_must_be_clean(string topic)
    {
        var (reason, readings) = Normalize(topic, """{"event":"person"}""");
        Assert.Equal("topic: community and device ids must not contain control characters or end with a backslash", reason);
        Assert.Empty(readings);
    }

    [Theory]
    [InlineData("""{"event":"crowd","count":3,"zone":"east\ngate"}""", "zone")]
    [InlineData("""{"event":"crowd","count":3,"zone":"east\\"}""", "zone")]
    [InlineData("""{"event":"crowd","count":3,"zone":"east\u0007"}""", "zone")]
    public void Camera_zones_must_be_clean(string json, string field)
    {
        var (reason, readings) = Normalize("sensing/c1/camera/c1-cam-07", json);
        Assert.Equal($"field '{field}' must not contain control characters or end with a backslash", reason);
        Assert.Empty(readings);
    }

    [Fact]
    public void Lots_spaces_and_households_must_be_clean()
    {
        Assert.Equal("field 'lot' must not contain control characters or end with a backslash",
            Normalize("sensing/c1/parking/c1-park-01", """{"lot":"P1\\","free":1,"capacity":2}""").Reason);
        Assert.Equal("field 'space' must not contain control characters or end with a backslash",
            Normalize("sensing/c1/parking/c1-park-01", """{"space":"A\t1","occupied":true}""").Reason);
        Assert.Equal("field 'household' must not contain control characters or end with a backslash",
            Normalize("sensing/c1/meter/c1-wm-0042", """{"type":"water","total":1,"household":"h-1\n"}""").Reason);
    }

    [Fact]
    public void A_pretty_printed_extra_field_is_kept_on_one_line_with_its_meaning()
    {
        var json = "{\"event\":\"person\",\"box\":{\r\n  \"x\": 1,\n  \"label\": \"a\\nb\"\n}}";
        var (reason, readings) = Normalize("sensing/c1/camera/c1-cam-07", json);
        Assert.Null(reason);
        var attributes = Assert.Single(readings).Attributes!;
        Assert.DoesNotContain('\n', attributes);
        Assert.DoesNotContain('\r', attributes);
        using var parsed = System.Text.Json.JsonDocument.Parse(attributes);
        Assert.Equal(1, parsed.RootElement.GetProperty("box").GetProperty("x").GetInt32());
        // The escaped line break inside a string is data, and stays.
        Assert.Equal("a\nb", parsed.RootElement.GetProperty("box").GetProperty("label").GetString());
    }
}
