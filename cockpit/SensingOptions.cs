using System.ComponentModel.DataAnnotations;

namespace Sensing.Cockpit;

/// <summary>
/// Section <c>Sensing</c>: <c>"Sensing": { "TimeZone": "Asia/Shanghai" }</c>. The time zone decides what
/// "today" means on tiles; stored times are always UTC.
/// </summary>
public sealed class SensingOptions : IValidatableObject
{
    public const string Section = "Sensing";

    [Required] public string TimeZone { get; set; } = "Asia/Shanghai";

    public TimeZoneInfo Zone => TimeZoneInfo.FindSystemTimeZoneById(TimeZone);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(TimeZone, out _))
        {
            yield return new ValidationResult($"Sensing:TimeZone '{TimeZone}' is not a known IANA time zone on this machine (is tzdata installed?)", [nameof(TimeZone)]);
        }
    }
}
