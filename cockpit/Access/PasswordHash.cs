namespace Sensing.Cockpit.Access;

/// <summary>
/// The cockpit's name for <see cref="Sensing.Telemetry.PasswordHash"/>, which moved to the model so the embedded
/// broker hashes device credentials the same way (issue 9). Same format, same hashes.
/// </summary>
public static class PasswordHash
{
    public static string Create(string password) => Sensing.Telemetry.PasswordHash.Create(password);

    public static bool Verify(string password, string encoded) => Sensing.Telemetry.PasswordHash.Verify(password, encoded);
}
