using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MQTTnet;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Browser.Tests;

/// <summary>
/// The community the pages show: registered through the admin API and brought to life over MQTT, as devices would,
/// so every figure on the wall comes through ingest, the store and the tile board. The figures are chosen to be
/// unlike each other (and unlike an age such as "3 秒前") so a test can find each on its tile.
/// </summary>
public sealed class Neighbourhood(SensingTestHost host, IMqttClient devices)
{
    public const string Community = "c1";
    public const string CommunityName = "阳光社区";

    /// <summary>The community's grids and their names, as its registry file gives them (the wall's grid map draws these).</summary>
    public static readonly (string Id, string Name)[] Grids = [("g1", "一网格"), ("g2", "二网格")];

    /// <summary>Meters of this many households (the tile counts households with a meter).</summary>
    public const int Households = 6;

    /// <summary>Cameras registered, and how many of them send a heartbeat.</summary>
    public const int Cameras = 5;
    public const int CamerasOnline = 3;

    public const int GatePassesToday = 17;

    public const string ParkingLot = "P1";
    public const int ParkingFree = 37;
    public const int ParkingCapacity = 120;

    /// <summary>Cameras of grid g1 (worker1's) and g2 (worker2's); the first <see cref="CamerasOnline"/> report.</summary>
    public static readonly (string Id, string Grid)[] CameraIds =
        [("cam-1", "g1"), ("cam-2", "g1"), ("cam-3", "g2"), ("cam-4", "g2"), ("cam-5", "g2")];

    private int _zones;

    /// <summary>
    /// A data folder holding the registry file a host starts from: the community and its named grids (what the admin
    /// API does not edit). Households and devices are added through the API by <see cref="PublishAsync"/>.
    /// </summary>
    public static string NewDataDirectory()
    {
        var directory = SensingTestHost.NewDataDirectory();
        var registry = new RegistrySnapshot
        {
            Communities = [new Telemetry.Community(Community, CommunityName)],
            Grids = [.. Grids.Select(g => new Grid(g.Id, Community, g.Name))],
        };
        File.WriteAllText(Path.Combine(directory, "registry.json"), JsonSerializer.Serialize(registry, RegistrySnapshot.JsonOptions));
        return directory;
    }

    public async Task PublishAsync()
    {
        using var admin = host.Http(await host.TokenAsync("admin"));
        for (var i = 1; i <= Households; i++)
        {
            var household = $"h-{i:00}";
            var grid = i <= Households / 2 ? "g1" : "g2";
            await PostAsync(admin, "/api/households", new { id = household, community = Community, grid, elderly_living_alone = true });
            await PostAsync(admin, "/api/devices", new { id = $"wm-{i:00}", kind = "meter", community = Community, grid, household });
        }
        foreach (var (id, grid) in CameraIds)
        {
            await PostAsync(admin, "/api/devices", new { id, kind = "camera", community = Community, grid });
        }
        await PostAsync(admin, "/api/devices", new { id = "gate-1", kind = "gate", community = Community, grid = "g1" });
        await PostAsync(admin, "/api/devices", new { id = "park-1", kind = "parking", community = Community, grid = "g2" });

        var now = Now();
        for (var i = 1; i <= Households; i++)
        {
            await PublishAsync("meter", $"wm-{i:00}", $$"""{"ts":{{now}},"type":"water","total":{{100 + i}}.125,"household":"h-{{i:00}}"}""");
        }
        for (var i = 0; i < GatePassesToday; i++)
        {
            // Ten milliseconds apart (a pass is stored once per device and time) and never in the future.
            var direction = i % 2 == 0 ? "in" : "out";
            await PublishAsync("gate", "gate-1", $$"""{"ts":{{now - (GatePassesToday - i) * 10}},"event":"pass","direction":"{{direction}}","credential":"face"}""");
        }
        await PublishAsync("parking", "park-1", $$"""{"ts":{{now}},"lot":"{{ParkingLot}}","free":{{ParkingFree}},"capacity":{{ParkingCapacity}}}""");
        await HeartbeatsAsync();
        await UntilTilesShowAsync();
    }

