using System.Text;
using Sensing.Storage.Influx;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

/// <summary>Line protocol text against the escaping rules of InfluxDB's line protocol reference.</summary>
public sealed class LineProtocolTests
{
    private static string Text(Action<PooledBufferWriter> write)
    {
        using var buffer = new PooledBufferWriter(16);
        write(buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Theory]
    // Measurement: comma and space are escaped; equals sign, quotes and backslashes are literal.
    [InlineData("measurement", "my measurement", @"my\ measurement")]
    [InlineData("measurement", "a,b", @"a\,b")]
    [InlineData("measurement", "a=b", "a=b")]
    [InlineData("measurement", "a\"b", "a\"b")]
    [InlineData("measurement", @"a\b", @"a\b")]
    // Tag key and tag value: comma, equals sign and space are escaped; quotes are literal.
    [InlineData("tag key", "tag key", @"tag\ key")]
    [InlineData("tag key", "k,=", @"k\,\=")]
    [InlineData("tag value", "v a,l=ue", @"v\ a\,l\=ue")]
    [InlineData("tag value", "\"quoted\"", "\"quoted\"")]
    [InlineData("tag value", @"a\b", @"a\b")]
    [InlineData("tag value", "东门", "东门")]
    // Field key: as tag keys.
    [InlineData("field key", "field key,=", @"field\ key\,\=")]
    // String field value: double quote and backslash are escaped; comma, equals sign and space are literal.
    [InlineData("string value", "say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData("string value", @"C:\dir\", "\"C:\\\\dir\\\\\"")]
    [InlineData("string value", "a b,c=d", "\"a b,c=d\"")]
    [InlineData("string value", "{\"k\":\"v\"}", "\"{\\\"k\\\":\\\"v\\\"}\"")]
    public void Each_special_character_is_escaped_as_documented(string position, string input, string expected)
    {
        var text = position switch
        {
            "measurement" => Text(w => LineProtocol.Measurement(w, input)),
            "tag key" => Text(w => LineProtocol.Tag(w, input, "v"))[1..^2], // ",{key}=v"
            "tag value" => Text(w => LineProtocol.Tag(w, "k", input))[3..], // ",k={value}"
            "field key" => Text(w => LineProtocol.Field(w, first: true, input, 1.0))[1..^2], // " {key}=1"
            "string value" => Text(w => LineProtocol.Field(w, first: true, "f", input))[3..], // " f={value}"
            _ => throw new ArgumentOutOfRangeException(nameof(position)),
        };
        Assert.Equal(expected, text);
    }

    [Fact]
    public void Line_breaks_and_trailing_backslashes_in_keys_are_refused_not_mangled()
    {
        Assert.Throws<ArgumentException>(() => Text(w => LineProtocol.Measurement(w, "a\nb")));
        Assert.Throws<ArgumentException>(() => Text(w => LineProtocol.Tag(w, "k", "a\rb")));
        Assert.Throws<ArgumentException>(() => Text(w => LineProtocol.Tag(w, "k", @"ends\")));
        Assert.Throws<ArgumentException>(() => Text(w => LineProtocol.Field(w, true, "f", "two\nlines")));
        // No value is no tag: line protocol has no empty tag values.
        Assert.Equal("", Text(w => LineProtocol.Tag(w, "k", "")));
        Assert.Equal("", Text(w => LineProtocol.Tag(w, "k", null)));
    }

    [Fact]
    public void A_meter_reading_carries_household_as_a_tag_and_other_readings_as_a_field()
    {
        var meter = new Reading("m1", "c1", "g1", "h-1", Metrics.WaterTotal, Sample.Day, 123.456);
        var gate = new Reading("gate 1", "c1", null, "h-7", Metrics.GatePass, Sample.Day.AddMilliseconds(5), 1, "in", """{"credential":"face"}""");

        // 2026-11-20T00:00Z is 1_795_132_800 s after the epoch; tags sorted by key.
        Assert.Equal(
            "meter,community=c1,device=m1,grid=g1,household=h-1,metric=water.total value=123.456 1795132800000\n",
            Text(w => LineProtocol.WriteReading(w, meter, InfluxPrecision.Milliseconds)));
        Assert.Equal(
            "gate,community=c1,device=gate\\ 1,label=in,metric=gate.pass value=1,attributes=\"{\\\"credential\\\":\\\"face\\\"}\",household=\"h-7\" 1795132800005\n",
            Text(w => LineProtocol.WriteReading(w, gate, InfluxPrecision.Milliseconds)));
    }

    [Fact]
    public void Precision_decides_the_timestamp_unit()
    {
        var t = Sample.Day.AddTicks(1_234_567).ToOffset(TimeSpan.FromHours(8)); // 123.4567 ms past midnight UTC
        var reading = new Reading("c1", "c1", null, null, "camera.crowd", t, 37, "east-gate");

        Assert.EndsWith(" 1795132800123\n", Text(w => LineProtocol.WriteReading(w, reading, InfluxPrecision.Milliseconds)), StringComparison.Ordinal);
        Assert.EndsWith(" 1795132800123456700\n", Text(w => LineProtocol.WriteReading(w, reading, InfluxPrecision.Nanoseconds)), StringComparison.Ordinal);
        Assert.Equal(t, LineProtocol.FromEpoch(1795132800123456700, InfluxPrecision.Nanoseconds));
        Assert.Equal(Sample.Day.AddMilliseconds(123), LineProtocol.FromEpoch(1795132800123, InfluxPrecision.Milliseconds));
        // Before the epoch the millisecond floors (down), it does not truncate toward zero.
        Assert.Equal(-1, LineProtocol.ToEpoch(DateTimeOffset.UnixEpoch.AddTicks(-1), InfluxPrecision.Milliseconds));
    }

    [Fact]
    public void Floats_round_trip_and_integers_carry_their_suffix()
    {
        Assert.Equal(" v=0.1", Text(w => LineProtocol.Field(w, true, "v", 0.1)));
        Assert.Equal(" v=12", Text(w => LineProtocol.Field(w, true, "v", 12.0)));
        Assert.Equal(" v=1E+20", Text(w => LineProtocol.Field(w, true, "v", 1e20)));
        Assert.Equal(",v=-42i", Text(w => LineProtocol.Field(w, false, "v", -42L)));
        Assert.Throws<ArgumentException>(() => Text(w => LineProtocol.WriteReading(w,
            new Reading("m1", "c1", null, null, Metrics.WaterTotal, Sample.Day, double.PositiveInfinity), InfluxPrecision.Milliseconds)));
    }

    [Fact]
    public void The_buffer_grows_across_many_readings_and_holds_exactly_their_lines()
    {
        using var buffer = new PooledBufferWriter(16);
        var expected = new StringBuilder();
        for (var i = 0; i < 5_000; i++)
        {
            var r = Sample.Point($"m{i % 100}", Metrics.WaterConsumption, Sample.Day.AddSeconds(i), i * 0.5, household: $"h-{i % 100}");
            LineProtocol.WriteReading(buffer, r, InfluxPrecision.Milliseconds);
            expected.Append(Text(w => LineProtocol.WriteReading(w, r, InfluxPrecision.Milliseconds)));
        }

        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void Encoding_a_reading_allocates_nothing_once_the_buffer_is_large_enough()
    {
        var readings = Enumerable.Range(0, 5_000)
            .Select(i => new Reading($"c1-gate-{i % 50}", "c1", "g 1", $"h-{i % 100}", Metrics.GatePass, Sample.Day.AddSeconds(i), 1,
                "in", $$"""{"credential":"face","n":{{i}}}"""))
            .ToArray();
        using var buffer = new PooledBufferWriter(4 * 1024 * 1024);
        foreach (var r in readings)
        {
            LineProtocol.WriteReading(buffer, r, InfluxPrecision.Milliseconds); // warm-up (JIT, statics)
        }

        buffer.Clear();
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var r in readings)
        {
            LineProtocol.WriteReading(buffer, r, InfluxPrecision.Milliseconds);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated for {readings.Length} readings");
    }

    [Theory]
    [InlineData("water.total", "meter")]
    [InlineData("electricity.consumption", "meter")]
    [InlineData("gate.pass", "gate")]
    [InlineData("parking.free", "parking")]
    [InlineData("camera.crowd", "camera")]
    [InlineData("vendor.temperature", "reading")]
    [InlineData("nodot", "reading")]
    public void Each_metric_lives_in_its_kinds_measurement(string metric, string measurement) =>
        Assert.Equal(measurement, InfluxSchema.MeasurementOf(metric));

    [Theory]
    [InlineData("c1", "'c1'")]
    [InlineData("c1' OR '1'='1", @"'c1\' OR \'1\'=\'1'")]
    [InlineData(@"a\b", @"'a\\b'")]
    [InlineData("a\"b\nc", "'a\\\"b\\nc'")]
    public void InfluxQl_literals_escape_quotes_backslashes_and_line_breaks(string value, string literal) =>
        Assert.Equal(literal, InfluxQl.Literal(value));
}
