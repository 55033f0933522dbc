using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Mqtt;
using Sensing.Ingest.Normalization;
using Sensing.Ingest.Normalization.Vendor;
using Sensing.Ingest.Registry;
using Sensing.Storage;

namespace Sensing.Ingest.Tests.Formats;

public sealed class FormatRoutingTests
{
    private static FormatRouter DefaultRouter() =>
        VendorFormats.Router(new IngestOptions().Formats, VendorWorld.NewRegistry(), VendorContext.For(VendorWorld.NewRegistry()));

    [Theory]
    [InlineData("sensing/c1/meter/wm-1", "native")]
    [InlineData("sensing/status/meter/wm-1", "native")]          // a community named "status" stays native, not Shelly
    [InlineData("frigate/events", "frigate")]
    [InlineData("frigate/status/person", "frigate")]
    [InlineData("tele/meter-17/SENSOR", "tasmota")]
    [InlineData("shellypro3em-abc/events/rpc", "shelly")]
    [InlineData("shellypro3em-abc/status/emdata:0", "shelly")]
    [InlineData("application/a1/device/0004a30b001c0530/event/up", "chirpstack")]
    [InlineData("v3/parking@ttn/devices/space-1/up", "tts")]
    [InlineData("zigbee2mqtt/kitchen_plug", "zigbee2mqtt")]
    [InlineData("spBv1.0/c1/DDATA/plant1/meter7", "sparkplug")]
    [InlineData("hikvision/ds-k1t671-e1/event", "hikvision")]
    public void Default_filters_route_each_documented_topic_to_its_format(string topic, string format) =>
        Assert.Equal(format, DefaultRouter().Find(topic)?.Format);

    [Theory]
    [InlineData("tele/meter-17/STATE")]
    [InlineData("zigbee2mqtt/bridge/state")]
    [InlineData("application/a1/device/0004a30b001c0530/event/join")]
    [InlineData("elsewhere/thing")]
    public void Topics_no_filter_covers_find_no_normalizer(string topic) => Assert.Null(DefaultRouter().Find(topic));

    [Fact]
    public void The_more_specific_filter_wins_whatever_order_they_were_given_in()
    {
        var registry = VendorWorld.NewRegistry();
        var context = VendorContext.For(registry);
        var shelly = new ShellyNormalizer(context);
        var frigate = new FrigateNormalizer(context);
        var router = new FormatRouter([("+/status/#", shelly), ("#", new NativeNormalizer(registry)), ("frigate/#", frigate)]);

        Assert.Same(frigate, router.Find("frigate/status/x"));
        Assert.Same(shelly, router.Find("abc/status/x"));
        Assert.Equal("native", router.Find("abc/other")?.Format);
        Assert.Equal(["frigate/#", "+/status/#", "#"], router.Filters);
    }

    [Fact]
    public void Configuration_adds_filters_replaces_formats_and_switches_defaults_off()
    {
        var options = Bind(new Dictionary<string, string?>
        {
            ["Ingest:Formats:frigate-nvr2/#"] = "frigate",
            ["Ingest:Formats:zigbee2mqtt/+"] = "off",
            ["Ingest:Formats:HIKVISION/+/event"] = "",           // configuration keys ignore case, and so do these
        });

        var enabled = VendorFormats.Enabled(options.Formats);

        Assert.Contains(("frigate-nvr2/#", "frigate"), enabled);
        Assert.Contains(("frigate/#", "frigate"), enabled);
        Assert.DoesNotContain(enabled, r => r.Format is "zigbee2mqtt" or "hikvision");
        Assert.Empty(VendorFormats.Problems(options.Formats));
    }

    [Fact]
    public void Unknown_formats_and_malformed_filters_stop_the_start_with_each_problem_named()
    {
        var services = new ServiceCollection().AddLogging();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:Formats:loxone/#"] = "loxone",
            ["Ingest:Formats:a/#/b"] = "frigate",
            ["Ingest:Formats:x+/y"] = "tasmota",
        }).Build();
        services.AddSensingIngest(configuration);
        using var provider = services.BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<IngestOptions>>().Value);

        Assert.Contains("Ingest:Formats: 'loxone/#' names unknown format 'loxone'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Formats: 'a/#/b' may use # only as the whole last level", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Formats: 'x+/y' may use + only as a whole level", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_subscribes_to_every_enabled_format_filter_besides_its_topics()
    {
        var services = new ServiceCollection().AddLogging();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:Formats:spBv1.0/#"] = "off",
            ["Mqtt:Topics:0"] = "sensing/#",
            ["Mqtt:Topics:1"] = "legacy/#",
        }).Build();
        services.AddSensingIngest(configuration);
        using var provider = services.BuildServiceProvider();

        var topics = MqttIntake.SubscriptionFilters(provider.GetRequiredService<IOptions<MqttOptions>>().Value);

        Assert.Equal(1, topics.Count(t => t == "sensing/#"));
        Assert.Contains("legacy/#", topics);
        Assert.Contains("tele/+/SENSOR", topics);
        Assert.Contains("application/+/device/+/event/up", topics);
        Assert.DoesNotContain("spBv1.0/#", topics);
    }

    [Fact]
    public void An_unknown_time_zone_is_refused_by_name()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSensingStore(new ConfigurationBuilder().Build());
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sensing:TimeZone"] = "Mars/Olympus_Mons" }).Build();
        services.AddSensingIngest(configuration);
        using var provider = services.BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<VendorContext>());

        Assert.Contains("Sensing:TimeZone 'Mars/Olympus_Mons'", failure.Message, StringComparison.Ordinal);
    }

    private static IngestOptions Bind(Dictionary<string, string?> settings)
    {
        var options = new IngestOptions();
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(IngestOptions.Section).Bind(options);
        return options;
    }
}

public sealed class RegistrySourceTests
{
    [Fact]
    public void A_source_finds_its_device_by_string_and_by_span()
    {
        var registry = VendorWorld.NewRegistry();
        var buffer = "xxtasmota:meter-17yy".AsSpan(2, 16);

        Assert.Equal("c1-em-0042", registry.FindBySource(buffer)?.Id);
        Assert.Same(registry.FindBySource("tasmota:meter-17"), registry.FindBySource(buffer));
        Assert.Null(registry.FindBySource("tasmota:meter-18".AsSpan()));
    }

    [Fact]
    public void Changing_a_devices_source_moves_the_mapping_and_announces_only_new_sources()
    {
        var registry = new DeviceRegistry();
        var announced = new List<string>();
        registry.SourceRegistered += d => announced.Add(d.Source!);

        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c1", null, Source: "frigate:door"));
        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c1", "g1", Source: "frigate:door"));   // assigned a grid: same source
        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c1", "g1", Source: "frigate:gate"));   // a new camera name
        registry.Upsert(new Device("cam-1", DeviceKind.Camera, "c1", "g1"));                           // no longer a vendor device

        Assert.Equal(["frigate:door", "frigate:gate"], announced);
        Assert.Null(registry.FindBySource("frigate:door"));
        Assert.Null(registry.FindBySource("frigate:gate"));
    }

    [Fact]
    public void A_loaded_registry_file_maps_its_sources()
    {
        var registry = new DeviceRegistry();
        registry.Load(new RegistrySnapshot { Devices = [new Device("c1-cam-007", DeviceKind.Camera, "c1", "g2", Source: "frigate:front_door")] });

        Assert.Equal("c1-cam-007", registry.FindBySource("frigate:front_door")?.Id);
    }
}
