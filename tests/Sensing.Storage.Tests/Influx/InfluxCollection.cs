using Sensing.Testing;

namespace Sensing.Storage.Tests.Influx;

/// <summary>The test classes that share one influxd (xUnit runs a collection's classes one after another).</summary>
[CollectionDefinition(Name)]
public sealed class InfluxCollection : ICollectionFixture<InfluxServer>
{
    public const string Name = "influxd";
}
