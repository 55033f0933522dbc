using Microsoft.Extensions.Options;
using Sensing.Cockpit;
using Sensing.Testing;

namespace Sensing.Cockpit.Tests;

/// <summary>Configuration mistakes stop the start with a message naming the key, instead of failing at the first request.</summary>
public sealed class StartupValidationTests
{
    private static string[] Args(params string[] extra) =>
    [
        $"--urls=http://127.0.0.1:{SensingTestHost.FreePort()}",
        $"--Mqtt:Port={SensingTestHost.FreePort()}",
        $"--Store:Path={Path.Combine(Path.GetTempPath(), "sensing-startup-" + Guid.NewGuid().ToString("N"), "s.duckdb")}",
        .. extra,
    ];

    [Fact]
    public void Without_the_demo_a_signing_key_is_required()
    {
        var refused = Assert.Throws<OptionsValidationException>(() => CockpitHost.Build(Args("--Demo:Enabled=false")));
        Assert.Contains("Auth:SigningKey is required", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_short_signing_key_is_refused()
    {
        var refused = Assert.Throws<OptionsValidationException>(() => CockpitHost.Build(Args("--Demo:Enabled=false", "--Auth:SigningKey=too-short")));
        Assert.Contains("at least 32 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_whitespace_signing_key_is_refused()
    {
        // Not a missing key (which the demo would replace with a random one): a configured one that is too short.
        var refused = Assert.Throws<OptionsValidationException>(() => CockpitHost.Build(Args("--Demo:Enabled=false", "--Auth:SigningKey=                ")));
        Assert.Contains("at least 32 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("5000")]
    public void A_malloc_arena_cap_outside_its_range_stops_the_start(string arenas)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => CockpitHost.Build(Args($"--Runtime:MallocArenas={arenas}")));
        Assert.Contains("Runtime:MallocArenas must be between 1 and 1024", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("301")]
    public void A_clock_skew_outside_zero_to_five_minutes_stops_the_start(string seconds)
    {
        var refused = Assert.Throws<OptionsValidationException>(() => CockpitHost.Build(Args("--Demo:Enabled=false", $"--Auth:SigningKey={SensingTestHost.SigningKey}", $"--Auth:ClockSkewSeconds={seconds}")));
        Assert.Contains("ClockSkewSeconds", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_time_zone_stops_the_start()
    {
        await using var app = CockpitHost.Build(Args("--Sensing:TimeZone=Mars/Olympus_Mons"));
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Sensing:TimeZone", refused.Message, StringComparison.Ordinal);
        Assert.Contains("'Mars/Olympus_Mons'", refused.Message, StringComparison.Ordinal);
    }
}