    /// <summary>A camera counts as online for two minutes after it was last heard: keep the reporting ones fresh.</summary>
    public async Task HeartbeatsAsync()
    {
        var now = Now();
        foreach (var (id, _) in CameraIds.Take(CamerasOnline))
        {
            await PublishAsync("camera", id, $$"""{"ts":{{now}},"event":"online"}""");
        }
    }

    /// <summary>
    /// Smoke seen by a camera of <paramref name="grid"/> of <see cref="Community"/>: the camera detector raises a
    /// critical <c>camera_event</c> at once, and the alert book pushes it. Returns the alert as the API lists it.
    /// </summary>
    public Task<JsonElement> RaiseSmokeAsync(string grid) => RaiseSmokeAsync(Community, CameraIds.First(c => c.Grid == grid).Id);

    /// <summary>Smoke seen by <paramref name="camera"/>, in a zone of its own so no cool-down joins it to an earlier alert.</summary>
    public async Task<JsonElement> RaiseSmokeAsync(string community, string camera)
    {
        var zone = $"stairwell-{Interlocked.Increment(ref _zones)}-{Guid.NewGuid().ToString("N")[..6]}";
        await SensingTestHost.PublishAsync(devices, $"sensing/{community}/camera/{camera}", $$"""{"ts":{{Now()}},"event":"smoke","zone":"{{zone}}","score":0.93}""");
        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        return await BrowserSession.UntilAsync(async () =>
        {
            var alerts = await BrowserSession.GetJsonAsync(operatorHttp, $"/api/alerts?community={community}");
            foreach (var alert in alerts.EnumerateArray())
            {
                if (alert.GetProperty("evidence").GetProperty("summary").GetString() is { } summary && summary.Contains(zone, StringComparison.Ordinal))
                {
                    return alert;
                }
            }
            return (JsonElement?)null;
        }, $"the smoke alert of {camera} in {zone}");
    }

    /// <summary>The tiles as the API gives them to an operator.</summary>
    public async Task<JsonElement> TilesAsync()
    {
        using var operatorHttp = host.Http(await host.TokenAsync("operator"));
        return await BrowserSession.GetJsonAsync(operatorHttp, $"/api/tiles?community={Community}");
    }

    /// <summary>Waits until ingest has stored everything published, so the page's first load already has it.</summary>
    private async Task UntilTilesShowAsync()
    {
        await BrowserSession.UntilAsync(async () =>
        {
            var tiles = await TilesAsync();
            return tiles.GetProperty("households_monitored").GetInt32() == Households
                && tiles.GetProperty("cameras_online").GetInt32() == CamerasOnline
                && tiles.GetProperty("cameras_total").GetInt32() == Cameras
                && tiles.GetProperty("gate_passes_today").GetDouble() == GatePassesToday
                && tiles.GetProperty("parking_free").GetDouble() == ParkingFree
                && tiles.GetProperty("parking_capacity").GetDouble() == ParkingCapacity
                ? tiles : (JsonElement?)null;
        }, "the published community on /api/tiles");
    }

    private Task PublishAsync(string kind, string device, string payload) =>
        SensingTestHost.PublishAsync(devices, $"sensing/{Community}/{kind}/{device}", payload);

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>A host of its own with one camera in <see cref="Community"/> and no alert yet, for a test that needs a page that has seen none.</summary>
    public static async Task<(SensingTestHost Host, Neighbourhood World, IMqttClient Devices)> StartQuietAsync()
    {
        var quiet = await SensingTestHost.StartAsync();
        using (var admin = quiet.Http(await quiet.TokenAsync("admin")))
        {
            await PostAsync(admin, "/api/devices", new { id = CameraIds[0].Id, kind = "camera", community = Community, grid = CameraIds[0].Grid });
        }
        var devices = await quiet.ConnectDeviceAsync("browser-tests-quiet-devices");
        return (quiet, new Neighbourhood(quiet, devices), devices);
    }

    private static async Task PostAsync(HttpClient admin, string path, object body)
    {
        var response = await admin.PostAsJsonAsync(path, body).WaitAsync(BrowserSession.Timeout);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {path} → {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public static string Percent(double rate) => (rate * 100).ToString("0", CultureInfo.InvariantCulture);
}
