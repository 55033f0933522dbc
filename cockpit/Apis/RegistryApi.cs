using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.Audit;
using Sensing.Ingest.Quarantine;
using Sensing.Ingest.Registry;

namespace Sensing.Cockpit.Apis;

public sealed record GridView(string Id, string Name);
public sealed record CommunityView(string Id, string Name, IReadOnlyList<GridView> Grids);
public sealed record DeviceView(string Id, DeviceKind Kind, string Community, string? Grid, string? Household, string? Source, DateTimeOffset? LastSeen, string Status);
public sealed record DeviceRequest(string? Id, string? Kind, string? Community, string? Grid, string? Household, string? Source);
public sealed record HouseholdRequest(string? Id, string? Community, string? Grid, bool ElderlyLivingAlone);
public sealed record AwayRequest(DateTimeOffset? From, DateTimeOffset? Until);

/// <summary>Communities, grids, devices and households: read by everyone within their scope, edited by admins.</summary>
public static class RegistryApi
{
    public static RouteGroupBuilder MapRegistryApi(this RouteGroupBuilder api)
    {
        api.MapGet("/communities", (ClaimsPrincipal user, DeviceRegistry registry) =>
        {
            var caller = CallerScope.Of(user);
            return TypedResults.Ok(registry.Communities
                .Where(c => !caller.IsWorker || c.Id == caller.Community)
                .Select(c => new CommunityView(c.Id, c.Name, [.. registry.Grids
                    .Where(g => g.Community == c.Id && caller.CanSee(c.Id, g.Id))
                    .Select(g => new GridView(g.Id, g.Name))]))
                .ToList());
        }).WithName("ListCommunities").WithSummary("Communities and their grids.");

        api.MapGet("/devices", (ClaimsPrincipal user, string? community, DeviceRegistry registry, AlertBook alerts) =>
        {
            var caller = CallerScope.Of(user);
            var silent = alerts.Query(caller, null, community, null, null)
                .Where(a => a.Kind == AlertKinds.DeviceSilent && a.Status != AlertStatus.Resolved && a.Device is not null)
                .Select(a => a.Device!)
                .ToHashSet(StringComparer.Ordinal);
            return TypedResults.Ok(registry.Devices
                .Where(d => (community is null || d.Community == community) && caller.CanSee(d.Community, d.Grid))
                .OrderBy(d => d.Id, StringComparer.Ordinal)
                .Select(d =>
                {
                    var seen = registry.LastSeen(d.Id);
                    var status = d.Grid is null ? "unassigned" : silent.Contains(d.Id) ? "silent" : seen is null ? "never_seen" : "ok";
                    return new DeviceView(d.Id, d.Kind, d.Community, d.Grid, d.Household, d.Source, seen, status);
                })
                .ToList());
        }).WithName("ListDevices").WithSummary("Devices with their last-seen time and status.");

        // Vendor devices nobody has mapped yet: what an admin registers next (POST /api/devices with the source), after
        // which their quarantined messages are ingested. Control room only: an unmapped source belongs to no grid yet.
        api.MapGet("/devices/quarantined", (QuarantineBook quarantine) => TypedResults.Ok(quarantine.Sources))
            .RequireAuthorization(CockpitPolicies.ControlRoom).WithName("ListQuarantinedSources")
            .WithSummary("Vendor sources whose messages are quarantined until a device is registered with that source.");

        api.MapPost("/devices", Results<Ok<Device>, ValidationProblem> (DeviceRequest request, DeviceRegistry registry, AuditLog audit, HttpContext http) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrWhiteSpace(request.Id)) errors["id"] = ["required"];
            if (!DeviceKinds.TryParse(request.Kind, out var kind)) errors["kind"] = ["must be meter, gate, parking or camera"];
            if (string.IsNullOrWhiteSpace(request.Community)) errors["community"] = ["required"];
            if (NullIfEmpty(request.Source) is { } source)
            {
                var colon = source.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0 || colon == source.Length - 1 || source.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                {
                    errors["source"] = ["a vendor source id: <format>:<device>, e.g. chirpstack:0004a30b001c0530, without spaces"];
                }
                else if (registry.FindBySource(source) is { } holder && holder.Id != request.Id)
                {
                    errors["source"] = [$"already mapped to device {holder.Id}"];
                }
            }
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
            var device = new Device(request.Id!, kind, request.Community!, NullIfEmpty(request.Grid), NullIfEmpty(request.Household), NullIfEmpty(request.Source));
            var before = registry.FindDevice(device.Id);
            registry.Upsert(device);
            Record(audit, http, "upsert_device", device.Id, before is null
                ? $"new {DeviceKinds.Name(device.Kind)} in {device.Community}/{device.Grid}"
                : $"{DeviceKinds.Name(before.Kind)} {before.Community}/{before.Grid} household {before.Household} source {before.Source} → {DeviceKinds.Name(device.Kind)} {device.Community}/{device.Grid} household {device.Household} source {device.Source}");
            return TypedResults.Ok(device);
        }).RequireAuthorization(CockpitPolicies.Admin).WithName("UpsertDevice").WithSummary("Registers or updates a device (admin).");

        api.MapPost("/households", Results<Ok<Household>, ValidationProblem> (HouseholdRequest request, DeviceRegistry registry, AuditLog audit, HttpContext http) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrWhiteSpace(request.Id)) errors["id"] = ["required"];
            if (string.IsNullOrWhiteSpace(request.Community)) errors["community"] = ["required"];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
            var household = new Household(request.Id!, request.Community!, NullIfEmpty(request.Grid), request.ElderlyLivingAlone);
            var before = registry.FindHousehold(household.Id);
            registry.Upsert(household);
            Record(audit, http, "upsert_household", household.Id, before is null
                ? $"new in {household.Community}/{household.Grid}, elderly living alone: {household.ElderlyLivingAlone}"
                : $"{before.Community}/{before.Grid} elderly living alone: {before.ElderlyLivingAlone} → {household.Community}/{household.Grid} elderly living alone: {household.ElderlyLivingAlone}");
            return TypedResults.Ok(household);
        }).RequireAuthorization(CockpitPolicies.Admin).WithName("UpsertHousehold").WithSummary("Registers or updates a household (admin).");

        api.MapPost("/households/{id}/away", (string id, AwayRequest? request, ClaimsPrincipal user, DeviceRegistry registry, TimeProvider time, AuditLog audit, HttpContext http) =>
            ChangePresence(id, user, registry, household =>
            {
                var spell = new AwaySpell(household.Id, request?.From ?? time.GetUtcNow(), request?.Until);
                registry.MarkAway(spell);
                Record(audit, http, "mark_away", household.Id, $"from {spell.From:O} until {spell.Until:O}");
                return spell;
            })).RequireAuthorization(CockpitPolicies.Responder).WithName("MarkAway").WithSummary("Marks a household away (suppresses welfare alerts).");

        api.MapPost("/households/{id}/back", (string id, AwayRequest? request, ClaimsPrincipal user, DeviceRegistry registry, TimeProvider time, AuditLog audit, HttpContext http) =>
            ChangePresence(id, user, registry, household =>
            {
                var at = request?.From ?? time.GetUtcNow();
                registry.MarkBack(household.Id, at);
                Record(audit, http, "mark_back", household.Id, $"at {at:O}");
                return new AwaySpell(household.Id, at, at);
            })).RequireAuthorization(CockpitPolicies.Responder).WithName("MarkBack").WithSummary("Marks a household back.");
        return api;
    }

    private static Results<Ok<AwaySpell>, NotFound, ForbidHttpResult> ChangePresence(string id, ClaimsPrincipal user, DeviceRegistry registry, Func<Household, AwaySpell> change)
    {
        var household = registry.FindHousehold(id);
        if (household is null) return TypedResults.NotFound();
        if (!CallerScope.Of(user).CanSee(household.Community, household.Grid)) return TypedResults.Forbid();
        return TypedResults.Ok(change(household));
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    /// <summary>A registry change, by whom (the token's user and role) and from where.</summary>
    private static void Record(AuditLog audit, HttpContext http, string action, string subject, string detail) =>
        audit.Record(http, AuditKinds.Registry, action, subject, detail);
}
