using System.Buffers;
using System.Text;
using Sensing.Simulators.Replay;

namespace Sensing.Simulators.Tests.Replay;

public sealed class TimestampShifterTests
{
    private static readonly TimeSpan s_shift = TimeSpan.FromDays(3) + TimeSpan.FromHours(1) + TimeSpan.FromMilliseconds(250);

    [Theory]
    [InlineData("""{"ts":"2026-11-20T07:15:00+08:00","type":"water","total":123.456,"household":"h-0042"}""",
                """{"ts":"2026-11-23T08:15:00.25+08:00","type":"water","total":123.456,"household":"h-0042"}""")]
    [InlineData("""{"ts":1763593200000,"event":"pass","direction":"in","credential":"face"}""",
                """{"ts":1763856000250,"event":"pass","direction":"in","credential":"face"}""")]
    [InlineData("""{"lot":"P1", "ts" : "2026-11-19T23:00:00.5Z" ,"free":12,"capacity":200 }""",
                """{"lot":"P1", "ts" : "2026-11-23T00:00:00.75Z" ,"free":12,"capacity":200 }""")]
    [InlineData("""{"ts":"2026-11-20T07:15:00-05:30","nested":{"ts":1},"list":[{"ts":2}]}""",
                """{"ts":"2026-11-23T08:15:00.25-05:30","nested":{"ts":1},"list":[{"ts":2}]}""")]
    [InlineData("""{"ts":"2026-11-20T07:15:00\u002B08:00","type":"electricity","total":1e3,"household":"h-1"}""",
                """{"ts":"2026-11-23T08:15:00.25+08:00","type":"electricity","total":1e3,"household":"h-1"}""")]
    public void Shifts_only_the_top_level_ts_keeping_its_form_and_offset(string payload, string expected)
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.True(TimestampShifter.TryShift(Encoding.UTF8.GetBytes(payload), s_shift, output));
        Assert.Equal(expected, Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Fact]
    public void Leaves_every_byte_outside_the_value_identical()
    {
        var payload = Encoding.UTF8.GetBytes("""{ "camera" : "东门", "ts":1763593200000 , "zone":"east-gate","score":0.9100 }""");
        var output = new ArrayBufferWriter<byte>();

        Assert.True(TimestampShifter.TryShift(payload, TimeSpan.FromMinutes(1), output));

        var prefix = "{ \"camera\" : \"东门\", \"ts\":"u8.Length;
        var suffix = " , \"zone\":\"east-gate\",\"score\":0.9100 }"u8.Length;
        Assert.True(payload.AsSpan(0, prefix).SequenceEqual(output.WrittenSpan[..prefix]));
        Assert.True(payload.AsSpan(payload.Length - suffix).SequenceEqual(output.WrittenSpan[^suffix..]));
        Assert.Equal("1763593260000", Encoding.UTF8.GetString(output.WrittenSpan[prefix..^suffix]));
    }

    [Theory]
    [InlineData("""{"type":"water","total":"lots"}""")]
    [InlineData("""not json at all""")]
    [InlineData("""[{"ts":1763593200000}]""")]
    [InlineData("""{"ts":1763593200000,"type":"water",""")]
    [InlineData("""{"ts":1763593200000}{"ts":1}""")]
    [InlineData("""{"ts":"yesterday"}""")]
    [InlineData("""{"ts":"2026-11-20T07:15:00"}""")]
    [InlineData("""{"ts":1763593200000.5}""")]
    [InlineData("""{"ts":1.7635932e12}""")]
    [InlineData("""{"ts":null}""")]
    [InlineData("")]
    public void Passes_anything_it_cannot_shift_through_untouched(string payload)
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.False(TimestampShifter.TryShift(Encoding.UTF8.GetBytes(payload), s_shift, output));
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Binary_payloads_pass_through()
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.False(TimestampShifter.TryShift(new byte[] { 0x7B, 0xFF, 0x00, 0x22 }, s_shift, output));
        Assert.Equal(0, output.WrittenCount);
    }
}
