using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.Audit;
using Sensing.Ingest.Registry;
using Sensing.Ingest.Spool;

namespace Sensing.Cockpit.Apis;

public sealed record ContactRequest(IReadOnlyList<string>? Residents, string? Phone, string? EmergencyName, string? EmergencyPhone);

/// <summary>A household's contact as a caller may see it; <see cref="Masked"/> when names and numbers are partly hidden.</summary>
public sealed record ContactView(string Household, IReadOnlyList<string> Residents, string? Phone, string? EmergencyName, string? EmergencyPhone, bool Masked)
{
    public override string ToString() => $"ContactView {{ Household = {Household} }}";
}

/// <summary>What <c>DELETE /api/households/{id}</c> removed.</summary>
public sealed record HouseholdErasureReport(
    string Household,
    bool Registered,
    bool Contact,
    int AwaySpells,
    int DevicesUnassigned,
    long Readings,
    int SpooledReadings,
    long DeadLetters,
    long Alerts);

/// <summary>
/// The privacy side of households (issue 9): residents' contacts for the people who must call them, and an admin's
/// export and erasure of one household's data. The time series carries pseudonymous household ids only; names and
/// phone numbers live in the registry beside the household and leave it only through these calls.
/// </summary>
public static class HouseholdPrivacyApi
{
    /// <summary>The audit events these calls log (the audit log picks them up by id and name).</summary>
    public static readonly EventId HouseholdErased = new(9100, "household erased");
    public static readonly EventId HouseholdExported = new(9101, "household exported");
    public static readonly EventId ContactChanged = new(9102, "household contact changed");

    private const int MaxNameLength = 64;
    private const int MaxPhoneLength = 32;
    private const int MaxResidents = 10;

