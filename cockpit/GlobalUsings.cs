global using Sensing.Telemetry;
