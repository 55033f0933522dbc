using System.Buffers.Binary;

namespace Sensing.Browser.Tests;

/// <summary>
/// Where the tests leave files for people to look at: <c>tests/artifacts/</c> of the checkout (git-ignored; CI keeps
/// the folder), or <c>SENSING_ARTIFACTS</c>.
/// </summary>
public static class Artifacts
{
    public static string Directory { get; } = Find();

    public static string PathOf(string fileName)
    {
        System.IO.Directory.CreateDirectory(Directory);
        return Path.Combine(Directory, fileName);
    }

    /// <summary>Width and height from a PNG's header (the IHDR chunk right after the signature).</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        Span<byte> header = stackalloc byte[24];
        using (var file = File.OpenRead(path)) file.ReadExactly(header);
        Assert.True(header[..8].SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }), $"{path} is not a PNG");
        return (BinaryPrimitives.ReadInt32BigEndian(header[16..]), BinaryPrimitives.ReadInt32BigEndian(header[20..]));
    }

    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("SENSING_ARTIFACTS") is { Length: > 0 } configured) return Path.GetFullPath(configured);
        // From bin/Debug/net10.0 up to the folder that holds the solution.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sensing.sln"))) return Path.Combine(dir.FullName, "tests", "artifacts");
        }
        return Path.Combine(AppContext.BaseDirectory, "artifacts");
    }
}