    public static RouteGroupBuilder MapHouseholdPrivacyApi(this RouteGroupBuilder api)
    {
        api.MapGet("/households/{id}/contact", Results<Ok<ContactView>, NotFound, ForbidHttpResult> (string id, ClaimsPrincipal user, DeviceRegistry registry, AuditLog audit, HttpContext http) =>
        {
            var caller = CallerScope.Of(user);
            // Decided before the lookup, so roles without a need learn nothing, not even whether the household exists.
            if (caller.Role is not (Roles.Admin or Roles.Operator or Roles.Worker)) return TypedResults.Forbid();
            if (registry.FindHousehold(id) is not { } household) return TypedResults.NotFound();
            if (caller.IsWorker && !caller.CanSee(household.Community, household.Grid)) return TypedResults.Forbid();
            if (registry.FindContact(id) is not { } contact) return TypedResults.NotFound();
            // Operators see that a contact exists and enough to confirm it with the worker on the phone, not enough to
            // dial it: calling the resident is the grid worker's (or leader's) job.
            var masked = caller.Role == Roles.Operator;
            // Who looked at a resident's phone number, and when: a reading of personal data is audited like a change.
            audit.Record(http, AuditKinds.Privacy, "contact_viewed", id, masked ? "masked" : "full");
            return TypedResults.Ok(masked ? Mask(contact) : View(contact, masked: false));
        }).WithName("GetHouseholdContact")
          .WithSummary("A household's contact: in full for admins and the workers and leader of its grid, masked for operators.");

        api.MapPut("/households/{id}/contact", Results<Ok<ContactView>, NotFound, ValidationProblem> (
            string id, ContactRequest request, ClaimsPrincipal user, DeviceRegistry registry, ILoggerFactory logs, AuditLog audit, HttpContext http) =>
        {
            if (registry.FindHousehold(id) is null) return TypedResults.NotFound();
            var errors = Validate(request);
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
            var contact = new HouseholdContact(id, [.. request.Residents!.Select(n => n.Trim())], Clean(request.Phone),
                Clean(request.EmergencyName), Clean(request.EmergencyPhone));
            registry.SetContact(contact);
            audit.Record(http, AuditKinds.Privacy, "contact_changed", id);
            // The event, never the data: names and numbers stay out of logs.
            logs.CreateLogger(typeof(HouseholdPrivacyApi).FullName!).LogInformation(ContactChanged,
                "Household contact changed: {Household} by {Admin}", id, CallerScope.Of(user).User);
            return TypedResults.Ok(View(contact, masked: false));
        }).RequireAuthorization(CockpitPolicies.Admin).WithName("SetHouseholdContact")
          .WithSummary("Sets a household's contact: residents' names, phone, emergency contact (admin).");

        api.MapGet("/households/{id}/export", async Task<Results<EmptyHttpResult, NotFound>> (
            string id, HttpContext http, ClaimsPrincipal user, DeviceRegistry registry, IHouseholdDataStore store,
            IOptions<JsonOptions> json, TimeProvider time, ILoggerFactory logs, AuditLog audit, CancellationToken ct) =>
        {
            if (registry.FindHousehold(id) is not { } household) return TypedResults.NotFound();
            var devices = registry.DevicesOf(id);
            var scope = new HouseholdScope(id, [.. devices.Select(d => d.Id)]);
            var options = json.Value.SerializerOptions;
            http.Response.ContentType = "application/json; charset=utf-8";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"household-{SafeName(id)}.json\"";
            http.Response.Headers.CacheControl = "no-store";

            long readings = 0;
            // Over the response's pipe: the serializer's own flushes only hand bytes to the pipe, and the pipe is sent
            // every 32 KiB, so a household with years of readings streams without being held whole in memory.
            var body = http.Response.BodyWriter;
            await using (var writer = new Utf8JsonWriter(body))
            {
                writer.WriteStartObject();
                writer.WriteString("exported_at", time.GetUtcNow());
                Write(writer, "household", household, options);
                Write(writer, "contact", registry.FindContact(id) is { } contact ? View(contact, masked: false) : null, options);
                Write(writer, "devices", devices, options);
                Write(writer, "away", registry.AwaySpellsOf(id), options);
                Write(writer, "alerts", await store.HouseholdAlertsAsync(scope, ct), options);
                writer.WriteStartArray("dead_letters");
                await foreach (var letter in store.HouseholdDeadLettersAsync(scope, ct))
                {
                    JsonSerializer.Serialize(writer, letter, options);
                    await SendIfFullAsync(writer, body, ct);
                }
                writer.WriteEndArray();
                // Readings last: the big part, streamed from the store page by page and flushed as it goes.
                writer.WriteStartArray("readings");
                await foreach (var reading in store.HouseholdReadingsAsync(scope, ct))
                {
                    JsonSerializer.Serialize(writer, reading, options);
                    readings++;
                    await SendIfFullAsync(writer, body, ct);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
                writer.Flush();
            }
            await body.FlushAsync(ct);
            audit.Record(http, AuditKinds.Privacy, "household_exported", id, $"{readings} readings");
            logs.CreateLogger(typeof(HouseholdPrivacyApi).FullName!).LogInformation(HouseholdExported,
                "Household exported: {Household} by {Admin}, {Readings} readings", id, CallerScope.Of(user).User, readings);
            return TypedResults.Empty;
        }).RequireAuthorization(CockpitPolicies.Admin).WithName("ExportHousehold")
          .WithSummary("One household's data as one JSON document: household, contact, devices, away spells, alerts with their actions, dead letters, readings (admin).");

        api.MapDelete("/households/{id}", async Task<Results<Ok<HouseholdErasureReport>, ProblemHttpResult>> (
            string id, ClaimsPrincipal user, DeviceRegistry registry, IHouseholdDataStore store, StoreWriter writer, AlertBook alerts,
            ILoggerFactory logs, AuditLog audit, HttpContext http, CancellationToken ct) =>
        {
            var logger = logs.CreateLogger(typeof(HouseholdPrivacyApi).FullName!);
            var admin = CallerScope.Of(user).User;
            // Any id, registered or not: data can outlive a registry entry (a meter's payload names its household).
            var scope = new HouseholdScope(id, [.. registry.DevicesOf(id).Select(d => d.Id)]);
            int spooled;
            HouseholdErasure erased;
            try
            {
                // Alerts book first (it takes no change meanwhile), then the spool and the store under the writer's gate.
                ((spooled, erased), _) = await alerts.EraseHouseholdAsync(scope,
                    token => writer.EraseHouseholdAsync(scope, t => store.EraseHouseholdAsync(scope, t), token), ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The registry is left as it was, so a retry finds the same devices; the spool's part already stands.
                logger.LogError(ex, "Household erasure of {Household} by {Admin} failed in the store; nothing removed from the registry", id, admin);
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The store could not erase the household",
                    detail: "Nothing was removed from the registry; readings waiting in the spool will not reach the store. Retry when the store is back.");
            }
            var (registered, contact, away, unassigned) = registry.EraseHousehold(id);
            var report = new HouseholdErasureReport(id, registered, contact, away, unassigned, erased.Readings, spooled, erased.DeadLetters, erased.Alerts);
            logger.LogInformation(HouseholdErased,
                "Household erased: {Household} by {Admin}: {Readings} readings, {SpooledReadings} spooled readings, {DeadLetters} dead letters, {Alerts} alerts, {AwaySpells} away spells, contact {Contact}, {DevicesUnassigned} devices unassigned",
                id, admin, report.Readings, report.SpooledReadings, report.DeadLetters, report.Alerts, report.AwaySpells, report.Contact, report.DevicesUnassigned);
            audit.Record(http, AuditKinds.Privacy, "household_erased", id,
                $"{report.Readings} readings, {report.SpooledReadings} spooled, {report.DeadLetters} dead letters, {report.Alerts} alerts");
            return TypedResults.Ok(report);
        }).RequireAuthorization(CockpitPolicies.Admin).WithName("EraseHousehold")
          .WithSummary("Erases one household: readings (store and spool), dead letters, alerts, contact, away spells, registry entry; devices stay, unassigned (admin).");
        return api;
    }

    /// <summary>张桂兰 → 张**, 13812345678 → 138****5678: enough to confirm on the phone, not to dial.</summary>
    public static ContactView Mask(HouseholdContact contact) => new(
        contact.Household, [.. contact.Residents.Select(MaskName)], MaskPhone(contact.Phone),
        contact.EmergencyName is null ? null : MaskName(contact.EmergencyName), MaskPhone(contact.EmergencyPhone), Masked: true);

    public static string MaskName(string name)
    {
        var letters = System.Globalization.StringInfo.ParseCombiningCharacters(name);
        if (letters.Length <= 1) return "*";
        return name[..letters[1]] + new string('*', letters.Length - 1);
    }

    public static string? MaskPhone(string? phone)
    {
        if (phone is null) return null;
        var digits = phone.Count(char.IsAsciiDigit);
        // Keep the first 3 and last 4 digits of a mobile number; of a shorter number only the last 2.
        var (head, tail) = digits >= 11 ? (3, 4) : (0, Math.Min(2, digits));
        var seen = 0;
        return string.Concat(phone.Select(c =>
        {
            if (!char.IsAsciiDigit(c)) return c;
            seen++;
            return seen <= head || seen > digits - tail ? c : '*';
        }));
    }

    private static ContactView View(HouseholdContact contact, bool masked) =>
        new(contact.Household, contact.Residents, contact.Phone, contact.EmergencyName, contact.EmergencyPhone, masked);

    private static Dictionary<string, string[]> Validate(ContactRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.Residents is not { Count: > 0 and <= MaxResidents } residents
            || residents.Any(n => string.IsNullOrWhiteSpace(n) || n.Trim().Length > MaxNameLength || n.Any(char.IsControl)))
        {
            errors["residents"] = [$"1 to {MaxResidents} names, each 1 to {MaxNameLength} characters"];
        }
        if (!IsPhone(request.Phone)) errors["phone"] = [$"a phone number: digits, spaces, +, -, ( ), at most {MaxPhoneLength} characters"];
        if (!IsPhone(request.EmergencyPhone)) errors["emergency_phone"] = [$"a phone number: digits, spaces, +, -, ( ), at most {MaxPhoneLength} characters"];
        if (request.EmergencyName is { } name && (name.Trim().Length > MaxNameLength || name.Any(char.IsControl)))
        {
            errors["emergency_name"] = [$"at most {MaxNameLength} characters"];
        }
        return errors;
    }

    private static bool IsPhone(string? phone) =>
        string.IsNullOrWhiteSpace(phone)
        || (phone.Trim().Length <= MaxPhoneLength && phone.Any(char.IsAsciiDigit) && phone.All(c => char.IsAsciiDigit(c) || c is ' ' or '+' or '-' or '(' or ')'));

    private static string? Clean(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static void Write<T>(Utf8JsonWriter writer, string name, T value, JsonSerializerOptions options)
    {
        writer.WritePropertyName(name);
        JsonSerializer.Serialize(writer, value, options);
    }

    private static async ValueTask SendIfFullAsync(Utf8JsonWriter writer, System.IO.Pipelines.PipeWriter body, CancellationToken ct)
    {
        writer.Flush();
        if (!body.CanGetUnflushedBytes || body.UnflushedBytes > 32 * 1024) await body.FlushAsync(ct);
    }

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
