using System.Text;
using System.Text.Json;
using Sensing.Ingest.Normalization.Vendor;

namespace Sensing.Ingest.Tests.Formats;

public sealed class VendorTimeTests
{
    private static readonly TimeZoneInfo Shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static (bool Ok, DateTimeOffset Utc, bool Local) Read(string text, TimeZoneInfo zone)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(text)));
        reader.Read();
        var ok = VendorTime.TryRead(ref reader, zone, out var utc, out var local);
        return (ok, utc, local);
    }

    [Theory]
    [InlineData("2026-11-20T07:15:00+08:00", "2026-11-19T23:15:00.0000000Z", false)]
    [InlineData("2026-11-19T23:15:00.123456789Z", "2026-11-19T23:15:00.1234567Z", false)]   // nanoseconds cut to 100 ns
    [InlineData("2026-11-20T07:15:00+0800", "2026-11-19T23:15:00.0000000Z", false)]         // no colon: the general parser
    [InlineData("2026-11-20T07:15:00", "2026-11-19T23:15:00.0000000Z", true)]               // local: read in Shanghai
    [InlineData("2026-11-20T07:15:00.5", "2026-11-19T23:15:00.5000000Z", true)]
    [InlineData("2026-11-20 07:15:00", "2026-11-19T23:15:00.0000000Z", true)]
    public void Times_with_and_without_offsets(string text, string expected, bool local)
    {
        var (ok, utc, wasLocal) = Read(text, Shanghai);

        Assert.True(ok);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), utc);
        Assert.Equal(TimeSpan.Zero, utc.Offset);
        Assert.Equal(local, wasLocal);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2026-13-01T00:00:00")]
    [InlineData("2026-02-30T00:00:00")]
    [InlineData("2026-11-20T25:00:00")]
    [InlineData("")]
    public void Non_times_are_refused(string text) => Assert.False(Read(text, Shanghai).Ok);

    [Fact]
    public void A_local_time_in_the_autumn_overlap_takes_the_standard_offset_and_one_in_the_spring_gap_still_reads()
    {
        // 2026-10-25 02:30 happens twice in Berlin; 2026-03-29 02:30 never happens.
        var overlap = Read("2026-10-25T02:30:00", Berlin);
        var gap = Read("2026-03-29T02:30:00", Berlin);

        Assert.Equal(new DateTimeOffset(2026, 10, 25, 1, 30, 0, TimeSpan.Zero), overlap.Utc);
        Assert.True(gap.Ok);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 30, 0, TimeSpan.Zero), gap.Utc);
    }

    [Fact]
    public void Unix_seconds_keep_microseconds_and_the_same_input_gives_the_same_instant()
    {
        Assert.Equal(new DateTimeOffset(2026, 11, 19, 23, 15, 0, TimeSpan.Zero).AddTicks(4_753_770), VendorTime.FromUnixSeconds(1795130100.475377));
        Assert.Equal(VendorTime.FromUnixSeconds(1795130100.475377), VendorTime.FromUnixSeconds(1795130100.475377));
        Assert.False(VendorTime.TryFromUnixSeconds(1795130100475, out _));   // milliseconds sent as seconds
        Assert.False(VendorTime.TryFromUnixSeconds(double.NaN, out _));
    }
}
