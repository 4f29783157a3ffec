"""Device profiles, one TOML file per target, shipped as package data (edge_monitor.profiles)."""
