"""Deal definitions: the TOML deal file validated into frozen structure models."""
