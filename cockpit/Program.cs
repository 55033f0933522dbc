// Sensing: one process runs the embedded MQTT broker, ingest, the store, analytics, the demo feed and the
// cockpit. See README.md for configuration; CockpitHost.cs for how the stages are composed.
Sensing.Cockpit.CockpitHost.Build(args).Run();
